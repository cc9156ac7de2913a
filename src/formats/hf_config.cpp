#include "formats/hf_config.h"

#include <cmath>
#include <limits>

#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm {

namespace {

// Short rendering of a bad value for messages.
std::string shown(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

bool get_int(const json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > (uint64_t)std::numeric_limits<int64_t>::max()) return false;
    *out = (int64_t)u;
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  return false;
}

// Reads one rope-scaling object, in either the rope_scaling or the rope_parameters form (the
// latter also carries rope_theta). `key` names it in messages.
Status parse_rope_object(const json& r, const std::string& key, const std::string& source,
                         RopeScaling* out, double* rope_theta) {
  auto fail = [&](const std::string& msg) { return error(source + ": " + key + msg); };
  if (!r.is_object()) return fail(" must be an object or null, got " + shown(r));
  std::string type = "default";
  for (const char* k : {"rope_type", "type"}) {
    auto it = r.find(k);
    if (it != r.end() && !it->is_null()) {
      if (!it->is_string()) return fail(std::string(".") + k + " must be a string");
      type = it->get<std::string>();
      break;
    }
  }
  auto number = [&](const char* k, double* v, bool required) -> Status {
    auto it = r.find(k);
    if (it == r.end() || it->is_null()) {
      if (required) return fail(std::string(": missing key ") + k + " for rope_type " + type);
      return {};
    }
    if (!it->is_number())
      return fail(std::string(".") + k + " must be a number, got " + shown(*it));
    *v = it->get<double>();
    return {};
  };
  if (rope_theta) CARTLM_RETURN_IF_ERROR(number("rope_theta", rope_theta, false));
  RopeScaling rs;
  if (type == "default") {
    rs.type = RopeScalingType::None;
  } else if (type == "linear") {
    rs.type = RopeScalingType::Linear;
    CARTLM_RETURN_IF_ERROR(number("factor", &rs.factor, true));
  } else if (type == "llama3") {
    rs.type = RopeScalingType::Llama3;
    CARTLM_RETURN_IF_ERROR(number("factor", &rs.factor, true));
    CARTLM_RETURN_IF_ERROR(number("low_freq_factor", &rs.low_freq_factor, true));
    CARTLM_RETURN_IF_ERROR(number("high_freq_factor", &rs.high_freq_factor, true));
    auto it = r.find("original_max_position_embeddings");
    if (it == r.end() || !get_int(*it, &rs.original_max_position_embeddings))
      return fail(".original_max_position_embeddings must be an integer");
  } else {
    return fail(".rope_type \"" + type + "\" is not supported; hint: cartlm supports default, "
                "llama3 and linear");
  }
  *out = rs;
  return {};
}

// Reads each visit_fields entry from the JSON object, leaving defaults for absent or null keys.
struct JsonReader {
  const json& j;
  const std::string& source;
  Status status;

  const json* find(const FieldInfo& f) {
    auto it = j.find(f.hf_key);
    if (it == j.end() || it->is_null()) {
      if (f.required && status.ok()) status = error(source + ": missing key " + f.hf_key);
      return nullptr;
    }
    return &*it;
  }
  void fail(const FieldInfo& f, const char* what, const json& v) {
    if (status.ok())
      status = error(source + ": " + f.hf_key + " must be " + what + ", got " + shown(v));
  }

  void operator()(const FieldInfo&, Arch&) {}  // decided before the visit (it picks defaults)
  void operator()(const FieldInfo& f, int64_t& out) {
    if (const json* v = find(f))
      if (!get_int(*v, &out)) fail(f, "an integer", *v);
  }
  void operator()(const FieldInfo& f, double& out) {
    if (const json* v = find(f)) {
      if (v->is_number()) out = v->get<double>();
      else fail(f, "a number", *v);
    }
  }
  void operator()(const FieldInfo& f, bool& out) {
    if (const json* v = find(f)) {
      if (v->is_boolean()) out = v->get<bool>();
      else fail(f, "true or false", *v);
    }
  }
  void operator()(const FieldInfo& f, std::string& out) {
    if (const json* v = find(f)) {
      if (v->is_string()) out = v->get<std::string>();
      else fail(f, "a string", *v);
    }
  }
  void operator()(const FieldInfo& f, std::optional<int64_t>& out) {
    auto it = j.find(f.hf_key);
    if (it == j.end()) return;
    if (it->is_null()) {
      out.reset();
      return;
    }
    int64_t x;
    if (get_int(*it, &x)) out = x;
    else fail(f, "an integer or null", *it);
  }
  void operator()(const FieldInfo& f, std::vector<int64_t>& out) {
    auto it = j.find(f.hf_key);
    if (it == j.end()) return;
    out.clear();
    if (it->is_null()) return;
    int64_t x;
    if (get_int(*it, &x)) {
      out.push_back(x);
      return;
    }
    if (!it->is_array()) return fail(f, "an integer or a list of integers", *it);
    for (const json& e : *it) {
      if (!get_int(e, &x)) return fail(f, "an integer or a list of integers", *it);
      out.push_back(x);
    }
  }
  void operator()(const FieldInfo& f, RopeScaling& out) {
    auto it = j.find(f.hf_key);
    if (it == j.end() || it->is_null()) return;
    if (status.ok()) status = parse_rope_object(*it, f.hf_key, source, &out, nullptr);
  }
};

Result<Arch> detect_arch(const json& j, const std::string& source) {
  std::string name;
  auto mt = j.find("model_type");
  if (mt != j.end() && mt->is_string()) {
    name = mt->get<std::string>();
  } else {
    auto ar = j.find("architectures");
    if (ar != j.end() && ar->is_array() && !ar->empty() && (*ar)[0].is_string())
      name = (*ar)[0].get<std::string>();
  }
  if (name.empty())
    return error(source + ": missing key model_type (and no \"architectures\" list)");
  auto arch = arch_from_name(name);
  if (!arch)
    return error(source + ": model_type \"" + name + "\" is not supported; hint: cartlm "
                 "supports llama (Llama 3.x, SmolLM2, TinyLlama) and qwen2 (Qwen2/2.5)");
  return *arch;
}

}  // namespace

