#include "serve/backend.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "decode/recognizer_batch.h"

namespace cartlm::serve {

IntentAnswer to_answer(const Result<IntentResult>& r) {
  IntentAnswer a;
  if (!r.ok()) {
    // recognize() only fails on the text itself (limits, UTF-8): the client's fault.
    a.rejected_input = true;
    a.error = r.status().message();
    return a;
  }
  a.valid = r->valid;
  a.label = r->label;
  a.output_text = r->output_text;
  a.error = r->error;
  a.prompt_tokens = r->prompt_tokens;
  a.generated_tokens = r->generated_tokens;
  a.latency_ms = r->latency_ms;
  return a;
}

Backend recognizer_backend(const Recognizer& recognizer, const std::string& model_name,
                           const RecognizerBackendOptions& opt) {
  Backend b;
  b.model_name = model_name;
  b.workers = opt.workers;
  b.max_batch = opt.max_batch;
  const Recognizer* rec = &recognizer;
  int threads = opt.threads_per_worker;
  size_t slots = std::max<size_t>(opt.max_batch, 1);
  if (opt.batched && recognizer.opt.mode == DecodeMode::Constrained) {
    b.make_slot_worker = [rec, threads, slots](int) -> Result<SlotWorker> {
      // Shared by the copies of the returned functions; lives as long as the worker.
      struct State {
        std::unique_ptr<RecognizerBatch> batch;
        std::unique_ptr<ThreadPool> pool;
        std::vector<BatchFinished> done;
      };
      auto st = std::make_shared<State>();
      CARTLM_ASSIGN_OR_RETURN(st->batch, recognizer_batch(*rec, slots));
      if (threads > 1) st->pool = std::make_unique<ThreadPool>(threads);
      SlotWorker w;
      w.slots = slots;
      w.start = [st](size_t slot, const std::string& text) -> std::optional<IntentAnswer> {
        Status s = batch_start(*st->batch, slot, text);
        if (s.ok()) return std::nullopt;
        return to_answer(Result<IntentResult>(s));
      };
      w.step = [st](std::vector<std::pair<size_t, IntentAnswer>>* done) {
        st->done.clear();
        size_t n = batch_step(*st->batch, st->pool.get(), &st->done);
        for (BatchFinished& f : st->done)
          done->emplace_back(f.slot, to_answer(Result<IntentResult>(std::move(f.result))));
        return n;
      };
      return w;
    };
    return b;
  }
  b.make_worker = [rec, threads](int) -> Result<BatchFn> {
    // Shared by the copies of the returned std::function; lives as long as the worker.
    struct State {
      std::unique_ptr<RecognizerSession> session;
      std::unique_ptr<ThreadPool> pool;
    };
    auto st = std::make_shared<State>();
    CARTLM_ASSIGN_OR_RETURN(st->session, recognizer_session(*rec));
    if (threads > 1) st->pool = std::make_unique<ThreadPool>(threads);
    BatchFn fn = [rec, st](const std::vector<std::string>& texts) {
      std::vector<IntentAnswer> out;
      out.reserve(texts.size());
      for (const std::string& t : texts) {
        out.push_back(to_answer(recognize(*rec, *st->session, t, st->pool.get())));
      }
      return out;
    };
    return fn;
  };
  return b;
}

}  // namespace cartlm::serve
