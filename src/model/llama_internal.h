// Shared by llama_forward (llama.cpp) and llama_forward_multi (llama_multi.cpp): the input checks
// and the one forward step both run, so one session is just the single-group case of several.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/status.h"
#include "model/llama.h"

namespace cartlm {

class ThreadPool;

// Checks that `tokens` can be fed to `s` in one call: non-empty, ids in the vocabulary, within
// max_seq, and (with all_logits) within max_batch. `index` names the session in a multi-session
// call (the message then starts with "session <index>: "); SIZE_MAX for a single session.
Status llama_check_feed(const LlamaModel& m, const LlamaSession& s, std::span<const int32_t> tokens,
                        size_t index);

// One forward step: tokens[i] (non-empty, already checked) run on *sessions[i] at its next
// positions, all groups stacked into sc's rows (their total must fit sc.max_rows), so each weight
// matrix is one matmul for all of them while attention runs per session against its own cache.
// With `logits`, every session gets its logits (all rows of the group with all_logits, else the
// last) and n_logits; a single session's go straight into it, several sessions' through
// sc.logits. Every session advances n_past. Never allocates.
void llama_step(const LlamaModel& m, std::span<LlamaSession* const> sessions,
                std::span<const std::span<const int32_t>> tokens, bool logits, LlamaScratch& sc,
                ThreadPool* pool);

}  // namespace cartlm
