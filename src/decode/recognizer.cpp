#include "decode/recognizer.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <set>

#include "core/strings.h"
#include "core/timer.h"
#include "core/utf8.h"
#include "data/catalog.h"
#include "decode/sampler.h"
#include "eval/score.h"

namespace cartlm {

const char* decode_mode_name(DecodeMode m) {
  return m == DecodeMode::Free ? "free" : "constrained";
}

Result<DecodeMode> parse_decode_mode(std::string_view name) {
  if (name == "constrained") return DecodeMode::Constrained;
  if (name == "free") return DecodeMode::Free;
  return error("unknown decode mode \"" + std::string(name) + "\" (use constrained or free)");
}

namespace {

const char* kInstruction =
    "Turn the shopper's message into a cart action: a JSON object with the action (add or "
    "remove), the product (one name from the catalog) and the quantity.";

std::string catalog_line(const IntentMeta& meta) {
  return "Catalog: " + join(meta.products, ", ") + ".";
}

// Few-shot examples spread evenly over the file (every n/k-th), so they are not all the first
// template the generator wrote.
std::vector<Example> pick_shots(const std::vector<Example>& all, size_t k) {
  std::vector<Example> out;
  if (k == 0 || all.empty()) return out;
  k = std::min(k, all.size());
  for (size_t i = 0; i < k; ++i) out.push_back(all[i * all.size() / k]);
  return out;
}

std::vector<int32_t> encode_parts(const Tokenizer& tok, const PromptParts& p) {
  std::vector<int32_t> ids = encode(tok, p.head, tok.add_bos, true);
  std::vector<int32_t> body = encode(tok, p.body, false, false);
  ids.insert(ids.end(), body.begin(), body.end());
  if (!p.tail.empty()) {
    std::vector<int32_t> tail = encode(tok, p.tail, false, true);
    ids.insert(ids.end(), tail.begin(), tail.end());
  }
  return ids;
}

// Byte offsets where the pre-tokenizer's pieces of `text` start, plus text.size().
std::vector<size_t> piece_bounds(const Tokenizer& tok, std::string_view text) {
  std::vector<size_t> b{0};
  for (const std::string& p : pre_tokenize(tok, text)) b.push_back(b.back() + p.size());
  return b;
}

// Jump-forward: the tokens for the longest part of the forced text that the tokenizer would
// produce the same way whatever comes next. `out` is the completion so far (always encoded on its
// own in training, so pieces are computed over the completion only), `state` the grammar state
// after it. A region qualifies when it starts and ends on pre-tokenizer piece boundaries of
// out+forced; the end of the forced text counts as a boundary only if it stays one for every byte
// the grammar allows next. Returns the number of forced bytes covered (0: step instead).
}  // namespace

size_t jump_forward_tokens(const Recognizer& r, const std::string& out, int32_t state,
                           std::vector<int32_t>* toks) {
  toks->clear();
  const IntentGrammar& g = r.grammar;
  const Tokenizer& tok = r.model->tokenizer;
  std::string forced = grammar_forced(g, state);
  if (forced.empty()) return 0;
  std::string t = out + forced;
  std::vector<size_t> bounds = piece_bounds(tok, t);
  // A boundary must sit exactly where the chosen tokens end, else the next piece is unfinished.
  if (!std::binary_search(bounds.begin(), bounds.end(), out.size())) return 0;
  size_t end = t.size();
  int32_t after = grammar_walk(g, state, forced);
  if (after != g.accept) {
    for (uint8_t b : grammar_next_bytes(g, after)) {
      std::string cont = t;
      cont.push_back((char)b);
      cont += grammar_some_completion(g, grammar_next(g, after, b));
      std::vector<size_t> cb = piece_bounds(tok, cont);
      bool stable = std::binary_search(cb.begin(), cb.end(), t.size());
      for (size_t x : bounds)
        if (x >= out.size() && x <= t.size()) stable = stable && std::binary_search(cb.begin(), cb.end(), x);
      if (!stable) {
        // Leave the last piece to stepping: the model decides how it continues.
        end = bounds.size() >= 2 ? bounds[bounds.size() - 2] : 0;
        break;
      }
    }
  }
  if (end <= out.size()) return 0;
  std::string region = t.substr(out.size(), end - out.size());
  *toks = encode(tok, region, false, false);
  // The tokens must spell the region with ordinary tokens; anything else: step instead.
  std::string back;
  for (int32_t id : *toks) {
    if (id < 0 || id >= tok.size() || tok.is_special(id)) {
      toks->clear();
      return 0;
    }
    back += token_to_piece(tok, id);
  }
  if (back != region) {
    toks->clear();
    return 0;
  }
  return region.size();
}

namespace {

// The bytes every grammar path needs; each must be a single-byte token so any path is spellable.
Status check_vocab_spells(const Recognizer& r) {
  std::set<uint8_t> need{'}'};
  for (char c = '0'; c <= '9'; ++c) need.insert((uint8_t)c);
  for (const auto& edges : r.grammar.head)
    for (const auto& e : edges) need.insert(e.first);
  const Tokenizer& tok = r.model->tokenizer;
  for (uint8_t b : need) {
    int32_t node = r.vocab.nodes.empty() ? -1 : r.vocab.nodes[0].first_child;
    while (node >= 0 && r.vocab.nodes[(size_t)node].byte != b) node = r.vocab.nodes[(size_t)node].next_sibling;
    if (node < 0 || r.vocab.nodes[(size_t)node].first_token < 0)
      return error(strformat("tokenizer (%d tokens) has no token for byte 0x%02x, which the intent "
                             "grammar needs", tok.size(), b));
  }
  return {};
}

}  // namespace

PromptParts recognizer_prompt(const Recognizer& r, std::string_view text) {
  PromptParts p;
  const IntentMeta& meta = r.meta;
  if (r.shots.empty()) {
    p.body = render_prompt(meta, text);
    return p;
  }
  std::string intro = std::string(kInstruction) + "\n" + catalog_line(meta);
  switch (r.chat) {
    case ChatStyle::Llama3: {
      auto turn = [](const char* role, const std::string& content) {
        return "<|start_header_id|>" + std::string(role) + "<|end_header_id|>\n\n" + content + "<|eot_id|>";
      };
      p.head = turn("system", intro);
      for (const Example& ex : r.shots)
        p.head += turn("user", ex.text) + turn("assistant", label_to_json_text(ex.label));
      p.head += "<|start_header_id|>user<|end_header_id|>\n\n";
      p.body = std::string(text);
      p.tail = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    }
    case ChatStyle::ChatMl: {
      auto turn = [](const char* role, const std::string& content) {
        return "<|im_start|>" + std::string(role) + "\n" + content + "<|im_end|>\n";
      };
      p.head = turn("system", intro);
      for (const Example& ex : r.shots)
        p.head += turn("user", ex.text) + turn("assistant", label_to_json_text(ex.label));
      p.head += "<|im_start|>user\n";
      p.body = std::string(text);
      p.tail = "<|im_end|>\n<|im_start|>assistant\n";
      break;
    }
    case ChatStyle::None: {
      p.body = intro + "\n\n";
      for (const Example& ex : r.shots)
        p.body += render_prompt(meta, ex.text) + label_to_json_text(ex.label) + "\n\n";
      p.body += render_prompt(meta, text);
      break;
    }
  }
  return p;
}

Status check_input_text(const Recognizer& r, std::string_view text) {
  if (text.size() > r.opt.max_text_bytes)
    return error(strformat("text is %zu bytes, the limit is %zu", text.size(), r.opt.max_text_bytes));
  if (!is_valid_utf8(text))
    return error(strformat("text is not valid UTF-8 (byte %zu)", first_invalid_utf8(text)));
  if (trim(text).empty()) return error("text is empty");
  return {};
}

Result<std::unique_ptr<Recognizer>> recognizer_create(const LoadedModel& m,
                                                      const RecognizerOptions& opt) {
  auto r = std::make_unique<Recognizer>();
  r->model = &m;
  r->opt = opt;
  r->meta = m.meta;
  if (opt.few_shot < 0) return error(strformat("few-shot count %d is negative", opt.few_shot));
  if (opt.few_shot > 0 && opt.few_shot_file.empty())
    return error("few-shot prompting needs a file of examples (--few-shot-file)");
  if (opt.max_text_bytes == 0 || opt.max_text_tokens == 0 || opt.max_new_tokens == 0)
    return error("max text bytes/tokens and max new tokens must be positive");
  if (r->meta.products.empty()) {
    r->meta.products = default_catalog().names();
    r->catalog_fallback = true;
    r->warnings.push_back(m.path + ": the model names no catalog (no cartlm.json / cartlm.products); "
                          "using the built-in catalog (" +
                          std::to_string(r->meta.products.size()) + " products)");
  }
  CARTLM_RETURN_IF_ERROR(validate_intent_meta(r->meta).with_context(m.path));
  CARTLM_ASSIGN_OR_RETURN(r->grammar, intent_grammar(r->meta.products, opt.max_quantity));
  const Tokenizer& tok = m.tokenizer;
  r->vocab = vocab_trie(tok);
  CARTLM_RETURN_IF_ERROR(check_vocab_spells(*r));
  r->stop_ids = tok.eog_ids;
  if (r->stop_ids.empty() && tok.eos_id >= 0) r->stop_ids.push_back(tok.eos_id);

  if (opt.few_shot > 0) {
    CARTLM_ASSIGN_OR_RETURN(std::vector<Example> all, read_dataset(opt.few_shot_file));
    if (all.empty()) return error(opt.few_shot_file + ": no examples for few-shot prompting");
    r->shots = pick_shots(all, (size_t)opt.few_shot);
    const std::string& ct = tok.chat_template;
    if (ct.find("<|start_header_id|>") != std::string::npos && tok.find("<|start_header_id|>") &&
        tok.find("<|end_header_id|>") && tok.find("<|eot_id|>")) {
      r->chat = ChatStyle::Llama3;
    } else if (ct.find("<|im_start|>") != std::string::npos && tok.find("<|im_start|>") &&
               tok.find("<|im_end|>")) {
      r->chat = ChatStyle::ChatMl;
    }
  }

  // The fixed prefix: the tokens that texts of every kind of first character share, i.e. what
  // the session cache reuses at least (a merge across the boundary shortens it for some texts).
  {
    r->prefix_tokens = encode_parts(tok, recognizer_prompt(*r, "x"));
    for (const char* probe : {"7 Q", "A", " a", "\"", ".", "\xC2\xBFQu\xC3\xA9", "\n"}) {
      std::vector<int32_t> b = encode_parts(tok, recognizer_prompt(*r, probe));
      size_t n = 0;
      while (n < r->prefix_tokens.size() && n < b.size() && r->prefix_tokens[n] == b[n]) ++n;
      r->prefix_tokens.resize(n);
    }
  }
  PromptParts empty = recognizer_prompt(*r, "");

  size_t ctx = (size_t)m.model.config.max_position_embeddings;
  size_t fixed = encode_parts(tok, empty).size();
  // Joint encoding of template + text can cost a few tokens more than the text alone.
  size_t want = fixed + opt.max_text_tokens + opt.max_new_tokens + 16;
  if (fixed + 8 >= ctx)
    return error(strformat("%s: the prompt without text is already %zu tokens, the model's context "
                           "is %zu",
                           m.path.c_str(), fixed, ctx));
  r->max_seq = std::min(ctx, want);
  return r;
}

Result<std::unique_ptr<RecognizerSession>> recognizer_session(const Recognizer& r) {
  auto s = std::make_unique<RecognizerSession>();
  LlamaSessionOptions so;
  so.max_seq = r.max_seq;
  so.max_batch = 64;
  CARTLM_ASSIGN_OR_RETURN(s->llama, llama_session(r.model->model, so));
  return s;
}

Status recognizer_check_room(const Recognizer& r, const RecognizerSession& s) {
  if (s.llama.n_past + s.feed.size() > r.max_seq)
    return error(strformat("the request needs more than %zu positions (the session's context)", r.max_seq));
  return {};
}

ConstrainedDecode constrained_begin(const Recognizer& r, const RecognizerSession& s) {
  ConstrainedDecode d;
  d.state = grammar_start(r.grammar);
  // The prompt (s.feed on entry) is always one batch.
  d.one_by_one_from = r.opt.jump_forward ? SIZE_MAX : s.feed.size();
  return d;
}

bool constrained_prepare(const Recognizer& r, RecognizerSession& s, ConstrainedDecode& d,
                         IntentResult& res) {
  const IntentGrammar& g = r.grammar;
  // s.feed holds what must go in before the next choice; add the forced continuation.
  size_t n = jump_forward_tokens(r, res.output_text, d.state, &s.ids);
  if (n > 0) {
    std::string region = grammar_forced(g, d.state).substr(0, n);
    res.output_text += region;
    d.state = grammar_walk(g, d.state, region);
    CARTLM_CHECK(d.state >= 0);
    s.feed.insert(s.feed.end(), s.ids.begin(), s.ids.end());
    res.generated_tokens += s.ids.size();
  }
  return grammar_accepting(g, d.state);  // done: no need to run the last tokens
}

void constrained_fed(const Recognizer& r, ConstrainedDecode& d) {
  if (!r.opt.jump_forward) d.one_by_one_from = 0;
}

Result<bool> constrained_choose(const Recognizer& r, RecognizerSession& s, ConstrainedDecode& d,
                                IntentResult& res) {
  const IntentGrammar& g = r.grammar;
  if (d.steps++ >= r.opt.max_new_tokens)
    return error(strformat("no complete intent within %zu decoding steps", r.opt.max_new_tokens));
  const std::vector<int32_t>& allowed = cached_allowed_tokens(g, r.vocab, s.masks, d.state);
  CARTLM_CHECK(!allowed.empty());  // check_vocab_spells guarantees a way forward
  const float* logits = llama_logits(s.llama);
  int32_t best = allowed[0];
  for (int32_t id : allowed)
    if (logits[id] > logits[best]) best = id;
  std::string_view piece = token_to_piece(r.model->tokenizer, best);
  res.output_text += piece;
  d.state = grammar_walk(g, d.state, piece);
  CARTLM_CHECK(d.state >= 0);
  ++res.generated_tokens;
  s.feed.push_back(best);
  return grammar_accepting(g, d.state);
}

namespace {

// Feeds s.feed, keeping s.cached in step with the KV cache. Without jump-forward the tokens from
// `one_by_one_from` on go in one forward pass each (the same tokens, so the same output: the
// comparison that shows what batching saves).
Status feed(const Recognizer& r, RecognizerSession& s, IntentResult& res, ThreadPool* pool,
            size_t one_by_one_from = SIZE_MAX) {
  CARTLM_RETURN_IF_ERROR(recognizer_check_room(r, s));
  size_t split = std::min(one_by_one_from, s.feed.size());
  std::span<const int32_t> all(s.feed);
  if (split > 0) {
    CARTLM_RETURN_IF_ERROR(llama_forward(r.model->model, s.llama, all.subspan(0, split), pool));
    s.cached.insert(s.cached.end(), s.feed.begin(), s.feed.begin() + (std::ptrdiff_t)split);
    ++res.forward_passes;
  }
  for (size_t i = split; i < s.feed.size(); ++i) {
    CARTLM_RETURN_IF_ERROR(llama_forward(r.model->model, s.llama, all.subspan(i, 1), pool));
    s.cached.push_back(s.feed[i]);
    ++res.forward_passes;
  }
  return {};
}

Status decode_constrained(const Recognizer& r, RecognizerSession& s, IntentResult& res,
                          ThreadPool* pool) {
  ConstrainedDecode d = constrained_begin(r, s);
  while (!constrained_prepare(r, s, d, res)) {
    CARTLM_RETURN_IF_ERROR(feed(r, s, res, pool, d.one_by_one_from));
    s.feed.clear();
    constrained_fed(r, d);
    CARTLM_ASSIGN_OR_RETURN(bool done, constrained_choose(r, s, d, res));
    if (done) break;
  }
  s.feed.clear();
  return {};
}

Status decode_free(const Recognizer& r, RecognizerSession& s, IntentResult& res, ThreadPool* pool) {
  const Tokenizer& tok = r.model->tokenizer;
  // A base model prompted with plain-text shots goes on writing the next example; its answer is
  // the first line (the JSON has no newline).
  bool stop_at_newline = !r.shots.empty() && r.chat == ChatStyle::None;
  int32_t vocab = (int32_t)r.model->model.config.vocab_size;
  while (true) {
    CARTLM_RETURN_IF_ERROR(feed(r, s, res, pool));
    s.feed.clear();
    int32_t next = argmax(llama_logits(s.llama), vocab);
    if (std::find(r.stop_ids.begin(), r.stop_ids.end(), next) != r.stop_ids.end() || tok.is_eog(next))
      break;
    ++res.generated_tokens;
    if (!tok.is_special(next)) res.output_text += token_to_piece(tok, next);
    if (stop_at_newline) {
      size_t nl = res.output_text.find('\n');
      if (nl != std::string::npos && !trim(res.output_text.substr(0, nl)).empty()) {
        res.output_text.resize(nl);
        break;
      }
    }
    if (res.generated_tokens >= r.opt.max_new_tokens) break;
    s.feed.push_back(next);
  }
  s.feed.clear();
  return {};
}

}  // namespace

Result<IntentResult> recognize_start(const Recognizer& r, RecognizerSession& s,
                                     std::string_view text) {
  CARTLM_RETURN_IF_ERROR(check_input_text(r, text));
  const Tokenizer& tok = r.model->tokenizer;
  size_t text_tokens = encode(tok, text, false, false).size();
  if (text_tokens > r.opt.max_text_tokens)
    return error(strformat("text is %zu tokens, the limit is %zu", text_tokens, r.opt.max_text_tokens));
  IntentResult res;
  s.ids = encode_parts(tok, recognizer_prompt(r, text));
  CARTLM_CHECK(!s.ids.empty());
  res.prompt_tokens = s.ids.size();
  if (s.ids.size() + 1 > r.max_seq)
    return error(strformat("prompt is %zu tokens, the session holds %zu", s.ids.size(), r.max_seq));

  // Reuse the cached keys/values of the longest common token prefix with the previous request
  // (usually the template's fixed prefix with BOS). Comparing tokens, not text, means a BPE merge
  // across the prefix/text boundary simply shortens what is reused. One token is always fed, so
  // the logits are fresh.
  size_t reuse = 0;
  if (r.opt.prefix_cache) {
    size_t n = std::min(s.cached.size(), s.ids.size() - 1);
    while (reuse < n && s.cached[reuse] == s.ids[reuse]) ++reuse;
  }
  llama_truncate(s.llama, reuse);
  s.cached.resize(reuse);
  res.cached_tokens = reuse;
  s.feed.assign(s.ids.begin() + (std::ptrdiff_t)reuse, s.ids.end());
  return res;
}

void recognize_finish(const Recognizer&, RecognizerSession& s, const Status& st, IntentResult& res) {
  s.feed.clear();
  if (!st.ok()) {
    res.error = st.message();
  } else {
    OutputCheck check = check_output(res.output_text);
    res.valid = check.schema_ok;
    if (check.parsed) res.label = *check.parsed;
    res.error = check.reason;
  }
}

Result<IntentResult> recognize(const Recognizer& r, RecognizerSession& s, std::string_view text,
                               ThreadPool* pool) {
  Timer timer;
  CARTLM_ASSIGN_OR_RETURN(IntentResult res, recognize_start(r, s, text));
  Status st = r.opt.mode == DecodeMode::Constrained ? decode_constrained(r, s, res, pool)
                                                    : decode_free(r, s, res, pool);
  recognize_finish(r, s, st, res);
  res.latency_ms = timer.ms();
  return res;
}

}  // namespace cartlm
