#include "train/train_data.h"

#include <algorithm>

#include "core/strings.h"

namespace cartlm {

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const IntentMeta& meta,
                                   const std::string& text) {
  return encode(tok, render_prompt(meta, text), tok.add_bos, /*parse_special=*/false);
}

Result<std::vector<TokenizedExample>> tokenize_examples(const std::vector<Example>& examples,
                                                        const Tokenizer& tok,
                                                        const IntentMeta& meta, size_t max_seq,
                                                        const std::string& source,
                                                        double bpe_dropout, uint64_t seed) {
  if (tok.eos_id < 0) return error(source + ": the tokenizer has no eos token to end completions");
  std::vector<TokenizedExample> out;
  out.reserve(examples.size());
  const Rng root(seed);
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& ex = examples[i];
    TokenizedExample t;
    if (bpe_dropout > 0) {
      Rng rng = root.fork(i);
      BpeDropout d{bpe_dropout, &rng};
      t.tokens = encode(tok, render_prompt(meta, ex.text), tok.add_bos, /*parse_special=*/false, &d);
    } else {
      t.tokens = prompt_tokens(tok, meta, ex.text);
    }
    t.prompt_len = (int32_t)t.tokens.size();
    std::vector<int32_t> completion =
        encode(tok, label_to_json_text(ex.label), /*add_bos=*/false, /*parse_special=*/false);
    t.tokens.insert(t.tokens.end(), completion.begin(), completion.end());
    t.tokens.push_back(tok.eos_id);
    if (t.prompt_len < 1)
      return error(strformat("%s: example '%s' has an empty prompt (no bos and no text)",
                             source.c_str(), ex.id.c_str()));
    if (t.inputs() > max_seq)
      return error(strformat("%s: example '%s' needs %zu tokens, more than --max-seq %zu",
                             source.c_str(), ex.id.c_str(), t.inputs(), max_seq));
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::vector<uint32_t>> make_batches(const std::vector<size_t>& lengths,
                                                size_t batch_size, size_t bucket_batches,
                                                Rng& rng) {
  CARTLM_CHECK(batch_size > 0);
  std::vector<uint32_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = (uint32_t)i;
  rng.shuffle(order);
  const size_t window = batch_size * std::max<size_t>(bucket_batches, 1);
  std::vector<std::vector<uint32_t>> batches;
  for (size_t w = 0; w < order.size(); w += window) {
    auto first = order.begin() + (ptrdiff_t)w;
    auto last = order.begin() + (ptrdiff_t)std::min(order.size(), w + window);
    if (bucket_batches > 1)
      std::stable_sort(first, last,
                       [&](uint32_t a, uint32_t b) { return lengths[a] < lengths[b]; });
    for (auto it = first; it < last; it += (ptrdiff_t)std::min<size_t>(batch_size, last - it))
      batches.emplace_back(it, it + (ptrdiff_t)std::min<size_t>(batch_size, last - it));
  }
  rng.shuffle(batches);
  return batches;
}

void fill_batch(Batch& b, const std::vector<TokenizedExample>& examples,
                const std::vector<uint32_t>& indices, int32_t pad_id) {
  b.B = indices.size();
  b.T = 0;
  for (uint32_t i : indices) b.T = std::max(b.T, examples[i].inputs());
  b.tokens.assign(b.B * b.T, pad_id);
  b.targets.assign(b.B * b.T, pad_id);
  b.mask.assign(b.B * b.T, 0);
  b.lens.assign(b.B, 0);
  b.loss_tokens = b.real_tokens = 0;
  for (size_t r = 0; r < b.B; ++r) {
    const TokenizedExample& ex = examples[indices[r]];
    const size_t n = ex.inputs();
    b.lens[r] = (int32_t)n;
    b.real_tokens += n;
    for (size_t t = 0; t < n; ++t) {
      b.tokens[r * b.T + t] = ex.tokens[t];
      b.targets[r * b.T + t] = ex.tokens[t + 1];
      // Target t+1 is in the completion (or is the eos) when t + 1 >= prompt_len.
      if (t + 1 >= (size_t)ex.prompt_len &&
          (ex.loss_targets.empty() || ex.loss_targets[t + 1])) {
        b.mask[r * b.T + t] = 1;
        ++b.loss_tokens;
      }
    }
  }
}

}  // namespace cartlm
