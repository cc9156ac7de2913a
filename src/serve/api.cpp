#include "serve/api.h"

#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "core/utf8.h"

namespace cartlm::serve {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;  // responses keep the documented key order

std::string dump(const ojson& j) {
  // replace: a model could in principle emit bytes that are not UTF-8; never throw on them.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiError bad(std::string code, std::string param, std::string message) {
  ApiError e;
  e.status = 400;
  e.code = std::move(code);
  e.param = std::move(param);
  e.message = std::move(message);
  return e;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

// nlohmann's DOM builder plus a parse_error that keeps the message (sax_parse calls the SAX
// object's methods statically, so hiding the base method is enough).
struct ErrorKeepingSax : nlohmann::detail::json_sax_dom_parser<json> {
  explicit ErrorKeepingSax(json& root) : nlohmann::detail::json_sax_dom_parser<json>(root, false) {}
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& ex) {
    message = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> drop the tag.
    size_t p = message.find("] ");
    if (p != std::string::npos && starts_with(message, "[json.exception")) message.erase(0, p + 2);
    return false;
  }
  std::string message;
};

// The shared first steps for every POST body: size, UTF-8, JSON syntax, top-level object.
std::optional<ApiError> parse_object(std::string_view body, const ApiLimits& limits, json* out) {
  if (body.size() > limits.max_body_bytes) {
    ApiError e = bad("body_too_large", "",
                     strformat("request body is %zu bytes; the limit is %zu", body.size(),
                               limits.max_body_bytes));
    e.status = 413;
    return e;
  }
  if (trim(body).empty()) {
    return bad("empty_body", "", "request body is empty; expected a JSON object");
  }
  size_t bad_at = first_invalid_utf8(body);
  if (bad_at != std::string_view::npos) {
    return bad("invalid_utf8", "",
               strformat("request body is not valid UTF-8 (byte %zu)", bad_at));
  }
  json root;
  ErrorKeepingSax sax(root);
  bool ok = json::sax_parse(body.begin(), body.end(), &sax, nlohmann::detail::input_format_t::json,
                            /*strict=*/true);
  if (!ok || root.is_discarded()) {
    return bad("invalid_json", "",
               "malformed JSON: " + (sax.message.empty() ? std::string("cannot parse body")
                                                         : sax.message));
  }
  if (!root.is_object()) {
    return bad("invalid_type", "",
               std::string("request body must be a JSON object, got ") + type_name(root));
  }
  *out = std::move(root);
  return std::nullopt;
}

std::optional<ApiError> check_text(const std::string& text, const std::string& param,
                                   const ApiLimits& limits) {
  if (trim(text).empty()) return bad("empty_text", param, "field '" + param + "' is empty");
  size_t chars = utf8_length(text);
  if (chars > limits.max_text_chars) {
    return bad("text_too_long", param,
               strformat("field '%s' has %zu characters; the limit is %zu", param.c_str(), chars,
                         limits.max_text_chars));
  }
  return std::nullopt;
}

std::optional<ApiError> want_string(const json& v, const std::string& param, std::string* out) {
  if (!v.is_string()) {
    return bad("invalid_type", param,
               "field '" + param + "' must be a string, got " + type_name(v));
  }
  *out = v.get<std::string>();
  return std::nullopt;
}

// OpenAI content: a string, or an array of parts of which the {"type": "text"} ones count.
std::optional<ApiError> message_text(const json& content, const std::string& param,
                                     std::string* out) {
  if (content.is_string()) {
    *out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) {
    return bad("invalid_type", param,
               "field '" + param + "' must be a string or an array of text parts, got " +
                   type_name(content));
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    std::string p = strformat("%s[%zu]", param.c_str(), i);
    if (!part.is_object()) {
      return bad("invalid_type", p, "field '" + p + "' must be an object, got " + type_name(part));
    }
    auto t = part.find("type");
    if (t == part.end() || !t->is_string()) {
      return bad("missing_field", p + ".type", "field '" + p + ".type' is missing or not a string");
    }
    if (*t != "text") continue;  // images and the like carry no intent text
    auto tx = part.find("text");
    if (tx == part.end()) {
      return bad("missing_field", p + ".text", "missing field '" + p + ".text'");
    }
    std::string piece;
    if (auto e = want_string(*tx, p + ".text", &piece)) return e;
    if (!text.empty()) text += ' ';
    text += piece;
  }
  *out = std::move(text);
  return std::nullopt;
}

ojson intent_fields(const IntentAnswer& a) {
  ojson j = ojson::object();
  j["action"] = a.label.action;
  j["product"] = a.label.product;
  j["quantity"] = a.label.quantity;
  return j;
}

double round_ms(double ms) { return static_cast<double>(static_cast<long long>(ms * 1000 + 0.5)) / 1000; }

}  // namespace

