#include "train/gptq_run.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/dtype.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "quant/quant.h"

namespace cartlm {

namespace {

// Rows [row0, row0 + n) of a 2-D view (or all of a 1-D view, row0 = 0, n = 1) as f32.
Status view_rows_f32(const TensorView& v, int64_t row0, int64_t n, float* dst) {
  const int64_t cols = v.shape.empty() ? 0 : v.shape.back();
  const uint8_t* base = static_cast<const uint8_t*>(v.data);
  switch (v.dtype) {
    case DType::F32:
      std::memcpy(dst, base + (size_t)(row0 * cols) * 4, (size_t)(n * cols) * 4);
      return Status();
    case DType::F16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(base) + row0 * cols;
      for (int64_t i = 0; i < n * cols; ++i) dst[i] = fp16_to_fp32(s[i]);
      return Status();
    }
    case DType::BF16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(base) + row0 * cols;
      for (int64_t i = 0; i < n * cols; ++i) dst[i] = bf16_to_fp32(s[i]);
      return Status();
    }
    default:
      break;
  }
  if (is_block_quantized(v.dtype)) {
    CARTLM_ASSIGN_OR_RETURN(uint64_t rb, quantized_row_bytes(v.dtype, cols));
    return dequantize_tensor(v.dtype, base + (size_t)row0 * rb, n, cols, dst);
  }
  return error(strformat("tensor %s: dtype %s cannot be read as f32", v.name.c_str(),
                         dtype_name(v.dtype)));
}

Status view_f32(const TensorView& v, std::vector<float>& out) {
  out.assign((size_t)v.numel(), 0.0f);
  if (v.shape.size() <= 1) {
    if (v.dtype == DType::F32 || v.dtype == DType::F16 || v.dtype == DType::BF16) {
      TensorView row = v;
      row.shape = {v.numel()};
      return view_rows_f32(row, 0, 1, out.data());
    }
  }
  return view_rows_f32(v, 0, v.numel() / std::max<int64_t>(1, v.shape.back()), out.data());
}

const TensorView& site_view(const LayerWeights& lw, int site) {
  switch (site) {
    case kLoraQ: return lw.wq;
    case kLoraK: return lw.wk;
    case kLoraV: return lw.wv;
    case kLoraO: return lw.wo;
    case kLoraGate: return lw.w_gate;
    case kLoraUp: return lw.w_up;
    default: return lw.w_down;
  }
}

}  // namespace

Result<std::vector<std::vector<int32_t>>> calibration_sequences(
    const std::vector<Example>& examples, const Tokenizer& tok, const IntentMeta& meta) {
  if (tok.eos_id < 0) return error("calibration: the tokenizer has no end-of-sequence token");
  std::vector<std::vector<int32_t>> seqs;
  seqs.reserve(examples.size());
  for (const Example& ex : examples) {
    std::vector<int32_t> s = encode(tok, render_prompt(meta, ex.text), tok.add_bos, false);
    const std::vector<int32_t> c = encode(tok, label_to_json_text(ex.label), false, false);
    s.insert(s.end(), c.begin(), c.end());
    s.push_back(tok.eos_id);
    seqs.push_back(std::move(s));
  }
  return seqs;
}

std::vector<Example> sample_examples(const std::vector<Example>& examples, size_t n,
                                     uint64_t seed) {
  std::vector<uint32_t> idx(examples.size());
  std::iota(idx.begin(), idx.end(), 0u);
  Rng rng(seed);
  rng.shuffle(idx);
  idx.resize(std::min(n, idx.size()));
  std::vector<Example> out;
  out.reserve(idx.size());
  for (uint32_t i : idx) out.push_back(examples[i]);
  return out;
}

LayerParams<float> LayerF32::params() const {
  auto ptr = [](const std::vector<float>& v) { return v.empty() ? nullptr : const_cast<float*>(v.data()); };
  LayerParams<float> p;
  p.ln1w = ptr(ln1w);
  p.ln2w = ptr(ln2w);
  p.bq = ptr(bq);
  p.bk = ptr(bk);
  p.bv = ptr(bv);
  p.wq = ptr(w[kLoraQ]);
  p.wk = ptr(w[kLoraK]);
  p.wv = ptr(w[kLoraV]);
  p.wo = ptr(w[kLoraO]);
  p.wgate = ptr(w[kLoraGate]);
  p.wup = ptr(w[kLoraUp]);
  p.wdown = ptr(w[kLoraDown]);
  return p;
}

