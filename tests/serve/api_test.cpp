// Request parsing and response shapes of the HTTP API, on plain strings.
#include "serve/api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cartlm::serve {
namespace {

using json = nlohmann::json;

ApiError intent_error(std::string_view body, const ApiLimits& limits = {}) {
  IntentRequest req;
  auto e = parse_intent_request(body, limits, &req);
  EXPECT_TRUE(e.has_value()) << body;
  return e.value_or(ApiError{});
}

ApiError chat_error(std::string_view body, const ApiLimits& limits = {}) {
  ChatRequest req;
  auto e = parse_chat_request(body, limits, &req);
  EXPECT_TRUE(e.has_value()) << body;
  return e.value_or(ApiError{});
}

TEST(ServeApi, ParsesSingleAndBatchIntentRequests) {
  IntentRequest req;
  ASSERT_FALSE(parse_intent_request(R"({"text": "Dodaj 5 balzama za usne"})", {}, &req));
  EXPECT_FALSE(req.batch);
  ASSERT_EQ(req.texts.size(), 1u);
  EXPECT_EQ(req.texts[0], "Dodaj 5 balzama za usne");

  ASSERT_FALSE(parse_intent_request(R"({"texts": ["a b", "añade 4"], "extra": 1})", {}, &req));
  EXPECT_TRUE(req.batch);
  ASSERT_EQ(req.texts.size(), 2u);
  EXPECT_EQ(req.texts[1], "añade 4");
}

TEST(ServeApi, RejectsBadIntentBodiesNamingTheProblem) {
  ApiError e = intent_error("");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "empty_body");

  e = intent_error(R"({"text": "abc")");
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_NE(e.message.find("malformed JSON"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("column"), std::string::npos) << e.message;

  e = intent_error(R"({"text": "a"} trailing)");
  EXPECT_EQ(e.code, "invalid_json");

  e = intent_error(R"(["text"])");
  EXPECT_EQ(e.code, "invalid_type");
  EXPECT_NE(e.message.find("JSON object, got an array"), std::string::npos) << e.message;

  e = intent_error(R"({"txt": "a"})");
  EXPECT_EQ(e.code, "missing_field");
  EXPECT_EQ(e.param, "text");

  e = intent_error(R"({"text": 12})");
  EXPECT_EQ(e.code, "invalid_type");
  EXPECT_EQ(e.message, "field 'text' must be a string, got a number");

  e = intent_error(R"({"text": "   "})");
  EXPECT_EQ(e.code, "empty_text");

  e = intent_error(R"({"text": "a", "texts": ["b"]})");
  EXPECT_EQ(e.param, "texts");

  e = intent_error(R"({"texts": []})");
  EXPECT_EQ(e.code, "empty_text");

  e = intent_error(R"({"texts": ["ok", 3]})");
  EXPECT_EQ(e.param, "texts[1]");
  EXPECT_EQ(e.code, "invalid_type");

  e = intent_error(R"({"texts": "abc"})");
  EXPECT_EQ(e.code, "invalid_type");

  // Invalid UTF-8 in the raw body (a lone continuation byte inside the string).
  e = intent_error(std::string("{\"text\": \"ab\x80\"}"));
  EXPECT_EQ(e.code, "invalid_utf8");
  EXPECT_NE(e.message.find("byte 12"), std::string::npos) << e.message;

  // A lone surrogate escape is not text either.
  e = intent_error(R"({"text": "\ud800"})");
  EXPECT_EQ(e.code, "invalid_json");
}

TEST(ServeApi, EnforcesSizeLimits) {
  ApiLimits limits;
  limits.max_text_chars = 5;
  limits.max_texts = 2;
  limits.max_body_bytes = 100;
  // Code points, not bytes: "čćžšđ" is 5 characters in 10 bytes.
  IntentRequest req;
  EXPECT_FALSE(parse_intent_request(R"({"text": "čćžšđ"})", limits, &req));
  ApiError e = intent_error(R"({"text": "čćžšđa"})", limits);
  EXPECT_EQ(e.code, "text_too_long");
  EXPECT_EQ(e.message, "field 'text' has 6 characters; the limit is 5");

  e = intent_error(R"({"texts": ["a", "b", "c"]})", limits);
  EXPECT_EQ(e.code, "too_many_texts");

  e = intent_error("{\"text\": \"" + std::string(200, 'a') + "\"}", limits);
  EXPECT_EQ(e.status, 413);
  EXPECT_EQ(e.code, "body_too_large");
}

TEST(ServeApi, ParsesChatRequests) {
  ChatRequest req;
  ASSERT_FALSE(parse_chat_request(R"({
      "model": "whatever", "stream": true, "temperature": 0,
      "response_format": {"type": "json_object"},
      "messages": [{"role": "system", "content": "You are a cart."},
                   {"role": "user", "content": "add 2 soaps"},
                   {"role": "assistant", "content": "{}"},
                   {"role": "user", "content": [{"type": "text", "text": "remove 3"},
                                                {"type": "image_url", "image_url": {}},
                                                {"type": "text", "text": "lip balms"}]}]})",
                                  {}, &req));
  EXPECT_TRUE(req.stream);
  EXPECT_EQ(req.model, "whatever");
  EXPECT_EQ(req.text, "remove 3 lip balms");  // the last user message, text parts joined
}

