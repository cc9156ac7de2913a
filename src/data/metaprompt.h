// `cartlm data metaprompt`: the study's "metaprompting" dataset mode (paper §3.1). The program fixes
// the ground truth of every example (language cycled en/hr/es, action, product, quantity — drawn
// with draw_ground_truth exactly like the synthetic generator) plus style and noise directives,
// writes a detailed prompt, and asks an LLM behind an OpenAI-compatible Chat Completions endpoint
// to write ONE shopper message that expresses it. The label is never taken from the LLM, so a
// reply can only be wrong in its wording, and wording problems are what validation rejects.
//
// Files in the output directory:
//   train.jsonl, val.jsonl        the dataset (formats/dataset.h), written atomically at the end
//   metaprompt.cache.jsonl        every accepted reply, appended and flushed one line at a time and
//                                 keyed by (seed, index, prompt_hash, model): a rerun with the same
//                                 settings sends no request for these
//   metaprompt.failures.jsonl     the examples that failed after all retries (only when any did)
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/catalog.h"
#include "data/ground_truth.h"
#include "data/lang.h"

namespace cartlm {

// How one message should sound. Drawn per example from the seed.
struct StyleDirectives {
  // "formal" | "casual" | "terse imperative" | "question" | "chatty" | "first-person need"
  std::string register_name;
  bool typos = false;     // one or two natural typos
  bool slang = false;     // pls, thx, ...
  bool greeting = false;  // starts with a short greeting
  bool emoji = false;     // one emoji
  std::string brand;        // an unrelated brand to mention in passing, or empty
  std::string code_switch;  // an English phrase to slip into an hr/es message, or empty
  // "digits" | "words" | "omitted" (omitted only when the quantity is 1)
  std::string quantity_style;

  std::vector<std::string> noise_names() const;  // e.g. {"typos", "emoji"}
};

// One planned example: its ground truth, the directives and the exact prompt sent for it.
struct MetapromptItem {
  size_t index = 0;
  GroundTruth truth;
  std::string product_sg, product_pl;  // the local surface form named in the prompt
  StyleDirectives style;
  std::string system, user;  // chat messages
  std::string prompt_hash;   // 16 hex digits (FNV-1a 64 of system and user)
  bool val = false;          // goes to val.jsonl
};

// Plans `size` examples for `seed`. Pure and deterministic; example i is the same for any size > i
// (so growing --size keeps the cache valid). About size * val_fraction items get val = true.
std::vector<MetapromptItem> plan_metaprompt(const Catalog& catalog, uint64_t seed, size_t size,
                                            double val_fraction);

// Accepted number words for `n` in `lang` (lower case, diacritics kept), e.g. hr 2 -> dva, dvije,
// dvoje, par; en 12 -> twelve, dozen. Empty when the table has none (n outside 1..20).
std::vector<std::string> number_words(int n, Lang lang);
// True if `text` names `n` as a stand-alone digit run ("12", not "120") or as a number word of
// `lang` (compared without case and diacritics, so "cetiri" counts for četiri).
bool mentions_quantity(std::string_view text, int n, Lang lang);

// Extracts choices[0].message.content from a Chat Completions response body. The error (one line)
// says what is wrong: not JSON, an "error" object, no choices, content not a string, refusal,
// finish_reason "length" / "content_filter".
Result<std::string> parse_chat_reply(std::string_view body);
// Checks a generated shopper message and returns it cleaned (trimmed, surrounding quotes removed).
// Rejections name the reason first ("multi-line: ...", "no quantity: ..."): empty, multi-line,
// too long (> kMaxMessageChars code points), JSON leakage, no quantity (when it is not 1), refusal.
Result<std::string> check_shopper_message(std::string_view content, int quantity, Lang lang);
inline constexpr size_t kMaxMessageChars = 400;

struct MetapromptOptions {
  std::string endpoint;  // base URL, e.g. http://127.0.0.1:8080/v1 (".../chat/completions" also ok)
  std::string model;
  std::string api_key;  // empty: no Authorization header (local servers)
  double temperature = 1.0;
  int max_tokens = 200;  // 0: not sent
  int parallel = 4;
  double timeout_s = 60;  // per request
  int retries = 3;        // extra attempts per example after the first
  size_t size = 3000;
  double val_fraction = 0.1;
  uint64_t seed = 42;
  std::string out_dir;
  double max_failed = 0.05;  // failed share above this makes the run fail (and stop early)
  double backoff_base_s = 0.5, backoff_max_s = 30, retry_after_max_s = 120;
  bool progress = true;
  // Waits between attempts go through this when set (tests record them instead of sleeping).
  std::function<void(double seconds)> sleep;
};

struct MetapromptSummary {
  size_t total = 0;          // examples planned (--size)
  size_t cached = 0;         // taken from the cache, no request
  size_t generated = 0;      // accepted replies from this run
  size_t failed = 0;         // gave up after all attempts
  size_t not_attempted = 0;  // skipped because the run stopped early
  size_t requests = 0;       // HTTP requests sent
  size_t rejected = 0;       // attempts that did not give an acceptable message
  std::map<std::string, size_t> reject_reasons;  // "http 500", "timeout", "no quantity", ...
  std::vector<std::string> failures;             // one line per failed example
  size_t train = 0, val = 0;                     // examples written
  size_t cache_lines_skipped = 0;                // unreadable or stale cache lines
  double seconds = 0;
  bool too_many_failed = false;  // failed + not_attempted > max_failed * total: nothing written
  std::string to_text() const;   // a few lines for the terminal
};

// Runs the whole mode. A returned error (one line) is a setup problem found before or during the
// run: bad endpoint URL, unwritable output directory, an endpoint that answers 401/403/404, a
// cache write failure. Failed examples are not errors: they are in the summary, and when there are
// too many of them `too_many_failed` is set and train/val are not written (the cache keeps what
// was accepted, so a rerun resumes).
Result<MetapromptSummary> run_metaprompt(const Catalog& catalog, const MetapromptOptions& options);

// "http://host/v1" -> "http://host/v1/chat/completions"; rejects non-http(s) URLs.
Result<std::string> chat_completions_url(std::string_view endpoint);

}  // namespace cartlm
