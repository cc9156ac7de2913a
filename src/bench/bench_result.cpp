#include "bench/bench_result.h"

#include <algorithm>
#include <filesystem>

#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm {

const std::vector<MetricDef>& bench_metrics() {
  static const std::vector<MetricDef> kMetrics = {
      {"load_s", "load time", "s", &BenchRun::load_s, false},
      {"model_bytes", "model size", "bytes", &BenchRun::model_bytes, false},
      {"weight_bytes", "weights", "bytes", &BenchRun::weight_bytes, false},
      {"peak_rss_bytes", "peak RSS", "bytes", &BenchRun::peak_rss_bytes, false},
      {"prefill_tps", "prefill", "tokens/s", &BenchRun::prefill_tps, true},
      {"decode_tps", "decode", "tokens/s", &BenchRun::decode_tps, true},
      {"latency_p50_ms", "intent p50", "ms", &BenchRun::latency_p50_ms, false},
      {"latency_p95_ms", "intent p95", "ms", &BenchRun::latency_p95_ms, false},
      {"intents_per_s", "intents/s", "1/s", &BenchRun::intents_per_s, true},
      {"forward_passes_per_intent", "forward passes/intent", "", &BenchRun::forward_passes_per_intent,
       false},
      {"generated_tokens_per_intent", "generated tokens/intent", "",
       &BenchRun::generated_tokens_per_intent, false},
      {"energy_j_per_token", "energy/token", "J", &BenchRun::energy_j_per_token, false},
      {"energy_j_per_intent", "energy/intent", "J", &BenchRun::energy_j_per_intent, false},
  };
  return kMetrics;
}

const MetricDef* find_metric(const std::string& key) {
  for (const MetricDef& m : bench_metrics())
    if (key == m.key) return &m;
  return nullptr;
}

static json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json bench_run_to_json(const BenchRun& r) {
  json j = json::object();
  j["variant"] = r.variant;
  j["path"] = r.path;
  j["weight_type"] = r.weight_type;
  j["decode"] = r.decode;
  j["threads"] = r.threads;
  for (const MetricDef& m : bench_metrics()) j[m.key] = num(r.*m.field);
  j["energy_note"] = r.energy_note;
  j["eval"] = {{"n", r.eval_n}, {"correct", r.eval_correct}, {"valid", r.eval_valid}};
  return j;
}

Result<BenchRun> bench_run_from_json(const json& j, const std::string& label) {
  if (!j.is_object()) return error(label + ": a bench run must be a JSON object");
  BenchRun r;
  auto get_str = [&](const char* key, std::string& out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_string()) return error(label + ": field '" + key + "' must be a string");
    out = it->get<std::string>();
    return {};
  };
  CARTLM_RETURN_IF_ERROR(get_str("variant", r.variant));
  CARTLM_RETURN_IF_ERROR(get_str("path", r.path));
  CARTLM_RETURN_IF_ERROR(get_str("weight_type", r.weight_type));
  CARTLM_RETURN_IF_ERROR(get_str("decode", r.decode));
  CARTLM_RETURN_IF_ERROR(get_str("energy_note", r.energy_note));
  if (r.variant.empty()) return error(label + ": field 'variant' is missing or empty");
  if (auto it = j.find("threads"); it != j.end() && it->is_number_integer())
    r.threads = it->get<int>();
  for (const MetricDef& m : bench_metrics()) {
    auto it = j.find(m.key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_number()) return error(label + ": field '" + m.key + "' must be a number or null");
    r.*m.field = it->get<double>();
  }
  auto ev = j.find("eval");
  if (ev != j.end() && !ev->is_null()) {
    if (!ev->is_object()) return error(label + ": field 'eval' must be an object");
    for (auto [key, dst] : {std::pair<const char*, size_t*>{"n", &r.eval_n},
                            {"correct", &r.eval_correct},
                            {"valid", &r.eval_valid}}) {
      auto it = ev->find(key);
      if (it == ev->end()) continue;
      if (!it->is_number_unsigned())
        return error(label + ": field 'eval." + key + "' must be a non-negative integer");
      *dst = it->get<size_t>();
    }
    if (r.eval_correct > r.eval_n || r.eval_valid > r.eval_n)
      return error(label + ": eval.correct/eval.valid exceed eval.n");
  }
  return r;
}

const Stat& VariantResult::stat(const std::string& key) const {
  for (const auto& [k, s] : stats)
    if (k == key) return s;
  CARTLM_CHECK(false && "unknown metric key");
  return stats.front().second;
}

VariantResult summarize_variant(const std::vector<BenchRun>& runs) {
  CARTLM_CHECK(!runs.empty());
  VariantResult v;
  const BenchRun& first = runs.front();
  v.name = first.variant;
  v.path = first.path;
  v.weight_type = first.weight_type;
  v.decode = first.decode;
  v.runs = runs;
  v.eval_n = first.eval_n;
  v.eval_correct = first.eval_correct;
  v.eval_valid = first.eval_valid;
  v.accuracy = v.eval_n ? static_cast<double>(v.eval_correct) / v.eval_n : NAN;
  v.ci95 = wilson_interval(v.eval_correct, v.eval_n);
  v.energy_note = first.energy_note;
  for (const MetricDef& m : bench_metrics()) {
    std::vector<double> vals;
    for (const BenchRun& r : runs) vals.push_back(r.*m.field);
    v.stats.push_back({m.key, summarize(vals)});
  }
  return v;
}

