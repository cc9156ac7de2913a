#include "eval/prediction.h"

#include <cmath>
#include <unordered_map>

#include "eval/score.h"

namespace cartlm {

namespace {

std::string quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Like the dataset reader, ids may be written as strings or integers.
Status read_id(const json& v, std::string& out) {
  auto it = v.find("id");
  if (it == v.end()) return error("missing field 'id'");
  if (it->is_string()) out = it->get<std::string>();
  else if (it->is_number_integer()) out = std::to_string(it->get<long long>());
  else return error("field 'id' must be a string or an integer");
  if (out.empty()) return error("field 'id' is empty");
  return {};
}

}  // namespace

std::string prediction_to_json_line(const Prediction& p) {
  using ojson = nlohmann::ordered_json;
  ojson j;
  j["id"] = p.id;
  j["output"] = p.output;
  OutputCheck c = check_output(p.output);
  if (c.parsed) {
    j["parsed"] = {{"action", c.parsed->action},
                   {"product", c.parsed->product},
                   {"quantity", c.parsed->quantity}};
  } else {
    j["parsed"] = nullptr;
  }
  if (p.latency_ms && std::isfinite(*p.latency_ms)) j["latency_ms"] = *p.latency_ms;
  else j["latency_ms"] = nullptr;
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

Result<Prediction> prediction_from_json(const json& v) {
  if (!v.is_object()) return error("expected a JSON object");
  Prediction p;
  CARTLM_RETURN_IF_ERROR(read_id(v, p.id));
  auto out = v.find("output");
  if (out == v.end()) return error("missing field 'output'");
  if (!out->is_string()) return error("field 'output' must be a string (the raw model text)");
  p.output = out->get<std::string>();
  auto lat = v.find("latency_ms");
  if (lat != v.end() && !lat->is_null()) {
    if (!lat->is_number()) return error("field 'latency_ms' must be a number or null");
    p.latency_ms = lat->get<double>();
  }
  return p;
}

Result<std::vector<Prediction>> read_predictions(const std::string& path) {
  std::vector<Prediction> out;
  std::unordered_map<std::string, size_t> first_line;
  CARTLM_RETURN_IF_ERROR(for_each_jsonl(path, [&](const json& v, size_t line) -> Status {
    CARTLM_ASSIGN_OR_RETURN(Prediction p, prediction_from_json(v));
    auto [it, fresh] = first_line.emplace(p.id, line);
    if (!fresh)
      return error("duplicate id " + quote(p.id) + " (first on line " +
                   std::to_string(it->second) + ")");
    out.push_back(std::move(p));
    return {};
  }));
  return out;
}

Status write_predictions(const std::string& path, const std::vector<Prediction>& preds) {
  return write_lines_atomic(path, preds.size(),
                            [&](size_t i) { return prediction_to_json_line(preds[i]); });
}

Result<std::vector<Example>> read_gold(const std::string& path) {
  std::vector<Example> out;
  std::unordered_map<std::string, size_t> first_line;
  CARTLM_RETURN_IF_ERROR(for_each_jsonl(path, [&](const json& v, size_t line) -> Status {
    CARTLM_ASSIGN_OR_RETURN(Example ex, example_from_json(v));
    if (ex.id.empty()) return error("missing or empty field 'id' (scoring matches predictions by id)");
    auto [it, fresh] = first_line.emplace(ex.id, line);
    if (!fresh)
      return error("duplicate id " + quote(ex.id) + " (first on line " +
                   std::to_string(it->second) + ")");
    out.push_back(std::move(ex));
    return {};
  }));
  if (out.empty()) return error(path + ": no examples");
  return out;
}

}  // namespace cartlm
