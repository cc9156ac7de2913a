#include "train/imatrix_collect.h"

#include "core/progress.h"
#include "core/strings.h"
#include "train/gptq_run.h"

namespace cartlm {

std::vector<std::vector<int32_t>> limit_to_chunks(std::vector<std::vector<int32_t>> seqs,
                                                  int64_t chunks, int32_t chunk_size) {
  if (chunks <= 0 || chunk_size <= 0) return seqs;
  const int64_t limit = chunks * chunk_size;
  int64_t tokens = 0;
  size_t keep = 0;
  while (keep < seqs.size() && tokens < limit) tokens += (int64_t)seqs[keep++].size();
  seqs.resize(keep);
  return seqs;
}

Result<Imatrix> collect_imatrix(const Config& c, const ModelWeights& w,
                                std::vector<std::vector<int32_t>> seqs, const ImatrixOptions& opt,
                                ThreadPool* pool) {
  if (opt.chunk_size <= 0) return error("imatrix: chunk size must be positive");
  CARTLM_ASSIGN_OR_RETURN(Calibration cal, calibration_create(c, w, std::move(seqs), opt.max_batch));
  int64_t tokens = 0;
  for (const auto& s : cal.seqs) tokens += (int64_t)s.size();
  Imatrix m;
  if (!opt.dataset.empty()) m.datasets.push_back(opt.dataset);
  m.chunk_size = opt.chunk_size;
  m.chunk_count = (int32_t)((tokens + opt.chunk_size - 1) / opt.chunk_size);
  const int64_t L = c.num_hidden_layers;
  // One accumulation per distinct input: q (shared with k, v), o, gate (shared with up), down.
  const int kInputs[] = {kLoraQ, kLoraO, kLoraGate, kLoraDown};
  ProgressBar bar("imatrix", (uint64_t)L, opt.progress);
  for (int64_t l = 0; l < L; ++l) {
    CARTLM_ASSIGN_OR_RETURN(LayerF32 lf, layer_f32(c, w.layers[(size_t)l], l));
    std::vector<double> sums[4];
    size_t widths[4];
    for (int i = 0; i < 4; ++i) {
      size_t out;
      lora_site_dims(c, kInputs[i], &widths[i], &out);
      sums[i].assign(widths[i], 0.0);
    }
    int64_t n = 0;
    calibration_run_layer(
        cal, lf.params(), true,
        [&](const BlockActs<float>& a, size_t B, size_t T, const int32_t* lens) {
          for (int i = 0; i < 4; ++i) {
            const float* x = site_input(a, kInputs[i]);
            const size_t W = widths[i];
            for (size_t b = 0; b < B; ++b)
              for (size_t t = 0; t < (size_t)lens[b]; ++t) {
                const float* row = x + (b * T + t) * W;
                for (size_t j = 0; j < W; ++j) sums[i][j] += (double)row[j] * row[j];
              }
          }
          for (size_t b = 0; b < B; ++b) n += lens[b];
        },
        pool);
    for (int site = 0; site < kNumLoraSites; ++site) {
      const int i = site <= kLoraV ? 0 : site == kLoraO ? 1 : site <= kLoraUp ? 2 : 3;
      ImatrixEntry e;
      e.sums.assign(sums[i].begin(), sums[i].end());
      e.counts = {n};
      m.entries[gguf_linear_name(l, site)] = std::move(e);
    }
    bar.update((uint64_t)(l + 1));
  }
  bar.finish();
  return m;
}

}  // namespace cartlm