json bench_to_json(const BenchFile& b) {
  json j = json::object();
  j["version"] = b.version;
  j["data"] = b.data;
  j["reps"] = b.reps;
  json vars = json::array();
  for (const VariantResult& v : b.variants) {
    json jv = json::object();
    jv["name"] = v.name;
    jv["path"] = v.path;
    jv["weight_type"] = v.weight_type;
    jv["decode"] = v.decode;
    jv["accuracy"] = num(v.accuracy);
    jv["ci95"] = {v.ci95.lo, v.ci95.hi};
    jv["eval"] = {{"n", v.eval_n}, {"correct", v.eval_correct}, {"valid", v.eval_valid}};
    jv["energy_note"] = v.energy_note;
    json stats = json::object();
    for (const auto& [key, s] : v.stats)
      stats[key] = {{"median", num(s.median)}, {"q1", num(s.q1)}, {"q3", num(s.q3)},
                    {"min", num(s.min)},       {"max", num(s.max)}, {"n", s.n}};
    jv["stats"] = stats;
    json runs = json::array();
    for (const BenchRun& r : v.runs) runs.push_back(bench_run_to_json(r));
    jv["runs"] = runs;
    vars.push_back(jv);
  }
  j["variants"] = vars;
  return j;
}

Result<BenchFile> bench_from_json_text(std::string_view text, const std::string& label) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error(label + ": not valid JSON");
  if (!j.is_object()) return error(label + ": expected a JSON object");
  BenchFile b;
  if (auto it = j.find("data"); it != j.end() && it->is_string()) b.data = it->get<std::string>();
  if (auto it = j.find("reps"); it != j.end() && it->is_number_integer()) b.reps = it->get<int>();
  auto vars = j.find("variants");
  if (vars == j.end() || !vars->is_array())
    return error(label + ": field 'variants' is missing or not an array");
  for (size_t i = 0; i < vars->size(); ++i) {
    const json& jv = (*vars)[i];
    std::string where = strformat("%s: variants[%zu]", label.c_str(), i);
    if (!jv.is_object()) return error(where + " is not an object");
    auto runs = jv.find("runs");
    if (runs == jv.end() || !runs->is_array() || runs->empty())
      return error(where + ": field 'runs' is missing or empty");
    std::vector<BenchRun> rs;
    for (size_t k = 0; k < runs->size(); ++k) {
      CARTLM_ASSIGN_OR_RETURN(BenchRun r,
                              bench_run_from_json((*runs)[k], strformat("%s.runs[%zu]", where.c_str(), k)));
      rs.push_back(std::move(r));
    }
    b.variants.push_back(summarize_variant(rs));
  }
  return b;
}

static std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return "\"" + replace_all(s, "\"", "\"\"") + "\"";
}
static std::string csv_num(double v) { return std::isfinite(v) ? strformat("%.6g", v) : ""; }

std::string bench_to_csv(const BenchFile& b) {
  std::string out = "variant,weight_type,decode,reps,eval_n,eval_correct,accuracy,ci95_lo,ci95_hi";
  for (const MetricDef& m : bench_metrics())
    out += strformat(",%s_median,%s_min,%s_max", m.key, m.key, m.key);
  out += "\n";
  for (const VariantResult& v : b.variants) {
    out += csv_field(v.name) + "," + csv_field(v.weight_type) + "," + csv_field(v.decode) + "," +
           std::to_string(v.runs.size()) + "," + std::to_string(v.eval_n) + "," +
           std::to_string(v.eval_correct) + "," + csv_num(v.accuracy) + "," +
           csv_num(v.ci95.lo) + "," + csv_num(v.ci95.hi);
    for (const auto& [key, s] : v.stats)
      out += "," + csv_num(s.median) + "," + csv_num(s.min) + "," + csv_num(s.max);
    out += "\n";
  }
  return out;
}

Status write_bench_files(const std::string& dir, const BenchFile& b) {
  CARTLM_RETURN_IF_ERROR(ensure_dir(dir));
  CARTLM_RETURN_IF_ERROR(write_file_atomic(
      join_path(dir, "bench.json"),
      bench_to_json(b).dump(2, ' ', false, json::error_handler_t::replace) + "\n"));
  return write_file_atomic(join_path(dir, "bench.csv"), bench_to_csv(b));
}

Result<EvalEntry> eval_entry_from_report(const std::string& path, const std::string& variant,
                                         const std::string& mode) {
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error(path + ": not a JSON object");
  EvalEntry e;
  e.variant = variant;
  e.mode = mode;
  auto n = j.find("n"), c = j.find("correct");
  if (n == j.end() || !n->is_number_unsigned() || c == j.end() || !c->is_number_unsigned())
    return error(path + ": fields 'n' and 'correct' must be non-negative integers");
  e.n = n->get<size_t>();
  e.correct = c->get<size_t>();
  if (e.correct > e.n) return error(path + ": 'correct' exceeds 'n'");
  e.accuracy = e.n ? static_cast<double>(e.correct) / e.n : NAN;
  e.ci95 = wilson_interval(e.correct, e.n);
  if (auto v = j.find("valid_rate"); v != j.end() && v->is_number()) e.valid_rate = v->get<double>();
  return e;
}

Result<std::vector<EvalEntry>> collect_eval_entries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<EvalEntry> out;
  std::error_code ec;
  std::vector<std::string> names;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
    if (it->is_directory()) names.push_back(it->path().filename().string());
  if (ec) return error("cannot list eval directory '" + dir + "': " + ec.message());
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    size_t dash = name.rfind('-');
    if (dash == std::string::npos || dash == 0) continue;
    std::string report = join_path(join_path(dir, name), "report.json");
    if (!file_exists(report)) continue;
    CARTLM_ASSIGN_OR_RETURN(EvalEntry e,
                            eval_entry_from_report(report, name.substr(0, dash), name.substr(dash + 1)));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace cartlm
