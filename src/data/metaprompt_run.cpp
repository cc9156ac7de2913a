// The HTTP side of the metaprompt mode: worker threads pull planned examples from a shared counter,
// send each prompt with retries (exponential back-off with jitter, Retry-After honoured), append
// accepted replies to the cache, and the calling thread draws the progress bar. The output files
// are written at the end, in index order, so they do not depend on --parallel.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/file_io.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/strings.h"
#include "core/timer.h"
#include "core/utf8.h"
#include "data/http_client.h"
#include "data/metaprompt.h"
#include "formats/dataset.h"
#include "formats/jsonl.h"

namespace cartlm {

namespace {

constexpr uint64_t kJitterStream = 0x71;
constexpr const char* kCacheName = "metaprompt.cache.jsonl";
constexpr const char* kFailuresName = "metaprompt.failures.jsonl";

enum class State { pending, ok, failed, not_attempted };

struct Outcome {
  State state = State::pending;
  std::string text;
  int attempts = 0;
  bool cached = false;
  std::string error;  // last error of a failed example
};

// Shortens text for one-line messages (keeps UTF-8 intact, newlines shown as \n).
std::string excerpt(std::string_view s, size_t max_chars = 80) {
  std::string out;
  size_t i = 0, n = 0;
  while (i < s.size() && n < max_chars) {
    size_t start = i;
    uint32_t cp = decode_utf8(s, i);
    if (cp == '\n') out += "\\n";
    else if (cp == '\r') out += "\\r";
    else out.append(s.substr(start, i - start));
    ++n;
  }
  if (i < s.size()) out += "...";
  return out;
}

// "no quantity: 12 is not ..." -> "no quantity"; used to count rejections by kind.
std::string reason_kind(const std::string& message) {
  size_t colon = message.find(':');
  return colon == std::string::npos ? message : message.substr(0, colon);
}

// The "error.message" of an API error body, else the start of the body.
std::string api_error_text(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      return excerpt(e["message"].get<std::string>(), 160);
    if (e.is_string()) return excerpt(e.get<std::string>(), 160);
  }
  std::string t(trim(body));
  return t.empty() ? "(empty body)" : excerpt(sanitize_utf8(t), 160);
}

bool is_retryable_status(long s) { return s == 408 || s == 409 || s == 425 || s == 429 || s >= 500; }
// Statuses that will not change from one example to the next: wrong URL, key or model.
bool is_fatal_status(long s) { return s == 401 || s == 403 || s == 404 || s == 405; }

std::string request_body(const MetapromptOptions& o, const MetapromptItem& item, int attempt) {
  json body = json::object();
  body["model"] = o.model;
  json messages = json::array();
  messages.push_back(json{{"role", "system"}, {"content", item.system}});
  messages.push_back(json{{"role", "user"}, {"content", item.user}});
  body["messages"] = std::move(messages);
  body["temperature"] = o.temperature;
  if (o.max_tokens > 0) body["max_tokens"] = o.max_tokens;
  body["n"] = 1;
  // Servers that support it (llama-server, vLLM, OpenAI) then sample reproducibly per example;
  // each attempt gets its own seed, so a rejected reply is not simply sampled again.
  uint64_t mixed = o.seed * 1000003ull + item.index * 1009ull + (uint64_t)(attempt - 1);
  body["seed"] = (int64_t)(mixed & 0x7fffffffull);
  return dump_json_line(body);
}

struct Run {
  Run(const MetapromptOptions& o, const std::vector<MetapromptItem>& it, std::vector<Outcome>& out,
      const std::vector<size_t>& td)
      : opt(o), items(it), outcomes(out), todo(td) {}
  const MetapromptOptions& opt;
  const std::vector<MetapromptItem>& items;
  std::vector<Outcome>& outcomes;
  const std::vector<size_t>& todo;
  std::string url;
  std::vector<std::string> headers;
  size_t max_failures = 0;  // more failed examples than this: stop sending

  std::atomic<size_t> next{0}, requests{0}, rejected{0}, done{0}, failed{0};
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  int workers_alive = 0;
  std::map<std::string, size_t> reasons;
  Status fatal;
  std::FILE* cache = nullptr;
  std::string cache_path;

  void set_fatal(Status st) {
    std::lock_guard<std::mutex> lock(mu);
    if (fatal.ok()) fatal = std::move(st);
    stop = true;
  }

  void count_reason(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu);
    ++reasons[reason_kind(message)];
  }

  void append_cache(const MetapromptItem& item, const Outcome& out) {
    json j = json::object();
    j["seed"] = opt.seed;
    j["index"] = item.index;
    j["prompt_hash"] = item.prompt_hash;
    j["model"] = opt.model;
    j["text"] = out.text;
    j["attempts"] = out.attempts;
    std::string line = dump_json_line(j) + "\n";
    std::lock_guard<std::mutex> lock(mu);
    // Flushed per line: a crash loses at most the line being written.
    if (std::fputs(line.c_str(), cache) < 0 || std::fflush(cache) != 0) {
      if (fatal.ok()) fatal = error("cannot append to '" + cache_path + "' (disk full?)");
      stop = true;
    }
  }

