// The model side of the server: a Backend whose workers each run their texts over one shared
// Recognizer with their own ThreadPool for the forward pass.
//
// Constrained decoding (the default) is batched: each worker has max_batch slots, each a
// RecognizerSession (KV cache, prefix cache), and every step runs the new tokens of all its texts
// in one shared forward pass (decode/recognizer_batch.h); a text joins at the next step and
// leaves when its answer is complete. Free decoding, or batched = false, runs a worker's texts
// one after another through recognize() on a single session.
#pragma once
#include <memory>

#include "decode/recognizer.h"
#include "serve/scheduler.h"

namespace cartlm::serve {

struct RecognizerBackendOptions {
  int workers = 1;             // concurrent workers (threads)
  int threads_per_worker = 1;  // forward-pass threads of each worker
  size_t max_batch = 1;        // texts a worker has in flight, sharing its forward passes
  bool batched = true;         // false: texts run one by one (the comparison for the load test)
};

// `recognizer` must outlive the server. The model name is what /v1/models and answers report.
Backend recognizer_backend(const Recognizer& recognizer, const std::string& model_name,
                           const RecognizerBackendOptions& opt);

// Maps one recognize() result to the API's answer (an error Result becomes a rejected input).
IntentAnswer to_answer(const Result<IntentResult>& r);

}  // namespace cartlm::serve
