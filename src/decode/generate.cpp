#include "decode/generate.h"

#include <algorithm>
#include <filesystem>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/timer.h"
#include "formats/hf_config.h"
#include "model/weights.h"

namespace cartlm {

size_t utf8_complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = (unsigned char)s[n - back];
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

Result<GenerateStats> generate(const LoadedModel& m, const std::string& prompt,
                               const GenerateOptions& opt, ThreadPool* pool,
                               const std::function<void(std::string_view)>& on_text) {
  const Tokenizer& tok = m.tokenizer;
  const Config& c = m.model.config;
  std::vector<int32_t> ids = encode(tok, prompt, tok.add_bos, false);
  if (ids.empty()) return error("the prompt is empty (and the tokenizer adds no BOS)");
  size_t max_tokens = (size_t)std::max(opt.max_tokens, 0);
  size_t ctx = (size_t)c.max_position_embeddings;
  if (ids.size() >= ctx)
    return error(strformat("prompt has %zu tokens, the model's context is %zu", ids.size(), ctx));
  LlamaSessionOptions so;
  so.max_seq = std::min(ctx, ids.size() + max_tokens + 1);
  so.max_batch = std::min<size_t>(std::max<size_t>(ids.size(), 1), 256);
  CARTLM_ASSIGN_OR_RETURN(LlamaSession s, llama_session(m.model, so));
  Sampler sampler = make_sampler(opt.sampler, (int32_t)c.vocab_size);

  GenerateStats st;
  st.prompt_tokens = ids.size();
  Timer t;
  CARTLM_RETURN_IF_ERROR(llama_forward(m.model, s, ids, pool));
  st.prefill_s = t.seconds();
  t.reset();
  std::string pending;
  for (size_t i = 0; i < max_tokens; ++i) {
    int32_t next = sample(sampler, llama_logits(s));
    if (tok.is_eog(next)) {
      st.stopped_at_eog = true;
      break;
    }
    ++st.generated;
    pending += decode(tok, std::span<const int32_t>(&next, 1), false);
    size_t k = utf8_complete_prefix(pending);
    if (k > 0) {
      on_text(std::string_view(pending).substr(0, k));
      pending.erase(0, k);
    }
    if (i + 1 == max_tokens || s.n_past >= so.max_seq) break;
    CARTLM_RETURN_IF_ERROR(llama_forward(m.model, s, std::span<const int32_t>(&next, 1), pool));
  }
  if (!pending.empty()) on_text(pending);  // an unfinished character at the very end
  st.decode_s = t.seconds();
  return st;
}

}  // namespace cartlm