TEST(ServeApi, RejectsBadChatRequests) {
  EXPECT_EQ(chat_error(R"({"model": "m"})").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages": {}})").code, "invalid_type");
  EXPECT_EQ(chat_error(R"({"messages": []})").code, "invalid_value");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "system", "content": "x"}]})").message,
            "field 'messages' has no message with role \"user\"");
  EXPECT_EQ(chat_error(R"({"messages": [{"content": "x"}]})").param, "messages[0].role");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user", "content": 5}]})").param,
            "messages[0].content");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user", "content": ""}]})").code, "empty_text");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})")
                .param,
            "stream");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user", "content": "x"}],
                           "response_format": {"type": "xml"}})")
                .param,
            "response_format.type");
}

IntentAnswer answer() {
  IntentAnswer a;
  a.valid = true;
  a.label = Label{"remove", "Lip Balm", 12};
  a.prompt_tokens = 20;
  a.generated_tokens = 9;
  a.latency_ms = 3.25;
  return a;
}

TEST(ServeApi, ResponseBodiesHaveTheDocumentedShape) {
  json j = json::parse(intent_body(answer(), 4.56789, "tiny"));
  EXPECT_EQ(j["action"], "remove");
  EXPECT_EQ(j["product"], "Lip Balm");
  EXPECT_EQ(j["quantity"], 12);
  EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), 4.568);
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_EQ(j.size(), 5u);

  j = json::parse(intent_batch_body({answer(), answer()}, 9, "tiny"));
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["quantity"], 12);

  j = json::parse(chat_body(answer(), "chatcmpl-7", 1700000000, "tiny"));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  json content = json::parse(j["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_EQ(content, json::parse(R"({"action": "remove", "product": "Lip Balm", "quantity": 12})"));
  EXPECT_EQ(j["usage"]["total_tokens"], 29);

  std::string sse = chat_stream_body(answer(), "chatcmpl-7", 1700000000, "tiny");
  std::string content_seen;
  size_t events = 0;
  size_t pos = 0;
  bool done = false;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    size_t end = sse.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos);
    std::string data = sse.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    events++;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json c = json::parse(data);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (c["choices"][0]["delta"].contains("content")) {
      content_seen += c["choices"][0]["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(events, 4u);
  EXPECT_EQ(content_seen, label_to_json_text(answer().label));

  j = json::parse(models_body("tiny", 5));
  EXPECT_EQ(j["data"][0]["id"], "tiny");
}

TEST(ServeApi, ErrorBodyIsOpenAiStyle) {
  ApiError e;
  e.code = "missing_field";
  e.param = "text";
  e.message = "missing field 'text'";
  json j = json::parse(error_body(e));
  EXPECT_EQ(j["error"]["message"], "missing field 'text'");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "text");
  EXPECT_EQ(j["error"]["code"], "missing_field");
  e.param.clear();
  EXPECT_TRUE(json::parse(error_body(e))["error"]["param"].is_null());
}

}  // namespace
}  // namespace cartlm::serve
