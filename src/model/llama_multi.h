// One forward pass over several sessions at once (the building block of continuous batching):
// the new tokens of every session are stacked into one activation matrix, so each weight matrix
// is read once per step for all of them (one matmul per weight instead of one per session), while
// attention runs per session against that session's own KV cache and positions.
//
// Results equal llama_forward() on each session separately: both run the same step (llama_step,
// model/llama_internal.h), and the kernels compute every output row with the same reduction order
// whatever the number of rows (tests/model/llama_multi_test.cpp checks this bit for bit).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/llama.h"

namespace cartlm {

class ThreadPool;

// A scratch for up to max_rows stacked tokens with as many logits rows (LlamaScratch, llama.h:
// the same activation buffers a session holds for its own steps). Error: max_rows 0.
Result<LlamaScratch> llama_multi_scratch(const LlamaModel& m, size_t max_rows);

// Feeds tokens[i] to *sessions[i] (every span non-empty, sum of sizes <= scratch.max_rows, each
// session within its max_seq and, with all_logits, within its max_batch). Afterwards each session
// holds logits like after llama_forward (last row, or all rows with all_logits) and has advanced
// n_past. Sessions must be distinct. Bad input returns an error before anything changes.
Status llama_forward_multi(const LlamaModel& m, std::span<LlamaSession* const> sessions,
                           std::span<const std::span<const int32_t>> tokens,
                           LlamaScratch& scratch, ThreadPool* pool = nullptr);

}  // namespace cartlm