  void wait(double seconds) {
    if (seconds <= 0) return;
    if (opt.sleep) opt.sleep(seconds);
    else std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }

  void process(HttpClient& client, const MetapromptItem& item, Outcome& out) {
    Rng jitter = Rng(opt.seed).fork(kJitterStream).fork(item.index);
    const int max_attempts = opt.retries + 1;
    const int quantity = item.truth.label.quantity;
    for (int attempt = 1; attempt <= max_attempts; ++attempt) {
      if (stop) {
        out.state = attempt == 1 ? State::not_attempted : State::failed;
        return;
      }
      out.attempts = attempt;
      HttpResult r = client.post(url, request_body(opt, item, attempt), headers, opt.timeout_s);
      ++requests;
      std::string err;
      bool retryable = true;
      double delay = -1;  // < 0: exponential back-off
      if (!r.ok()) {
        const char* kind = r.error_kind == HttpErrorKind::timeout   ? "timeout: "
                           : r.error_kind == HttpErrorKind::connect ? "connect: "
                                                                    : "transport: ";
        err = kind + r.error;
      } else if (r.response.status == 200) {
        Result<std::string> content = parse_chat_reply(r.response.body);
        if (content.ok()) {
          Result<std::string> msg = check_shopper_message(*content, quantity, item.truth.lang);
          if (msg.ok()) {
            out.state = State::ok;
            out.text = std::move(*msg);
            append_cache(item, out);
            return;
          }
          err = msg.message() + " (reply: \"" + excerpt(*content) + "\")";
        } else {
          err = content.message();
        }
        delay = 0;  // a bad reply is not overload: ask again at once
      } else {
        long st = r.response.status;
        err = strformat("http %ld: %s", st, api_error_text(r.response.body).c_str());
        if (is_fatal_status(st)) {
          ++rejected;
          count_reason(err);
          set_fatal(error(strformat("%s answered HTTP %ld: %s; hint: check --endpoint, --model "
                                    "and the API key (--api-key-env)",
                                    url.c_str(), st, api_error_text(r.response.body).c_str())));
          out.state = State::failed;
          out.error = err;
          return;
        }
        retryable = is_retryable_status(st);
        if (retryable && r.response.retry_after_s >= 0)
          delay = std::min(r.response.retry_after_s, opt.retry_after_max_s);
      }
      ++rejected;
      count_reason(err);
      out.error = err;
      if (!retryable || attempt == max_attempts) break;
      if (delay < 0) {
        // Exponential back-off with +-50% jitter so parallel workers do not retry in lockstep.
        double base = opt.backoff_base_s * std::pow(2.0, attempt - 1);
        delay = std::min(base, opt.backoff_max_s) * (0.5 + jitter.uniform_double());
      }
      wait(delay);
    }
    out.state = State::failed;
  }

  void worker() {
    HttpClient client;
    while (!stop) {
      size_t k = next.fetch_add(1);
      if (k >= todo.size()) break;
      size_t idx = todo[k];
      Outcome& out = outcomes[idx];
      process(client, items[idx], out);
      if (out.state == State::failed && ++failed > max_failures) stop = true;
      ++done;
      cv.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu);
    --workers_alive;
    cv.notify_one();
  }
};

