#include "data/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "core/strings.h"

namespace cartlm {

namespace {

// curl_global_init is not thread-safe; run it once before the first handle exists.
void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A runaway server must not make us buffer gigabytes.
constexpr size_t kMaxBody = 16u << 20;

struct Sink {
  HttpResponse* response;
  bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  size_t bytes = size * n;
  if (sink->response->body.size() + bytes > kMaxBody) {
    sink->too_large = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, bytes);
  return bytes;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower((unsigned char)s[i]) != std::tolower((unsigned char)prefix[i])) return false;
  return true;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  std::string_view line(data, size * n);
  // A new status line starts a new header block (after a redirect or "100 Continue").
  if (iequals_prefix(line, "HTTP/")) sink->response->retry_after_s = -1;
  if (iequals_prefix(line, "retry-after:"))
    sink->response->retry_after_s = parse_retry_after(trim(line.substr(12)));
  return size * n;
}

// Keeps the user's no_proxy list and adds loopback, so a local server is never sent through an
// http_proxy from the environment.
std::string no_proxy_list() {
  std::string list = "localhost,127.0.0.1,::1";
  for (const char* name : {"NO_PROXY", "no_proxy"}) {
    const char* v = std::getenv(name);
    if (v && *v) {
      list += ",";
      list += v;
    }
  }
  return list;
}

}  // namespace

double parse_retry_after(std::string_view value) {
  value = trim(value);
  if (value.empty()) return -1;
  if (std::isdigit((unsigned char)value[0])) {
    std::string s(value);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !(v >= 0)) return -1;
    return v;
  }
  std::string s(value);
  time_t when = curl_getdate(s.c_str(), nullptr);
  if (when < 0) return -1;
  double delta = std::difftime(when, std::time(nullptr));
  return delta > 0 ? delta : 0;
}

HttpClient::HttpClient() {
  global_init_once();
  curl_ = curl_easy_init();
  CARTLM_CHECK(curl_ != nullptr);
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResult HttpClient::post(const std::string& url, std::string_view body,
                            const std::vector<std::string>& headers, double timeout_s) {
  CURL* h = static_cast<CURL*>(curl_);
  curl_easy_reset(h);  // keeps the connection cache, drops the previous request's options
  HttpResult result;
  Sink sink{&result.response};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");  // no "100-continue" round trip for large bodies
  for (const std::string& hd : headers) list = curl_slist_append(list, hd.c_str());
  static const std::string kNoProxy = no_proxy_list();

  long timeout_ms = timeout_s > 0 ? (long)(timeout_s * 1000 + 0.5) : 0;
  if (timeout_s > 0 && timeout_ms < 1) timeout_ms = 1;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.size());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // required for timeouts in multi-threaded programs
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 && timeout_ms < 10000 ? timeout_ms
                                                                                      : 10000L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
  curl_easy_setopt(h, CURLOPT_USERAGENT, "cartlm/" CARTLM_VERSION);
  curl_easy_setopt(h, CURLOPT_NOPROXY, kNoProxy.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");

  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    if (sink.too_large) {
      result.error_kind = HttpErrorKind::other;
      result.error = "response body larger than " + human_bytes((double)kMaxBody);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      result.error_kind = HttpErrorKind::timeout;
      result.error = strformat("no response within %g s (%s)", timeout_s, detail.c_str());
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY) {
      result.error_kind = HttpErrorKind::connect;
      result.error = detail;
    } else {
      result.error_kind = HttpErrorKind::other;
      result.error = detail;
    }
    result.response = HttpResponse{};
    return result;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.response.status);
  return result;
}

}  // namespace cartlm
