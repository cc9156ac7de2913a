// NF4 quantization with bitsandbytes' levels, thresholds, packing and double quantization.
#include "quant/nf4.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace cartlm {

const float kNf4Levels[16] = {-1.0f,
                              -0.6961928009986877f,
                              -0.5250730514526367f,
                              -0.39491748809814453f,
                              -0.28444138169288635f,
                              -0.18477343022823334f,
                              -0.09105003625154495f,
                              0.0f,
                              0.07958029955625534f,
                              0.16093020141124725f,
                              0.24611230194568634f,
                              0.33791524171829224f,
                              0.44070982933044434f,
                              0.5626170039176941f,
                              0.7229568362236023f,
                              1.0f};

namespace {

// torch.linspace(start, end, steps) in float32: the first half steps up from start, the second
// half down from end (so both ends are exact).
std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> v((size_t)steps);
  if (steps == 1) {
    v[0] = start;
    return v;
  }
  const float step = (end - start) / (float)(steps - 1);
  const int half = steps / 2;
  for (int i = 0; i < steps; ++i)
    v[(size_t)i] = i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
  return v;
}

std::vector<float> make_dynamic_map() {
  // bnb create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent i the
  // 2^i midpoints of linspace(0.1, 1, 2^i + 1), scaled by 10^(i-6), with both signs; then 0 and 1.
  std::vector<float> data;
  for (int i = 0; i < 7; ++i) {
    const std::vector<float> b = linspace_f32(0.1f, 1.0f, (1 << i) + 1);
    const float scale = (float)std::pow(10.0, (double)(i - 6));
    std::vector<float> means;
    for (size_t k = 0; k + 1 < b.size(); ++k) means.push_back((b[k] + b[k + 1]) / 2.0f);
    for (float m : means) data.push_back(scale * m);
    for (float m : means) data.push_back(-scale * m);
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  CARTLM_CHECK(data.size() == 256);
  std::sort(data.begin(), data.end());
  return data;
}

// Index of the nearest map value (ties to the lower index); map sorted ascending.
uint8_t nearest_dynamic(const float* map, float x) {
  const float* it = std::lower_bound(map, map + 256, x);
  if (it == map) return 0;
  if (it == map + 256) return 255;
  const size_t hi = (size_t)(it - map);
  return (uint8_t)((x - map[hi - 1] <= map[hi] - x) ? hi - 1 : hi);
}

template <class F>
void parallel_blocks(ThreadPool* pool, size_t n, F&& fn) {
  if (pool && pool->size() > 1 && n > 1)
    pool->parallel_for(n, [&](size_t b, size_t e) { fn(b, e); });
  else if (n)
    fn(0, n);
}

}  // namespace

const float* nf4_dynamic_map() {
  static const std::vector<float> map = make_dynamic_map();
  return map.data();
}

uint8_t nf4_code(float x) {
  // bnb dQuantizeNF4: a binary tree of the midpoints between adjacent levels, `x > mid` goes up.
  uint8_t code = 0;
  for (int i = 0; i < 15; ++i) {
    const float mid = (kNf4Levels[i] + kNf4Levels[i + 1]) * 0.5f;
    if (x > mid) code = (uint8_t)(i + 1);
  }
  return code;
}

float Nf4Tensor::block_absmax(size_t b) const {
  if (!double_quant) return absmax[b];
  return nf4_dynamic_map()[absmax_q[b]] * absmax2[b / kNf4NestedBlock] + offset;
}

Nf4Tensor nf4_quantize(DType wtype, const void* w, size_t rows, size_t cols, bool double_quant,
                       ThreadPool* pool) {
  CARTLM_CHECK(matmul_supports(wtype));
  Nf4Tensor t;
  t.rows = rows;
  t.cols = cols;
  t.double_quant = double_quant;
  const size_t n = rows * cols;
  CARTLM_CHECK(n % kNf4Block == 0);
  const size_t nb = n / kNf4Block;
  const size_t esize = wtype == DType::F32 ? 4 : 2;
  t.codes.assign(n / 2, 0);
  std::vector<float> amax(nb);
  parallel_blocks(pool, nb, [&](size_t b0, size_t b1) {
    float x[kNf4Block];
    for (size_t b = b0; b < b1; ++b) {
      convert_to_f32(wtype, (const uint8_t*)w + b * kNf4Block * esize, x, kNf4Block);
      float m = 0.0f;
      for (float v : x) m = std::max(m, std::fabs(v));
      amax[b] = m;
      const float inv = m > 0.0f ? 1.0f / m : 0.0f;
      uint8_t* out = t.codes.data() + b * kNf4Block / 2;
      for (size_t j = 0; j < kNf4Block; j += 2) {
        const uint8_t hi = nf4_code(x[j] * inv), lo = nf4_code(x[j + 1] * inv);
        out[j / 2] = (uint8_t)(hi << 4 | lo);
      }
    }
  });
  if (!double_quant) {
    t.absmax = std::move(amax);
    return t;
  }
  double sum = 0.0;
  for (float a : amax) sum += a;
  t.offset = nb ? (float)(sum / (double)nb) : 0.0f;
  const size_t n2 = (nb + kNf4NestedBlock - 1) / kNf4NestedBlock;
  t.absmax2.assign(n2, 0.0f);
  t.absmax_q.assign(nb, 0);
  const float* map = nf4_dynamic_map();
  for (size_t g = 0; g < n2; ++g) {
    const size_t b0 = g * kNf4NestedBlock, b1 = std::min(nb, b0 + kNf4NestedBlock);
    float m = 0.0f;
    for (size_t b = b0; b < b1; ++b) m = std::max(m, std::fabs(amax[b] - t.offset));
    t.absmax2[g] = m;
    const float inv = m > 0.0f ? 1.0f / m : 0.0f;
    for (size_t b = b0; b < b1; ++b)
      t.absmax_q[b] = nearest_dynamic(map, (amax[b] - t.offset) * inv);
  }
  return t;
}

void nf4_dequantize(const Nf4Tensor& t, size_t begin, size_t end, float* out) {
  CARTLM_CHECK(begin <= end && end <= t.numel());
  size_t i = begin;
  while (i < end) {
    const size_t b = i / kNf4Block;
    const size_t stop = std::min(end, (b + 1) * kNf4Block);
    const float a = t.block_absmax(b);
    float lut[16];
    for (int k = 0; k < 16; ++k) lut[k] = kNf4Levels[k] * a;
    const uint8_t* codes = t.codes.data();
    // Odd start: the low nibble of its byte.
    if (i & 1) {
      *out++ = lut[codes[i / 2] & 15];
      ++i;
    }
    for (; i + 1 < stop; i += 2) {
      const uint8_t c = codes[i / 2];
      out[0] = lut[c >> 4];
      out[1] = lut[c & 15];
      out += 2;
    }
    if (i < stop) {
      *out++ = lut[codes[i / 2] >> 4];
      ++i;
    }
  }
}

}  // namespace cartlm