// Reads accepted replies of earlier runs. Lines that do not parse (the last one after a crash)
// or that belong to other settings are skipped; texts are checked again with today's rules.
size_t load_cache(const std::string& path, const MetapromptOptions& opt,
                  const std::vector<MetapromptItem>& items, std::vector<Outcome>& outcomes,
                  Status& status) {
  size_t skipped = 0;
  if (!file_exists(path)) return 0;
  Result<std::string> text = read_file(path);
  if (!text.ok()) {
    status = text.status();
    return 0;
  }
  for (const std::string& line : split(*text, '\n')) {
    if (trim(line).empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    bool good = j.is_object() && j.contains("seed") && j["seed"].is_number_unsigned() &&
                j.contains("index") && j["index"].is_number_unsigned() &&
                j.contains("prompt_hash") && j["prompt_hash"].is_string() && j.contains("model") &&
                j["model"].is_string() && j.contains("text") && j["text"].is_string();
    if (!good) {
      ++skipped;
      continue;
    }
    uint64_t seed = j["seed"].get<uint64_t>();
    uint64_t index = j["index"].get<uint64_t>();
    if (seed != opt.seed || j["model"].get<std::string>() != opt.model) continue;
    if (index >= items.size()) continue;  // from a larger --size: kept in the file, not used
    const MetapromptItem& item = items[index];
    if (j["prompt_hash"].get<std::string>() != item.prompt_hash) {
      ++skipped;
      continue;
    }
    Result<std::string> msg = check_shopper_message(j["text"].get<std::string>(),
                                                    item.truth.label.quantity, item.truth.lang);
    if (!msg.ok()) {
      ++skipped;
      continue;
    }
    Outcome& out = outcomes[index];
    out.state = State::ok;
    out.cached = true;
    out.text = std::move(*msg);
    out.attempts = j.contains("attempts") && j["attempts"].is_number_integer()
                       ? j["attempts"].get<int>()
                       : 1;
  }
  return skipped;
}

Status check_options(const MetapromptOptions& o) {
  if (trim(o.model).empty()) return error("--model is required (the model name the endpoint serves)");
  if (o.size < 1) return error("--size must be at least 1");
  if (o.parallel < 1 || o.parallel > 256) return error("--parallel must be in 1..256");
  if (!(o.timeout_s > 0)) return error("--timeout must be > 0 seconds");
  if (o.retries < 0 || o.retries > 100) return error("--retries must be in 0..100");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1)) return error("--val-fraction must be in [0, 1)");
  if (!(o.max_failed >= 0 && o.max_failed <= 1)) return error("--max-failed must be in [0, 1]");
  if (!(o.temperature >= 0 && o.temperature <= 2)) return error("--temperature must be in [0, 2]");
  if (o.max_tokens < 0) return error("--max-tokens must be >= 0");
  if (o.out_dir.empty()) return error("--out is required (the output directory)");
  return {};
}

// Opens the cache for appending; a line cut off by a crash is closed first so the next line starts
// clean.
Result<std::FILE*> open_cache(const std::string& path) {
  bool needs_newline = false;
  if (file_exists(path)) {
    Result<std::string> text = read_file(path);
    if (!text.ok()) return text.status();
    needs_newline = !text->empty() && text->back() != '\n';
  }
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) return error("cannot append to '" + path + "'; hint: is --out writable?");
  if (needs_newline && (std::fputc('\n', f) == EOF || std::fflush(f) != 0)) {
    std::fclose(f);
    return error("cannot append to '" + path + "'");
  }
  return f;
}

}  // namespace

std::string MetapromptSummary::to_text() const {
  size_t ok = cached + generated;
  std::string s = strformat("metaprompt: %zu of %zu examples ok (%zu cached, %zu generated), %zu failed",
                            ok, total, cached, generated, failed);
  if (not_attempted) s += strformat(", %zu not attempted (stopped early)", not_attempted);
  s += "\n";
  s += strformat("requests: %zu in %s", requests, human_duration(seconds).c_str());
  if (seconds > 0) s += strformat(" (%.1f/s)", requests / seconds);
  s += strformat("; rejected attempts: %zu", rejected);
  if (!reject_reasons.empty()) {
    std::vector<std::string> parts;
    for (const auto& [kind, n] : reject_reasons) parts.push_back(strformat("%s %zu", kind.c_str(), n));
    s += " (" + join(parts, ", ") + ")";
  }
  s += "\n";
  if (cache_lines_skipped) s += strformat("cache: %zu unreadable or stale lines skipped\n", cache_lines_skipped);
  const size_t shown = std::min<size_t>(failures.size(), 10);
  for (size_t i = 0; i < shown; ++i) s += "  failed: " + failures[i] + "\n";
  if (failures.size() > shown) s += strformat("  ... and %zu more\n", failures.size() - shown);
  if (too_many_failed) s += "too many failures: train/val not written\n";
  else s += strformat("wrote %zu train + %zu val examples\n", train, val);
  return s;
}

