// The HTTP API's request parsing and response shapes, free of any socket code so every rule can be
// tested on plain strings:
//
//   POST /v1/intent            {"text": "..."}            -> {"action", "product", "quantity",
//                                                              "latency_ms", "model"}
//                              {"texts": ["...", ...]}     -> {"results": [...], "latency_ms", "model"}
//   POST /v1/chat/completions  OpenAI chat request          -> chat.completion (or SSE chunks)
//
// Every bad request maps to an ApiError: an HTTP status plus an OpenAI-style body
// {"error": {"message", "type", "param", "code"}} whose message names the field and the problem.
// Nothing a client sends escapes as an exception: JSON is parsed with exceptions off and every
// output is dumped with invalid UTF-8 replaced.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/dataset.h"

namespace cartlm::serve {

struct ApiLimits {
  size_t max_body_bytes = 64 * 1024;  // larger bodies get 413
  size_t max_text_chars = 1000;       // code points per text (a shopper message is ~10 words)
  size_t max_texts = 64;              // texts in one {"texts": [...]} request
};

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";  // OpenAI error types: invalid_request_error,
                                               // rate_limit_error, server_error, timeout_error
  std::string code;     // machine-readable: "missing_field", "invalid_json", "queue_full", ...
  std::string param;    // the offending field ("text", "messages[2].content"), or empty
  std::string message;  // one line naming the problem
};

// {"error": {"message": ..., "type": ..., "param": ... | null, "code": ...}}
std::string error_body(const ApiError& e);

struct IntentRequest {
  std::vector<std::string> texts;
  bool batch = false;  // {"texts": [...]} form
};

struct ChatRequest {
  std::string text;  // content of the last user message
  bool stream = false;
  std::string model;  // as the client sent it (may be empty)
};

// Return the error for a bad body, or nullopt and fill `out`.
std::optional<ApiError> parse_intent_request(std::string_view body, const ApiLimits& limits,
                                             IntentRequest* out);
std::optional<ApiError> parse_chat_request(std::string_view body, const ApiLimits& limits,
                                           ChatRequest* out);

// What a worker produced for one text.
struct IntentAnswer {
  bool valid = false;  // the output parsed as an intent with a catalog product
  Label label;
  std::string output_text;  // the raw completion
  std::string error;        // why it is not valid
  bool rejected_input = false;  // the model refused the text itself (too many tokens...): a 400
  size_t prompt_tokens = 0, generated_tokens = 0;
  double latency_ms = 0;  // model time for this text
};

// {"action": ..., "product": ..., "quantity": ..., "latency_ms": ..., "model": ...}
std::string intent_body(const IntentAnswer& a, double latency_ms, const std::string& model);
// {"results": [{"action", "product", "quantity", "latency_ms"}...], "latency_ms", "model"}
std::string intent_batch_body(const std::vector<IntentAnswer>& answers, double latency_ms,
                              const std::string& model);

// OpenAI chat.completion with the intent JSON text as the assistant message.
std::string chat_body(const IntentAnswer& a, const std::string& id, long long created,
                      const std::string& model);
// The SSE stream of the same answer: "data: {chunk}\n\n" for the role, the content and the
// finish, then "data: [DONE]\n\n".
std::string chat_stream_body(const IntentAnswer& a, const std::string& id, long long created,
                             const std::string& model);
// {"object": "list", "data": [{"id": model, "object": "model", ...}]}
std::string models_body(const std::string& model, long long created);

}  // namespace cartlm::serve