Result<Config> parse_hf_config(const json& j, const std::string& source) {
  if (!j.is_object()) return error(source + ": expected a JSON object at the top level");
  CARTLM_ASSIGN_OR_RETURN(Arch arch, detect_arch(j, source));
  Config c = default_config(arch);
  JsonReader reader{j, source, {}};
  visit_fields(reader, c);
  CARTLM_RETURN_IF_ERROR(reader.status);

  // Keys outside the field list that change meaning: reject what cartlm cannot run correctly
  // rather than silently computing something else.
  auto act = j.find("hidden_act");
  if (act != j.end() && !(act->is_string() && act->get<std::string>() == "silu"))
    return error(source + ": hidden_act " + shown(*act) + " is not supported (only \"silu\")");
  auto sw = j.find("use_sliding_window");
  if (sw != j.end() && sw->is_boolean() && sw->get<bool>())
    return error(source + ": use_sliding_window true is not supported");
  // transformers >= 4.56 writes "dtype" instead of "torch_dtype".
  auto dt = j.find("dtype");
  if (c.torch_dtype.empty() && dt != j.end() && dt->is_string())
    c.torch_dtype = dt->get<std::string>();
  // Newer transformers put rope_theta and the scaling into one "rope_parameters" object.
  auto rp = j.find("rope_parameters");
  if (rp != j.end() && !rp->is_null())
    CARTLM_RETURN_IF_ERROR(
        parse_rope_object(*rp, "rope_parameters", source, &c.rope_scaling, &c.rope_theta));

  CARTLM_RETURN_IF_ERROR(finalize_config(c, source));
  return c;
}

Result<Config> parse_hf_config_text(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error(source + ": not valid JSON");
  return parse_hf_config(j, source);
}

Result<Config> load_hf_config(const std::string& path) {
  std::string file = path;
  if (!file_exists(file)) return error("cannot open '" + file + "': no such file or directory");
  if (!ends_with(file, ".json")) file = join_path(path, "config.json");
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(file));
  return parse_hf_config_text(text, file);
}

namespace {

struct JsonWriter {
  json& j;
  void operator()(const FieldInfo&, const Arch&) {}  // written as model_type + architectures
  void operator()(const FieldInfo& f, const int64_t& v) { j[f.hf_key] = v; }
  void operator()(const FieldInfo& f, const double& v) { j[f.hf_key] = v; }
  void operator()(const FieldInfo& f, const bool& v) { j[f.hf_key] = v; }
  void operator()(const FieldInfo& f, const std::string& v) {
    if (!v.empty()) j[f.hf_key] = v;
  }
  void operator()(const FieldInfo& f, const std::optional<int64_t>& v) {
    j[f.hf_key] = v ? json(*v) : json(nullptr);
  }
  void operator()(const FieldInfo& f, const std::vector<int64_t>& v) {
    if (v.empty()) j[f.hf_key] = nullptr;
    else if (v.size() == 1) j[f.hf_key] = v[0];
    else j[f.hf_key] = v;
  }
  void operator()(const FieldInfo& f, const RopeScaling& r) {
    if (r.type == RopeScalingType::None) {
      j[f.hf_key] = nullptr;
    } else if (r.type == RopeScalingType::Linear) {
      j[f.hf_key] = {{"rope_type", "linear"}, {"factor", r.factor}};
    } else {
      j[f.hf_key] = {{"rope_type", "llama3"},
                     {"factor", r.factor},
                     {"low_freq_factor", r.low_freq_factor},
                     {"high_freq_factor", r.high_freq_factor},
                     {"original_max_position_embeddings", r.original_max_position_embeddings}};
    }
  }
};

}  // namespace

json hf_config_to_json(const Config& c) {
  json j = json::object();
  j["architectures"] = json::array({arch_hf_class(c.arch)});
  j["model_type"] = arch_name(c.arch);
  j["hidden_act"] = "silu";
  JsonWriter writer{j};
  visit_fields(writer, c);
  if (c.arch == Arch::Qwen2) j["use_sliding_window"] = false;
  return j;
}

Status save_hf_config(const std::string& path, const Config& c) {
  std::string text = hf_config_to_json(c).dump(2, ' ', false, json::error_handler_t::replace);
  return write_file_atomic(path, text + "\n");
}

}  // namespace cartlm