std::string error_body(const ApiError& e) {
  ojson err = ojson::object();
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = e.param.empty() ? ojson(nullptr) : ojson(e.param);
  err["code"] = e.code.empty() ? ojson(nullptr) : ojson(e.code);
  ojson j = ojson::object();
  j["error"] = std::move(err);
  return dump(j);
}

std::optional<ApiError> parse_intent_request(std::string_view body, const ApiLimits& limits,
                                             IntentRequest* out) {
  json root;
  if (auto e = parse_object(body, limits, &root)) return e;
  auto text = root.find("text");
  auto texts = root.find("texts");
  if (text != root.end() && texts != root.end()) {
    return bad("invalid_request", "texts", "give either 'text' or 'texts', not both");
  }
  IntentRequest req;
  if (text != root.end()) {
    std::string t;
    if (auto e = want_string(*text, "text", &t)) return e;
    if (auto e = check_text(t, "text", limits)) return e;
    req.texts.push_back(std::move(t));
  } else if (texts != root.end()) {
    if (!texts->is_array()) {
      return bad("invalid_type", "texts",
                 std::string("field 'texts' must be an array of strings, got ") +
                     type_name(*texts));
    }
    if (texts->empty()) return bad("empty_text", "texts", "field 'texts' is an empty array");
    if (texts->size() > limits.max_texts) {
      return bad("too_many_texts", "texts",
                 strformat("field 'texts' has %zu entries; the limit is %zu", texts->size(),
                           limits.max_texts));
    }
    req.batch = true;
    for (size_t i = 0; i < texts->size(); ++i) {
      std::string p = strformat("texts[%zu]", i);
      std::string t;
      if (auto e = want_string((*texts)[i], p, &t)) return e;
      if (auto e = check_text(t, p, limits)) return e;
      req.texts.push_back(std::move(t));
    }
  } else {
    return bad("missing_field", "text",
               "missing field 'text' (expected {\"text\": \"...\"} or {\"texts\": [...]})");
  }
  *out = std::move(req);
  return std::nullopt;
}

std::optional<ApiError> parse_chat_request(std::string_view body, const ApiLimits& limits,
                                           ChatRequest* out) {
  json root;
  if (auto e = parse_object(body, limits, &root)) return e;
  ChatRequest req;
  if (auto m = root.find("model"); m != root.end() && !m->is_null()) {
    if (auto e = want_string(*m, "model", &req.model)) return e;
  }
  if (auto s = root.find("stream"); s != root.end() && !s->is_null()) {
    if (!s->is_boolean()) {
      return bad("invalid_type", "stream",
                 std::string("field 'stream' must be a boolean, got ") + type_name(*s));
    }
    req.stream = s->get<bool>();
  }
  if (auto rf = root.find("response_format"); rf != root.end() && !rf->is_null()) {
    // The answer is always the intent JSON; accept the formats that allow it.
    if (!rf->is_object()) {
      return bad("invalid_type", "response_format",
                 std::string("field 'response_format' must be an object, got ") + type_name(*rf));
    }
    auto t = rf->find("type");
    if (t == rf->end() || !t->is_string() ||
        (*t != "text" && *t != "json_object" && *t != "json_schema")) {
      return bad("invalid_value", "response_format.type",
                 "field 'response_format.type' must be \"text\", \"json_object\" or "
                 "\"json_schema\"");
    }
  }
  auto msgs = root.find("messages");
  if (msgs == root.end()) return bad("missing_field", "messages", "missing field 'messages'");
  if (!msgs->is_array()) {
    return bad("invalid_type", "messages",
               std::string("field 'messages' must be an array, got ") + type_name(*msgs));
  }
  if (msgs->empty()) return bad("invalid_value", "messages", "field 'messages' is an empty array");
  std::optional<std::string> last_user;
  std::string last_user_param;
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    std::string p = strformat("messages[%zu]", i);
    if (!m.is_object()) {
      return bad("invalid_type", p, "field '" + p + "' must be an object, got " + type_name(m));
    }
    auto role = m.find("role");
    if (role == m.end()) return bad("missing_field", p + ".role", "missing field '" + p + ".role'");
    std::string r;
    if (auto e = want_string(*role, p + ".role", &r)) return e;
    auto content = m.find("content");
    if (r != "user") continue;  // system prompts and earlier assistant turns do not change intent
    if (content == m.end() || content->is_null()) {
      return bad("missing_field", p + ".content", "missing field '" + p + ".content'");
    }
    std::string text;
    if (auto e = message_text(*content, p + ".content", &text)) return e;
    last_user = std::move(text);
    last_user_param = p + ".content";
  }
  if (!last_user) {
    return bad("missing_field", "messages", "field 'messages' has no message with role \"user\"");
  }
  if (auto e = check_text(*last_user, last_user_param, limits)) return e;
  req.text = std::move(*last_user);
  *out = std::move(req);
  return std::nullopt;
}

