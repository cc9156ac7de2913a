#include "decode/recognizer_batch.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

namespace cartlm {

namespace {
// BatchSlot::fed == kUnprepared: the slot's next feed still needs its jump-forward tokens and the
// room check (done in batch_step, which can hand back a text that completes there).
constexpr size_t kUnprepared = SIZE_MAX;

// Copies the keys/values of positions 0..n-1 from `src` to `dst` (sessions of one model with the
// same options, so the same cache layout) and makes them dst's whole cache. Keys and values of a
// token prefix do not depend on which session computed them, so this equals feeding the prefix.
void copy_kv_prefix(const LlamaSession& src, LlamaSession& dst, size_t n) {
  CARTLM_CHECK(n <= src.n_past && n <= dst.opt.max_seq &&
               src.layer_cache_bytes == dst.layer_cache_bytes && src.k_cache.size() == dst.k_cache.size());
  const size_t row = src.layer_cache_bytes / src.opt.max_seq;
  for (size_t off = 0; off < src.k_cache.size(); off += src.layer_cache_bytes) {
    std::memcpy(dst.k_cache.data() + off, src.k_cache.data() + off, n * row);
    std::memcpy(dst.v_cache.data() + off, src.v_cache.data() + off, n * row);
  }
  dst.n_past = n;
  dst.n_logits = 0;
}

// Every slot starts with the fixed prompt prefix in its KV cache (computed once, copied to the
// others), so the first text of each slot does not prefill it again: one prefill per worker
// instead of one per slot.
Status warm_slots(RecognizerBatch& b) {
  const Recognizer& r = *b.r;
  const std::vector<int32_t>& prefix = r.prefix_tokens;
  if (!r.opt.prefix_cache || prefix.empty() || prefix.size() >= r.max_seq) return {};
  RecognizerSession& first = *b.slots[0].session;
  CARTLM_RETURN_IF_ERROR(llama_forward(r.model->model, first.llama, prefix));
  first.cached = prefix;
  for (size_t i = 1; i < b.slots.size(); ++i) {
    RecognizerSession& s = *b.slots[i].session;
    copy_kv_prefix(first.llama, s.llama, prefix.size());
    s.cached = prefix;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<RecognizerBatch>> recognizer_batch(const Recognizer& r, size_t slots,
                                                          size_t max_rows) {
  if (r.opt.mode != DecodeMode::Constrained)
    return error("batched recognition needs constrained decoding (free decoding runs one text at a time)");
  if (slots == 0) return error("batched recognition needs at least one slot");
  auto b = std::make_unique<RecognizerBatch>();
  b->r = &r;
  b->slots.resize(slots);
  for (BatchSlot& sl : b->slots) {
    CARTLM_ASSIGN_OR_RETURN(sl.session, recognizer_session(r));
  }
  // Enough rows for a decode step of every slot (chosen token + a few jump-forward tokens) with
  // room left for prompt chunks of texts that just joined.
  if (max_rows == 0) max_rows = std::max<size_t>(128, 8 * slots);
  CARTLM_ASSIGN_OR_RETURN(b->scratch, llama_multi_scratch(r.model->model, max_rows));
  CARTLM_RETURN_IF_ERROR(warm_slots(*b));
  return b;
}

size_t batch_free_slot(const RecognizerBatch& b) {
  for (size_t i = 0; i < b.slots.size(); ++i)
    if (!b.slots[i].busy) return i;
  return SIZE_MAX;
}

size_t batch_active(const RecognizerBatch& b) {
  size_t n = 0;
  for (const BatchSlot& sl : b.slots) n += sl.busy ? 1 : 0;
  return n;
}

Status batch_start(RecognizerBatch& b, size_t slot, std::string_view text) {
  CARTLM_CHECK(slot < b.slots.size() && !b.slots[slot].busy);
  BatchSlot& sl = b.slots[slot];
  sl.timer.reset();
  CARTLM_ASSIGN_OR_RETURN(sl.res, recognize_start(*b.r, *sl.session, text));
  sl.dec = constrained_begin(*b.r, *sl.session);
  sl.fed = kUnprepared;
  sl.busy = true;
  sl.seq = b.next_seq++;
  return {};
}

namespace {

void finish(RecognizerBatch& b, size_t i, const Status& st, std::vector<BatchFinished>* done) {
  BatchSlot& sl = b.slots[i];
  recognize_finish(*b.r, *sl.session, st, sl.res);
  sl.res.latency_ms = sl.timer.ms();
  done->push_back(BatchFinished{i, std::move(sl.res)});
  sl.res = IntentResult{};
  sl.busy = false;
  sl.fed = kUnprepared;
}

// What recognize()'s loop does before each forward pass: the forced tokens, then the room check.
void prepare(RecognizerBatch& b, size_t i, std::vector<BatchFinished>* done) {
  BatchSlot& sl = b.slots[i];
  if (constrained_prepare(*b.r, *sl.session, sl.dec, sl.res)) return finish(b, i, Status(), done);
  Status room = recognizer_check_room(*b.r, *sl.session);
  if (!room.ok()) return finish(b, i, room, done);
  sl.fed = 0;
}

// Tokens slot `sl` wants in this pass: the rest of its feed, but without jump-forward the tokens
// after the prompt go one per pass (as in recognize()).
size_t want_rows(const BatchSlot& sl) {
  const size_t total = sl.session->feed.size();
  CARTLM_CHECK(sl.fed < total);
  if (sl.fed < sl.dec.one_by_one_from) return std::min(total, sl.dec.one_by_one_from) - sl.fed;
  return 1;
}

}  // namespace

size_t batch_step(RecognizerBatch& b, ThreadPool* pool, std::vector<BatchFinished>* done) {
  const Recognizer& r = *b.r;
  for (size_t i = 0; i < b.slots.size(); ++i)
    if (b.slots[i].busy && b.slots[i].fed == kUnprepared) prepare(b, i, done);

  // Rows go to the oldest texts first, so a text that joined late cannot hold back the steps of
  // those already decoding; a long prompt takes what is left and goes on in the next pass.
  b.order.clear();
  for (size_t i = 0; i < b.slots.size(); ++i)
    if (b.slots[i].busy) b.order.push_back(i);
  std::sort(b.order.begin(), b.order.end(),
            [&](size_t x, size_t y) { return b.slots[x].seq < b.slots[y].seq; });
  size_t budget = b.scratch.max_rows;
  b.in_pass.clear();
  b.sessions.clear();
  b.tokens.clear();
  for (size_t i : b.order) {
    if (budget == 0) break;
    BatchSlot& sl = b.slots[i];
    size_t n = std::min(want_rows(sl), budget);
    budget -= n;
    b.in_pass.push_back(i);
    b.sessions.push_back(&sl.session->llama);
    b.tokens.push_back(std::span<const int32_t>(sl.session->feed).subspan(sl.fed, n));
  }
  if (b.in_pass.empty()) return 0;

  const size_t S = b.in_pass.size();
  std::vector<Status> failed(S);
  Status st = llama_forward_multi(r.model->model, b.sessions, b.tokens, b.scratch, pool);
  if (!st.ok()) {
    // llama_forward_multi checks everything before it changes anything; run each text alone so
    // only the one with bad input fails, with the error recognize() would give it.
    for (size_t k = 0; k < S; ++k) failed[k] = llama_forward(r.model->model, *b.sessions[k], b.tokens[k], pool);
  }
  for (size_t k = 0; k < S; ++k) {
    const size_t i = b.in_pass[k];
    BatchSlot& sl = b.slots[i];
    RecognizerSession& s = *sl.session;
    if (!failed[k].ok()) {
      finish(b, i, failed[k], done);
      continue;
    }
    s.cached.insert(s.cached.end(), b.tokens[k].begin(), b.tokens[k].end());
    sl.fed += b.tokens[k].size();
    ++sl.res.forward_passes;
    if (sl.fed < s.feed.size()) continue;  // more of the prompt next pass
    s.feed.clear();
    constrained_fed(r, sl.dec);
    Result<bool> chosen = constrained_choose(r, s, sl.dec, sl.res);
    if (!chosen.ok()) {
      finish(b, i, chosen.status(), done);
    } else if (*chosen) {
      finish(b, i, Status(), done);
    } else {
      prepare(b, i, done);  // a text the forced tokens complete leaves right away
    }
  }
  return S;
}

std::vector<Result<IntentResult>> recognize_batch(RecognizerBatch& b, std::span<const std::string> texts,
                                                  ThreadPool* pool) {
  std::vector<std::optional<Result<IntentResult>>> got(texts.size());
  std::vector<size_t> text_of(b.slots.size(), 0);
  std::vector<BatchFinished> done;
  size_t next = 0;
  while (next < texts.size() || batch_active(b) > 0) {
    for (size_t slot; next < texts.size() && (slot = batch_free_slot(b)) != SIZE_MAX; ++next) {
      Status st = batch_start(b, slot, texts[next]);
      if (!st.ok()) {
        got[next] = Result<IntentResult>(st);
      } else {
        text_of[slot] = next;
      }
    }
    done.clear();
    batch_step(b, pool, &done);
    for (BatchFinished& f : done) got[text_of[f.slot]] = Result<IntentResult>(std::move(f.result));
  }
  std::vector<Result<IntentResult>> out;
  out.reserve(texts.size());
  for (auto& g : got) {
    CARTLM_CHECK(g.has_value());
    out.push_back(std::move(*g));
  }
  return out;
}

}  // namespace cartlm