Result<LayerF32> layer_f32(const Config& c, const LayerWeights& lw, int64_t layer) {
  LayerF32 l;
  const std::string where = strformat("layer %lld: ", (long long)layer);
  auto conv = [&](const TensorView& v, std::vector<float>& out) -> Status {
    if (!v.present()) return Status();
    return view_f32(v, out).with_context(where + v.name);
  };
  CARTLM_RETURN_IF_ERROR(conv(lw.attn_norm, l.ln1w));
  CARTLM_RETURN_IF_ERROR(conv(lw.ffn_norm, l.ln2w));
  CARTLM_RETURN_IF_ERROR(conv(lw.bq, l.bq));
  CARTLM_RETURN_IF_ERROR(conv(lw.bk, l.bk));
  CARTLM_RETURN_IF_ERROR(conv(lw.bv, l.bv));
  for (int s = 0; s < kNumLoraSites; ++s) {
    CARTLM_RETURN_IF_ERROR(conv(site_view(lw, s), l.w[s]));
    size_t in, out;
    lora_site_dims(c, s, &in, &out);
    if (l.w[s].size() != in * out)
      return error(where + lora_site_module(s) + ": wrong number of elements");
  }
  return l;
}

Result<Calibration> calibration_create(const Config& c, const ModelWeights& w,
                                       std::vector<std::vector<int32_t>> seqs, size_t max_batch) {
  if (seqs.empty()) return error("calibration: no sequences");
  Calibration cal;
  cal.config = c;
  cal.inv_freq = rope_inv_freq(c);
  cal.seqs = std::move(seqs);
  const size_t C = (size_t)c.hidden_size, V = (size_t)c.vocab_size;
  cal.hidden.resize(cal.seqs.size());
  for (size_t i = 0; i < cal.seqs.size(); ++i) {
    const auto& s = cal.seqs[i];
    if (s.empty()) return error(strformat("calibration: sequence %zu is empty", i));
    if ((int64_t)s.size() > c.max_position_embeddings)
      return error(strformat("calibration: sequence %zu has %zu tokens, more than the model's "
                             "context %lld", i, s.size(), (long long)c.max_position_embeddings));
    cal.hidden[i].resize(s.size() * C);
    for (size_t t = 0; t < s.size(); ++t) {
      if (s[t] < 0 || (size_t)s[t] >= V)
        return error(strformat("calibration: token id %d outside the vocabulary (%zu)", s[t], V));
      CARTLM_RETURN_IF_ERROR(view_rows_f32(w.embed, s[t], 1, &cal.hidden[i][t * C]));
    }
  }
  // Batches of similar lengths (stable sort by length), so padding stays small.
  std::vector<uint32_t> order(cal.seqs.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return cal.seqs[a].size() < cal.seqs[b].size();
  });
  cal.max_B = std::max<size_t>(1, max_batch);
  for (size_t i = 0; i < order.size(); i += cal.max_B) {
    cal.batches.emplace_back(order.begin() + (ptrdiff_t)i,
                             order.begin() + (ptrdiff_t)std::min(order.size(), i + cal.max_B));
    cal.max_T = std::max(cal.max_T, cal.seqs[cal.batches.back().back()].size());
  }
  // One layer's activations for max_B x max_T.
  const size_t BT = cal.max_B * cal.max_T, I = (size_t)c.intermediate_size;
  const size_t QD = (size_t)c.q_dim(), KD = (size_t)c.kv_dim(), NH = (size_t)c.num_attention_heads;
  const size_t sizes[] = {BT * C, BT, BT * QD, BT * KD, BT * KD, cal.max_B * NH * cal.max_T * cal.max_T,
                          BT * QD, BT * C, BT * C, BT, BT * I, BT * I, BT * I, BT * C};
  size_t total = 0;
  for (size_t s : sizes) total += (s + 15) / 16 * 16;
  cal.mem.allocate(total);
  float* p = cal.mem.data();
  float** fields[] = {&cal.acts.ln1, &cal.acts.ln1_rstd, &cal.acts.q, &cal.acts.k, &cal.acts.v,
                      &cal.acts.att, &cal.acts.atty, &cal.acts.res1, &cal.acts.ln2,
                      &cal.acts.ln2_rstd, &cal.acts.gate, &cal.acts.up, &cal.acts.swi,
                      &cal.acts.out};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    *fields[i] = p;
    p += (sizes[i] + 15) / 16 * 16;
  }
  cal.inp.assign(BT * C, 0.0f);
  cal.lens.assign(cal.max_B, 0);
  cal.positions.assign(BT, 0);
  return cal;
}

const float* site_input(const BlockActs<float>& a, int site) {
  switch (site) {
    case kLoraQ:
    case kLoraK:
    case kLoraV: return a.ln1;
    case kLoraO: return a.atty;
    case kLoraGate:
    case kLoraUp: return a.ln2;
    default: return a.swi;
  }
}

