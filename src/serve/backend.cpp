#include "serve/backend.h"

#include "core/thread_pool.h"

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