std::string intent_body(const IntentAnswer& a, double latency_ms, const std::string& model) {
  ojson j = intent_fields(a);
  j["latency_ms"] = round_ms(latency_ms);
  j["model"] = model;
  return dump(j);
}

std::string intent_batch_body(const std::vector<IntentAnswer>& answers, double latency_ms,
                              const std::string& model) {
  ojson results = ojson::array();
  for (const IntentAnswer& a : answers) {
    ojson r = intent_fields(a);
    r["latency_ms"] = round_ms(a.latency_ms);
    results.push_back(std::move(r));
  }
  ojson j = ojson::object();
  j["results"] = std::move(results);
  j["latency_ms"] = round_ms(latency_ms);
  j["model"] = model;
  return dump(j);
}

std::string chat_body(const IntentAnswer& a, const std::string& id, long long created,
                      const std::string& model) {
  ojson msg = ojson::object();
  msg["role"] = "assistant";
  msg["content"] = label_to_json_text(a.label);
  ojson choice = ojson::object();
  choice["index"] = 0;
  choice["message"] = std::move(msg);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = "stop";
  ojson usage = ojson::object();
  usage["prompt_tokens"] = a.prompt_tokens;
  usage["completion_tokens"] = a.generated_tokens;
  usage["total_tokens"] = a.prompt_tokens + a.generated_tokens;
  ojson j = ojson::object();
  j["id"] = id;
  j["object"] = "chat.completion";
  j["created"] = created;
  j["model"] = model;
  j["choices"] = ojson::array({std::move(choice)});
  j["usage"] = std::move(usage);
  return dump(j);
}

std::string chat_stream_body(const IntentAnswer& a, const std::string& id, long long created,
                             const std::string& model) {
  auto chunk = [&](ojson delta, ojson finish) {
    ojson choice = ojson::object();
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = std::move(finish);
    ojson j = ojson::object();
    j["id"] = id;
    j["object"] = "chat.completion.chunk";
    j["created"] = created;
    j["model"] = model;
    j["choices"] = ojson::array({std::move(choice)});
    return "data: " + dump(j) + "\n\n";
  };
  std::string out;
  out += chunk(ojson{{"role", "assistant"}, {"content", ""}}, nullptr);
  out += chunk(ojson{{"content", label_to_json_text(a.label)}}, nullptr);
  out += chunk(ojson::object(), "stop");
  out += "data: [DONE]\n\n";
  return out;
}

std::string models_body(const std::string& model, long long created) {
  ojson m = ojson::object();
  m["id"] = model;
  m["object"] = "model";
  m["created"] = created;
  m["owned_by"] = "cartlm";
  ojson j = ojson::object();
  j["object"] = "list";
  j["data"] = ojson::array({std::move(m)});
  return dump(j);
}

}  // namespace cartlm::serve