void calibration_run_layer(
    Calibration& cal, const LayerParams<float>& p, bool update,
    const std::function<void(const BlockActs<float>&, size_t B, size_t T, const int32_t* lens)>& visit,
    ThreadPool* pool) {
  const size_t C = (size_t)cal.config.hidden_size;
  for (const auto& batch : cal.batches) {
    const size_t B = batch.size();
    size_t T = 0;
    for (uint32_t i : batch) T = std::max(T, cal.seqs[i].size());
    std::fill(cal.inp.begin(), cal.inp.begin() + (ptrdiff_t)(B * T * C), 0.0f);
    for (size_t b = 0; b < B; ++b) {
      const size_t len = cal.seqs[batch[b]].size();
      cal.lens[b] = (int32_t)len;
      std::memcpy(&cal.inp[b * T * C], cal.hidden[batch[b]].data(), len * C * sizeof(float));
      for (size_t t = 0; t < T; ++t) cal.positions[b * T + t] = (int32_t)t;
    }
    BlockConfig bc = block_config(cal.config, B, T, nullptr);
    bc.lens = cal.lens.data();
    bc.positions = cal.positions.data();
    bc.inv_freq = cal.inv_freq.data();
    block_forward(bc, p, (const LayerLora<float>*)nullptr, cal.acts, cal.scratch, cal.inp.data(), pool);
    if (visit) visit(cal.acts, B, T, cal.lens.data());
    if (update)
      for (size_t b = 0; b < B; ++b)
        std::memcpy(cal.hidden[batch[b]].data(), &cal.acts.out[b * T * C],
                    (size_t)cal.lens[b] * C * sizeof(float));
  }
}

size_t gather_rows(const float* src, size_t width, size_t B, size_t T, const int32_t* lens,
                   std::vector<float>& dst) {
  size_t n = 0;
  for (size_t b = 0; b < B; ++b) n += (size_t)lens[b];
  dst.resize(n * width);
  size_t r = 0;
  for (size_t b = 0; b < B; ++b) {
    std::memcpy(&dst[r * width], src + b * T * width, (size_t)lens[b] * width * sizeof(float));
    r += (size_t)lens[b];
  }
  return n;
}

std::string gguf_linear_name(int64_t layer, int site) {
  static const char* kNames[kNumLoraSites] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                              "ffn_gate", "ffn_up", "ffn_down"};
  return strformat("blk.%lld.%s.weight", (long long)layer, kNames[site]);
}

Status gptq_run(const Config& c, const ModelWeights& w, std::vector<std::vector<int32_t>> seqs,
                const GptqRunOptions& opt,
                const std::function<Status(int64_t layer, int site, const GptqResult&)>& sink,
                ThreadPool* pool) {
  const size_t n_seq = seqs.size();
  CARTLM_ASSIGN_OR_RETURN(Calibration cal, calibration_create(c, w, std::move(seqs), opt.max_batch));
  const int64_t L = c.num_hidden_layers;
  // True-sequential stages: the sites quantized together share one input (and one Hessian).
  const std::vector<std::vector<int>> stages = {
      {kLoraQ, kLoraK, kLoraV}, {kLoraO}, {kLoraGate, kLoraUp}, {kLoraDown}};
  ProgressBar bar("gptq", (uint64_t)(L * kNumLoraSites), opt.progress);
  uint64_t done = 0;
  std::vector<float> rows;
  for (int64_t l = 0; l < L; ++l) {
    CARTLM_ASSIGN_OR_RETURN(LayerF32 lf, layer_f32(c, w.layers[(size_t)l], l));
    for (const auto& stage : stages) {
      std::vector<int> sites;
      for (int site : stage)
        if (!opt.quantize_site || opt.quantize_site(l, site)) sites.push_back(site);
      done += stage.size() - sites.size();
      if (sites.empty()) continue;
      size_t in, out;
      lora_site_dims(c, stage[0], &in, &out);
      GptqHessian h = gptq_hessian((int64_t)in);
      calibration_run_layer(
          cal, lf.params(), false,
          [&](const BlockActs<float>& a, size_t B, size_t T, const int32_t* lens) {
            const size_t n = gather_rows(site_input(a, stage[0]), in, B, T, lens, rows);
            gptq_hessian_add(h, rows.data(), (int64_t)n, (int64_t)B, pool);
          },
          pool);
      CARTLM_CHECK((size_t)h.n_seq == n_seq);
      for (int site : sites) {
        lora_site_dims(c, site, &in, &out);
        GptqOptions go = opt.gptq;
        if (opt.importance && go.grid == GptqGrid::Q4_K) go.importance = (*opt.importance)(gguf_linear_name(l, site));
        auto r = gptq_quantize(lf.w[site].data(), (int64_t)out, (int64_t)in, h, go, pool);
        if (!r.ok())
          return r.status().with_context(strformat("layer %lld %s", (long long)l, lora_site_module(site)));
        // The rest of this layer and all later layers see the quantized weights.
        lf.w[site] = r->w_hat;
        CARTLM_RETURN_IF_ERROR(sink(l, site, *r));
        bar.update(++done, strformat("layer %lld", (long long)l));
      }
    }
    calibration_run_layer(cal, lf.params(), true, nullptr, pool);
  }
  bar.finish();
  return Status();
}

}  // namespace cartlm