Result<MetapromptSummary> run_metaprompt(const Catalog& catalog, const MetapromptOptions& opt) {
  CARTLM_RETURN_IF_ERROR(check_options(opt));
  if (catalog.products.empty()) return error("the catalog has no products");
  CARTLM_ASSIGN_OR_RETURN(std::string url, chat_completions_url(opt.endpoint));
  CARTLM_RETURN_IF_ERROR(ensure_dir(opt.out_dir).with_context("--out"));
  Timer timer;

  std::vector<MetapromptItem> items =
      plan_metaprompt(catalog, opt.seed, opt.size, opt.val_fraction);
  std::vector<Outcome> outcomes(items.size());
  MetapromptSummary sum;
  sum.total = items.size();

  const std::string cache_path = join_path(opt.out_dir, kCacheName);
  Status cache_status;
  sum.cache_lines_skipped = load_cache(cache_path, opt, items, outcomes, cache_status);
  CARTLM_RETURN_IF_ERROR(cache_status);
  std::vector<size_t> todo;
  for (size_t i = 0; i < items.size(); ++i) {
    if (outcomes[i].state == State::ok) ++sum.cached;
    else todo.push_back(i);
  }

  Run run(opt, items, outcomes, todo);
  run.url = url;
  if (!opt.api_key.empty()) run.headers.push_back("Authorization: Bearer " + opt.api_key);
  run.max_failures = (size_t)std::floor(opt.max_failed * (double)items.size() + 1e-9);
  run.cache_path = cache_path;
  if (!todo.empty()) {
    CARTLM_ASSIGN_OR_RETURN(run.cache, open_cache(cache_path));
    const int n_workers = (int)std::min<size_t>((size_t)opt.parallel, todo.size());
    run.workers_alive = n_workers;
    std::vector<std::thread> threads;
    for (int t = 0; t < n_workers; ++t) threads.emplace_back([&run] { run.worker(); });
    ProgressBar bar("metaprompt", todo.size(), opt.progress);
    Timer req_timer;
    auto extra = [&] {
      double t = req_timer.seconds();
      return strformat("failed %zu  %.1f req/s", run.failed.load(),
                       t > 0 ? run.requests.load() / t : 0.0);
    };
    {
      std::unique_lock<std::mutex> lock(run.mu);
      while (run.workers_alive > 0) {
        run.cv.wait_for(lock, std::chrono::milliseconds(100));
        lock.unlock();
        bar.update(run.done.load(), extra());
        lock.lock();
      }
    }
    for (std::thread& t : threads) t.join();
    // A run that stopped early must not show a full bar.
    if (run.done.load() == todo.size()) bar.finish(extra());
    else bar.update(run.done.load(), extra() + "  stopped");
    std::fclose(run.cache);
    run.cache = nullptr;
    CARTLM_RETURN_IF_ERROR(run.fatal);
  }
  sum.requests = run.requests.load();
  sum.rejected = run.rejected.load();
  sum.reject_reasons = run.reasons;

  std::vector<Example> train, val;
  json failures_lines = json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    const MetapromptItem& item = items[i];
    Outcome& out = outcomes[i];
    if (out.state == State::pending) out.state = State::not_attempted;  // stopped early
    if (out.state == State::not_attempted) {
      ++sum.not_attempted;
      continue;
    }
    if (out.state == State::failed) {
      ++sum.failed;
      sum.failures.push_back(strformat(
          "example %zu (%s, %s %d x %s) after %d attempt%s: %s", i, lang_code(item.truth.lang),
          item.truth.label.action.c_str(), item.truth.label.quantity,
          item.truth.label.product.c_str(), out.attempts, out.attempts == 1 ? "" : "s",
          out.error.c_str()));
      json f = json::object();
      f["index"] = i;
      f["lang"] = lang_code(item.truth.lang);
      f["label"] = label_to_json(item.truth.label);
      f["attempts"] = out.attempts;
      f["error"] = out.error;
      failures_lines.push_back(std::move(f));
      continue;
    }
    if (!out.cached) ++sum.generated;
    Example ex;
    ex.id = strformat("mp-%06zu", i);
    ex.lang = lang_code(item.truth.lang);
    ex.text = out.text;
    ex.label = item.truth.label;
    json meta = json::object();
    meta["source"] = "metaprompt";
    meta["model"] = opt.model;
    meta["attempts"] = out.attempts;
    meta["seed"] = opt.seed;
    meta["index"] = i;
    meta["register"] = item.style.register_name;
    meta["noise"] = item.style.noise_names();
    meta["quantity_style"] = item.style.quantity_style;
    meta["product_form"] = item.product_sg;
    if (!item.style.brand.empty()) meta["brand"] = item.style.brand;
    if (!item.style.code_switch.empty()) meta["code_switch"] = item.style.code_switch;
    ex.meta = std::move(meta);
    (item.val ? val : train).push_back(std::move(ex));
  }

  const std::string failures_path = join_path(opt.out_dir, kFailuresName);
  if (!failures_lines.empty()) {
    std::string text;
    for (const json& f : failures_lines) text += dump_json_line(f) + "\n";
    CARTLM_RETURN_IF_ERROR(write_file_atomic(failures_path, text));
  } else if (file_exists(failures_path)) {
    std::remove(failures_path.c_str());  // stale list from an earlier run of this directory
  }

  sum.too_many_failed =
      (double)(sum.failed + sum.not_attempted) > opt.max_failed * (double)sum.total + 1e-9;
  if (!sum.too_many_failed) {
    CARTLM_RETURN_IF_ERROR(write_dataset(join_path(opt.out_dir, "train.jsonl"), train));
    CARTLM_RETURN_IF_ERROR(write_dataset(join_path(opt.out_dir, "val.jsonl"), val));
    sum.train = train.size();
    sum.val = val.size();
  }
  sum.seconds = timer.seconds();
  return sum;
}

}  // namespace cartlm
