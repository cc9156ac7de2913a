// The model side of the server: a Backend whose workers each own a RecognizerSession (and their
// own ThreadPool for the forward pass) over one shared Recognizer.
#pragma once
#include <memory>

#include "decode/recognizer.h"
#include "serve/scheduler.h"

namespace cartlm::serve {

struct RecognizerBackendOptions {
  int workers = 1;           // concurrent sessions (KV caches)
  int threads_per_worker = 1;  // forward-pass threads of each worker
  size_t max_batch = 1;      // texts a worker takes per step (run one after another)
};

// `recognizer` must outlive the server. The model name is what /v1/models and answers report.
Backend recognizer_backend(const Recognizer& recognizer, const std::string& model_name,
                           const RecognizerBackendOptions& opt);

// Maps one recognize() result to the API's answer (an error Result becomes a rejected input).
IntentAnswer to_answer(const Result<IntentResult>& r);

}  // namespace cartlm::serve
