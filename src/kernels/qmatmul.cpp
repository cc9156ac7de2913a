// matmul() on block-quantized weights, the way llama.cpp's CPU backend does it: quantize each
// activation row once to the weight format's activation type (Q8_0 / Q8_1 / Q8_K), then every
// output element is one integer-block dot product of a weight row with an activation row.
// Output rows are split over the pool; an element's value never depends on T, the row range or
// the thread split (one qdot call each), so prefill and decode agree bit for bit.
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace cartlm {

DType qdot_act_type(DType wtype) {
  switch (wtype) {
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q8_0:
      return DType::Q8_0;
    case DType::Q4_1:
    case DType::Q5_1:
      return DType::Q8_1;
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return DType::Q8_K;
    default:
      return DType::F32;
  }
}

QDotFn qdot_fn(const KernelTable& k, DType wtype) {
  switch (wtype) {
    case DType::Q4_0: return k.qdot_q4_0.fn;
    case DType::Q4_1: return k.qdot_q4_1.fn;
    case DType::Q5_0: return k.qdot_q5_0.fn;
    case DType::Q5_1: return k.qdot_q5_1.fn;
    case DType::Q8_0: return k.qdot_q8_0.fn;
    case DType::Q2_K: return k.qdot_q2_k.fn;
    case DType::Q3_K: return k.qdot_q3_k.fn;
    case DType::Q4_K: return k.qdot_q4_k.fn;
    case DType::Q5_K: return k.qdot_q5_k.fn;
    case DType::Q6_K: return k.qdot_q6_k.fn;
    default: return nullptr;
  }
}

QDotRowsFn qdot_rows_fn(const KernelTable& k, DType wtype) {
  switch (wtype) {
    case DType::Q4_0: return k.qdot4_q4_0.fn;
    case DType::Q8_0: return k.qdot4_q8_0.fn;
    case DType::Q4_K: return k.qdot4_q4_k.fn;
    case DType::Q5_K: return k.qdot4_q5_k.fn;
    case DType::Q6_K: return k.qdot4_q6_k.fn;
    default: return nullptr;
  }
}

QuantizeActFn quantize_act_fn(const KernelTable& k, DType act_type) {
  switch (act_type) {
    case DType::Q8_0: return k.quantize_q8_0.fn;
    case DType::Q8_1: return k.quantize_q8_1.fn;
    case DType::Q8_K: return k.quantize_q8_k.fn;
    default: return nullptr;
  }
}

size_t quantized_act_bytes(DType act_type, size_t n) {
  switch (act_type) {
    case DType::Q8_0: return n / kQK * sizeof(BlockQ8_0);
    case DType::Q8_1: return n / kQK * sizeof(BlockQ8_1);
    case DType::Q8_K: return n / kQKK * sizeof(BlockQ8_K);
    default: CARTLM_CHECK(false && "not an activation format"); return 0;
  }
}

bool matmul_accepts(DType wtype) {
  return matmul_supports(wtype) || qdot_act_type(wtype) != DType::F32;
}

namespace {

// Weight rows per tile of the prefill loop: a tile (a few KiB) stays in L1 while every token's
// activation row passes over it.
constexpr size_t kRowTile = 4;

struct QCtx {
  QDotFn dot;
  QDotRowsFn rows;  // may be nullptr
  const uint8_t* w;
  size_t row_bytes, in;
  const uint8_t* xq;
  size_t act_bytes, T;
  const float* bias;
  float* y;
  size_t ldy;
};

void qmatmul_rows(const QCtx& m, size_t r0, size_t r1) {
  if (m.T == 1 && m.dot) {
    for (size_t r = r0; r < r1; ++r)
      m.y[r] = m.dot(m.w + r * m.row_bytes, m.xq, m.in) + (m.bias ? m.bias[r] : 0.0f);
    return;
  }
  for (size_t rt = r0; rt < r1; rt += kRowTile) {
    const size_t re = r1 - rt < kRowTile ? r1 : rt + kRowTile;
    if (m.rows) {
      // Groups of 4 tokens per weight row: the row's blocks are unpacked once per group.
      for (size_t t = 0; t < m.T; t += 4) {
        const size_t nt = m.T - t < 4 ? m.T - t : 4;
        for (size_t r = rt; r < re; ++r)
          m.rows(m.w + r * m.row_bytes, m.xq + t * m.act_bytes, m.act_bytes, nt, m.in,
                 m.y + t * m.ldy + r, m.ldy);
      }
      if (m.bias)
        for (size_t t = 0; t < m.T; ++t)
          for (size_t r = rt; r < re; ++r) m.y[t * m.ldy + r] += m.bias[r];
      continue;
    }
    for (size_t t = 0; t < m.T; ++t) {
      const uint8_t* a = m.xq + t * m.act_bytes;
      float* yt = m.y + t * m.ldy;
      for (size_t r = rt; r < re; ++r)
        yt[r] = m.dot(m.w + r * m.row_bytes, a, m.in) + (m.bias ? m.bias[r] : 0.0f);
    }
  }
}

}  // namespace

// Called by matmul_strided for block types (dispatch.cpp).
void matmul_quantized(const KernelTable& k, const float* x, size_t ldx, size_t T, size_t in,
                      DType wtype, const void* w, size_t out, const float* bias, float* y,
                      size_t ldy, ThreadPool* pool) {
  const DType at = qdot_act_type(wtype);
  const DTypeInfo* info = dtype_info(wtype);
  CARTLM_CHECK(at != DType::F32 && info != nullptr);
  CARTLM_CHECK(in % info->block_size == 0 && in % (at == DType::Q8_K ? kQKK : kQK) == 0);
  if (T == 0 || out == 0) return;
  // The prepared path (AVX-512 Q4_0/Q8_0) gives exactly the qdot values; it depends only on
  // wtype and `in`, never on T, so prefill and decode still agree bit for bit.
  const QDotRowsFn prepared_rows = wtype == DType::Q4_0   ? k.qdotp_q4_0.fn
                                   : wtype == DType::Q8_0 ? k.qdotp_q8_0.fn
                                                          : nullptr;
  const bool prepared = prepared_rows && k.prep_q8_0_pairs.fn && in % 64 == 0;
  const QDotFn dot = prepared ? nullptr : qdot_fn(k, wtype);
  const QuantizeActFn quant = prepared ? k.prep_q8_0_pairs.fn : quantize_act_fn(k, at);
  CARTLM_CHECK((prepared || dot != nullptr) && quant != nullptr);

  // Per calling thread, grown once to the largest call; workers only read it during this call.
  thread_local std::vector<uint8_t> scratch;
  const size_t act_bytes =
      prepared ? in / 64 * sizeof(PreparedQ8Pair) : quantized_act_bytes(at, in);
  if (scratch.size() < T * act_bytes) scratch.resize(T * act_bytes);
  uint8_t* xq = scratch.data();
  // Below kMinParallelMacs the pool costs more than it saves (kernels.h).
  const bool parallel = pool && pool->size() > 1 && T * out * in >= kMinParallelMacs;
  if (parallel && T > 1)
    pool->parallel_for(T, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) quant(x + t * ldx, xq + t * act_bytes, in);
    });
  else
    for (size_t t = 0; t < T; ++t) quant(x + t * ldx, xq + t * act_bytes, in);

  QCtx ctx{dot, prepared ? prepared_rows : qdot_rows_fn(k, wtype), static_cast<const uint8_t*>(w),
           (size_t)dtype_row_bytes(wtype, in), in, xq, act_bytes, T, bias, y, ldy};
  if (parallel)
    pool->parallel_for(out, kRowTile, [&](size_t b, size_t e) { qmatmul_rows(ctx, b, e); });
  else
    qmatmul_rows(ctx, 0, out);
}

}  // namespace cartlm
