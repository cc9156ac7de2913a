// PEFT adapter directories: adapter_config.json and adapter_model.safetensors, plus moving a
// TrainModel's LoRA params in and out of them.
#include "train/adapter.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file_io.h"
#include "core/strings.h"
#include "kernels/kernels.h"
#include "model/weights.h"
#include "train/lora_model.h"

namespace cartlm {

using json = nlohmann::json;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

}  // namespace

const char* lora_site_peft_name(int site) {
  static const char* const kNames[kNumLoraSites] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                    "gate_proj", "up_proj", "down_proj"};
  CARTLM_CHECK(site >= 0 && site < kNumLoraSites);
  return kNames[site];
}

Result<uint32_t> parse_target_modules(const std::vector<std::string>& names) {
  uint32_t sites = 0;
  for (const std::string& raw : names) {
    if (raw == "all-linear") {
      sites = kLoraAllSites;
      continue;
    }
    // A dotted path ("model.layers.0.self_attn.q_proj", "mlp.up_proj") targets its last part.
    const size_t dot = raw.rfind('.');
    const std::string name = dot == std::string::npos ? raw : raw.substr(dot + 1);
    int found = -1;
    for (int s = 0; s < kNumLoraSites; ++s)
      if (name == lora_site_peft_name(s)) found = s;
    if (found < 0)
      return error("target module '" + raw +
                   "' is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
    sites |= 1u << found;
  }
  if (sites == 0) return error("no target modules");
  return sites;
}

Result<uint32_t> parse_lora_targets(const std::string& csv) {
  std::vector<std::string> names;
  for (std::string part : split(csv, ',')) {
    part = std::string(trim(part));
    if (part.empty()) continue;
    if (part == "all") {
      names.push_back("all-linear");
      continue;
    }
    if (part.find("_proj") == std::string::npos) part += "_proj";
    names.push_back(part);
  }
  auto r = parse_target_modules(names);
  if (!r.ok()) return error("--target: " + r.message());
  return r;
}

std::string peft_tensor_name(int64_t layer, int site, bool b) {
  return "base_model.model." + hf_layer_prefix(layer) + lora_site_module(site) +
         (b ? ".lora_B.weight" : ".lora_A.weight");
}

std::string peft_adapter_config_json(const PeftAdapterConfig& cfg) {
  const LoraConfig& l = cfg.lora;
  json targets = json::array();
  for (int s = 0; s < kNumLoraSites; ++s)
    if (l.has(s)) targets.push_back(lora_site_peft_name(s));
  json j;
  j["alpha_pattern"] = json::object();
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = cfg.base_model_name_or_path;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  // PEFT writes an integer alpha; keep that form when the value is one.
  if (l.alpha == std::floor(l.alpha) && std::fabs(l.alpha) < 1e15)
    j["lora_alpha"] = (int64_t)l.alpha;
  else
    j["lora_alpha"] = l.alpha;
  j["lora_dropout"] = l.dropout;
  j["modules_to_save"] = nullptr;
  j["peft_type"] = "LORA";
  j["r"] = l.rank;
  j["rank_pattern"] = json::object();
  j["revision"] = nullptr;
  j["target_modules"] = targets;
  j["task_type"] = "CAUSAL_LM";
  j["use_dora"] = false;
  j["use_rslora"] = l.use_rslora;
  return j.dump(2) + "\n";
}

Result<PeftAdapterConfig> load_peft_adapter_config(const std::string& dir) {
  const std::string path = join_path(dir, kConfigFile);
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return error(path + ": not a JSON object");
  auto bad = [&](const std::string& what) { return error(path + ": " + what); };
  auto is_set = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && !it->is_null() && !(it->is_object() && it->empty()) &&
           !(it->is_array() && it->empty()) && !(it->is_boolean() && !it->get<bool>());
  };
  if (!j.contains("peft_type") || !j["peft_type"].is_string() || j["peft_type"] != "LORA")
    return bad("peft_type must be \"LORA\"");
  PeftAdapterConfig cfg;
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0)
    return bad("r must be a positive integer");
  cfg.lora.rank = j["r"].get<int64_t>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number() ||
      !(j["lora_alpha"].get<double>() > 0.0))
    return bad("lora_alpha must be a positive number");
  cfg.lora.alpha = j["lora_alpha"].get<double>();
  if (j.contains("lora_dropout") && !j["lora_dropout"].is_null()) {
    if (!j["lora_dropout"].is_number()) return bad("lora_dropout must be a number");
    cfg.lora.dropout = j["lora_dropout"].get<double>();
    if (!(cfg.lora.dropout >= 0.0 && cfg.lora.dropout < 1.0))
      return bad("lora_dropout must be in [0, 1)");
  }
  if (j.contains("use_rslora") && !j["use_rslora"].is_null()) {
    if (!j["use_rslora"].is_boolean()) return bad("use_rslora must be true or false");
    cfg.lora.use_rslora = j["use_rslora"].get<bool>();
  }
  if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
    cfg.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
  if (!j.contains("target_modules")) return bad("missing key target_modules");
  const json& tm = j["target_modules"];
  std::vector<std::string> names;
  if (tm.is_string()) {
    if (tm.get<std::string>() != "all-linear")
      return bad("target_modules as a regex string is not supported (use a list)");
    names.push_back("all-linear");
  } else if (tm.is_array()) {
    for (const json& e : tm) {
      if (!e.is_string()) return bad("target_modules must be a list of strings");
      names.push_back(e.get<std::string>());
    }
  } else {
    return bad("target_modules must be a list of strings");
  }
  auto sites = parse_target_modules(names);
  if (!sites.ok()) return bad(sites.message());
  cfg.lora.sites = *sites;
  if (j.contains("bias") && !(j["bias"].is_string() && j["bias"] == "none"))
    return bad("bias must be \"none\" (bias training is not supported)");
  for (const char* key : {"use_dora", "fan_in_fan_out", "layers_to_transform", "rank_pattern",
                          "alpha_pattern", "modules_to_save"})
    if (is_set(key)) return bad(std::string(key) + " is not supported");
  return cfg;
}

