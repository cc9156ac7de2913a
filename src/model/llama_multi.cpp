#include "model/llama_multi.h"

#include "core/strings.h"
#include "model/llama_internal.h"

namespace cartlm {

Result<LlamaScratch> llama_multi_scratch(const LlamaModel& m, size_t max_rows) {
  return llama_scratch(m, max_rows, /*stacked_logits=*/true);
}

Status llama_forward_multi(const LlamaModel& m, std::span<LlamaSession* const> sessions,
                           std::span<const std::span<const int32_t>> tokens, LlamaScratch& sc,
                           ThreadPool* pool) {
  if (sessions.size() != tokens.size())
    return error(strformat("llama_forward_multi: %zu sessions but %zu token spans",
                           sessions.size(), tokens.size()));
  if (sessions.empty()) return error("llama_forward_multi: no sessions");
  // Everything is checked before anything changes, so a caller can retry the sessions one by one.
  size_t rows = 0;
  for (size_t i = 0; i < sessions.size(); ++i) {
    // A quadratic scan, not a set: no allocation per call, and a pass has a few dozen sessions.
    for (size_t j = 0; j < i; ++j)
      if (sessions[j] == sessions[i])
        return error(strformat("llama_forward_multi: session %zu repeats session %zu", i, j));
    CARTLM_RETURN_IF_ERROR(llama_check_feed(m, *sessions[i], tokens[i], i));
    rows += tokens[i].size();
  }
  if (rows > sc.max_rows)
    return error(strformat("llama_forward_multi: %zu tokens in all exceed the scratch's %zu rows",
                           rows, sc.max_rows));
  llama_step(m, sessions, tokens, /*logits=*/true, sc, pool);
  return {};
}

}  // namespace cartlm
