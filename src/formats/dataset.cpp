#include "formats/dataset.h"

namespace cartlm {

std::string label_to_json_text(const Label& l) {
  // dump() of a string gives the JSON-escaped form with quotes.
  return "{\"action\": " + json(l.action).dump() + ", \"product\": " +
         json(l.product).dump(-1, ' ', false, json::error_handler_t::replace) +
         ", \"quantity\": " + std::to_string(l.quantity) + "}";
}

json label_to_json(const Label& l) {
  json j = json::object();
  j["action"] = l.action;
  j["product"] = l.product;
  j["quantity"] = l.quantity;
  return j;
}

std::string example_to_json_line(const Example& ex) {
  nlohmann::ordered_json j;
  j["id"] = ex.id;
  j["lang"] = ex.lang;
  j["text"] = ex.text;
  j["label"] = {{"action", ex.label.action},
                {"product", ex.label.product},
                {"quantity", ex.label.quantity}};
  j["meta"] = nlohmann::ordered_json::parse(ex.meta.dump());
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<Example> example_from_json(const json& v) {
  if (!v.is_object()) return error("expected a JSON object");
  Example ex;
  auto get_string = [&](const json& obj, const char* key, std::string& out) -> Status {
    auto it = obj.find(key);
    if (it == obj.end()) return error(std::string("missing field '") + key + "'");
    if (!it->is_string()) return error(std::string("field '") + key + "' must be a string");
    out = it->get<std::string>();
    return {};
  };
  if (v.contains("id")) {
    const json& id = v["id"];
    if (id.is_string()) ex.id = id.get<std::string>();
    else if (id.is_number_integer()) ex.id = std::to_string(id.get<long long>());
    else return error("field 'id' must be a string or an integer");
  }
  CARTLM_RETURN_IF_ERROR(get_string(v, "text", ex.text));
  if (v.contains("lang")) CARTLM_RETURN_IF_ERROR(get_string(v, "lang", ex.lang));
  auto it = v.find("label");
  if (it == v.end()) return error("missing field 'label'");
  if (!it->is_object()) return error("field 'label' must be an object");
  CARTLM_RETURN_IF_ERROR(get_string(*it, "action", ex.label.action).with_context("label"));
  CARTLM_RETURN_IF_ERROR(get_string(*it, "product", ex.label.product).with_context("label"));
  auto q = it->find("quantity");
  if (q == it->end()) return error("label: missing field 'quantity'");
  if (!q->is_number_integer()) return error("label: field 'quantity' must be an integer");
  long long qv = q->get<long long>();
  if (qv < 1 || qv > 1000000) return error("label: quantity " + std::to_string(qv) + " out of range");
  ex.label.quantity = (int)qv;
  if (ex.label.action != "add" && ex.label.action != "remove")
    return error("label: action must be \"add\" or \"remove\", got \"" + ex.label.action + "\"");
  if (v.contains("meta")) ex.meta = v["meta"];
  return ex;
}

Result<std::vector<Example>> read_dataset(const std::string& path) {
  std::vector<Example> out;
  CARTLM_RETURN_IF_ERROR(for_each_jsonl(path, [&](const json& v, size_t) -> Status {
    CARTLM_ASSIGN_OR_RETURN(Example ex, example_from_json(v));
    out.push_back(std::move(ex));
    return {};
  }));
  return out;
}

Status write_dataset(const std::string& path, const std::vector<Example>& examples) {
  return write_lines_atomic(path, examples.size(),
                            [&](size_t i) { return example_to_json_line(examples[i]); });
}

}  // namespace cartlm