const TensorView* PeftAdapter::find(int64_t layer, int site, bool b) const {
  const SafetensorsTensor* t = file.find(peft_tensor_name(layer, site, b));
  return t ? &t->view : nullptr;
}

Result<PeftAdapter> open_peft_adapter(const std::string& dir, const Config& c) {
  PeftAdapter a;
  CARTLM_ASSIGN_OR_RETURN(a.config, load_peft_adapter_config(dir));
  const std::string path = join_path(dir, kWeightsFile);
  if (!file_exists(path)) return error(path + ": missing file");
  CARTLM_ASSIGN_OR_RETURN(a.file, open_safetensors(path));
  const LoraConfig& l = a.config.lora;
  std::set<std::string> expected;
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer)
    for (int s = 0; s < kNumLoraSites; ++s) {
      if (!l.has(s)) continue;
      size_t in, out;
      lora_site_dims(c, s, &in, &out);
      for (bool b : {false, true}) {
        const std::string name = peft_tensor_name(layer, s, b);
        expected.insert(name);
        const TensorView* v = a.find(layer, s, b);
        if (!v) return error(path + ": missing tensor " + name);
        const std::vector<int64_t> want = b ? std::vector<int64_t>{(int64_t)out, l.rank}
                                            : std::vector<int64_t>{l.rank, (int64_t)in};
        if (v->shape != want)
          return error(strformat("%s: tensor %s has shape %s, expected %s", path.c_str(),
                                 name.c_str(), shape_str(v->shape).c_str(),
                                 shape_str(want).c_str()));
        if (!matmul_supports(v->dtype))
          return error(strformat("%s: tensor %s has dtype %s, expected F32, F16 or BF16",
                                 path.c_str(), name.c_str(), dtype_name(v->dtype)));
      }
    }
  for (const SafetensorsTensor& t : a.file.tensors)
    if (!expected.count(t.view.name))
      return error(path + ": unexpected tensor " + t.view.name +
                   " (not a LoRA A/B of a target module of this model)");
  return a;
}

// ---------------------------------------------------------------------------------------------
// TrainModel <-> adapter directory
// ---------------------------------------------------------------------------------------------

Status save_peft_adapter(const std::string& out_dir, const TrainModel<float>& m,
                         const std::string& base_path) {
  if (!m.opt.use_lora) return error("save_peft_adapter: the model has no LoRA adapters");
  CARTLM_RETURN_IF_ERROR(ensure_dir(out_dir));
  std::vector<TensorView> views;
  for (const ParamSlot& s : lora_slots(m.config, m.opt.lora)) {
    TensorView v;
    v.name = s.name;
    v.dtype = DType::F32;
    v.shape = s.shape;
    v.data = m.lora_memory.data() + s.offset;
    v.nbytes = (uint64_t)v.numel() * 4;
    views.push_back(std::move(v));
  }
  CARTLM_RETURN_IF_ERROR(write_safetensors(join_path(out_dir, kWeightsFile), views));
  PeftAdapterConfig cfg;
  cfg.lora = m.opt.lora;
  cfg.base_model_name_or_path = base_path;
  return write_file_atomic(join_path(out_dir, kConfigFile), peft_adapter_config_json(cfg));
}

Status load_peft_adapter(const std::string& adapter_dir, TrainModel<float>& m) {
  if (!m.opt.use_lora) return error("load_peft_adapter: the model was not created with LoRA");
  CARTLM_ASSIGN_OR_RETURN(PeftAdapter a, open_peft_adapter(adapter_dir, m.config));
  const LoraConfig& have = m.opt.lora;
  const LoraConfig& got = a.config.lora;
  const std::string where = join_path(adapter_dir, kConfigFile);
  if (got.rank != have.rank)
    return error(strformat("%s: r is %lld, the model was set up with rank %lld", where.c_str(),
                           (long long)got.rank, (long long)have.rank));
  if (got.sites != have.sites)
    return error(where + ": target_modules differ from the model's LoRA targets");
  for (const ParamSlot& s : lora_slots(m.config, have)) {
    const SafetensorsTensor* t = a.file.find(s.name);
    CARTLM_CHECK(t != nullptr);  // open_peft_adapter checked every expected name
    convert_to_f32(t->view.dtype, t->view.data, m.lora_memory.data() + s.offset,
                   (size_t)t->view.numel());
  }
  m.opt.lora.alpha = got.alpha;
  m.opt.lora.use_rslora = got.use_rslora;
  return {};
}

}  // namespace cartlm
