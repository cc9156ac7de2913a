// A small blocking HTTP POST client over libcurl, enough for JSON APIs such as OpenAI-compatible
// chat endpoints. One HttpClient per thread (it keeps its curl handle, so connections are reused);
// different clients may be used from different threads at the same time.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cartlm {

struct HttpResponse {
  long status = 0;    // HTTP status code (200, 429, ...)
  std::string body;
  // Seconds the server asked us to wait (Retry-After as delta-seconds or an HTTP date), or -1.
  double retry_after_s = -1;
};

// Why a request produced no HTTP response at all.
enum class HttpErrorKind { none, timeout, connect, other };

struct HttpResult {
  HttpErrorKind error_kind = HttpErrorKind::none;
  std::string error;  // one line, empty when a response arrived
  HttpResponse response;
  bool ok() const { return error_kind == HttpErrorKind::none; }
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `url` with the given extra header lines ("Name: value"). `timeout_s` bounds
  // the whole request (connect + transfer). Transport failures are reported in the result, never
  // thrown; any HTTP status counts as a response.
  HttpResult post(const std::string& url, std::string_view body,
                  const std::vector<std::string>& headers, double timeout_s);

 private:
  void* curl_ = nullptr;  // CURL*, kept opaque so users of this header need no curl include
};

// Parses a Retry-After header value: delta-seconds ("120", also "0.5") or an HTTP date.
// Returns -1 if it cannot be parsed.
double parse_retry_after(std::string_view value);

}  // namespace cartlm
