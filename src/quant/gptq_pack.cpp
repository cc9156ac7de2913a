#include "quant/gptq_pack.h"

#include "core/dtype.h"
#include "core/strings.h"

namespace cartlm {

namespace {

bool bits_ok(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

// Appends code v (bits wide) at bit `off` of a stream whose word k lives at words[k * stride].
void put_bits(uint32_t* words, size_t stride, uint64_t off, uint32_t v, int bits) {
  const uint64_t k = off / 32;
  const unsigned shift = (unsigned)(off % 32);
  words[k * stride] |= v << shift;
  if (shift + (unsigned)bits > 32) words[(k + 1) * stride] |= v >> (32 - shift);
}

uint32_t get_bits(const uint32_t* words, size_t stride, uint64_t off, int bits) {
  const uint64_t k = off / 32;
  const unsigned shift = (unsigned)(off % 32);
  uint64_t v = words[k * stride] >> shift;
  if (shift + (unsigned)bits > 32) v |= (uint64_t)words[(k + 1) * stride] << (32 - shift);
  return (uint32_t)(v & ((1u << bits) - 1));
}

Status check_packable(int64_t in, int64_t out, int bits, const std::string& what) {
  if (!bits_ok(bits)) return error(strformat("%s: bits %d not supported (2, 3, 4 or 8)", what.c_str(), bits));
  if ((in * bits) % 32 || (out * bits) % 32)
    return error(strformat("%s: shape [%lld, %lld] cannot be packed at %d bits (in and out must "
                           "fill whole int32 words)",
                           what.c_str(), (long long)out, (long long)in, bits));
  return Status();
}

}  // namespace

Result<AutoGptqLinear> autogptq_pack(const GptqResult& r, int bits) {
  CARTLM_RETURN_IF_ERROR(check_packable(r.cols, r.rows, bits, "autogptq_pack"));
  if ((int64_t)r.g_idx.size() != r.cols || r.scale.size() != (size_t)(r.rows * r.n_groups))
    return error("autogptq_pack: result is not a MinMax GPTQ result");
  AutoGptqLinear l;
  l.bits = bits;
  l.in = r.cols;
  l.out = r.rows;
  l.n_groups = r.n_groups;
  const size_t in = (size_t)l.in, out = (size_t)l.out, ng = (size_t)l.n_groups;
  l.qweight.assign(in * (size_t)bits / 32 * out, 0);
  l.qzeros.assign(ng * (out * (size_t)bits / 32), 0);
  l.scales.assign(ng * out, 0);
  l.g_idx = r.g_idx;
  uint32_t* qw = reinterpret_cast<uint32_t*>(l.qweight.data());
  uint32_t* qz = reinterpret_cast<uint32_t*>(l.qzeros.data());
  const uint32_t mask = (1u << bits) - 1;
  for (size_t o = 0; o < out; ++o)
    for (size_t c = 0; c < in; ++c) put_bits(qw + o, out, c * (uint64_t)bits, r.q[o * in + c], bits);
  const size_t zw = out * (size_t)bits / 32;
  for (size_t g = 0; g < ng; ++g)
    for (size_t o = 0; o < out; ++o) {
      const int zero = (int)r.zero[o * ng + g];
      if (zero < 1 || zero > (int)mask)
        return error(strformat("autogptq_pack: zero point %d of row %zu group %zu cannot be stored "
                               "as zero - 1 in %d bits", zero, o, g, bits));
      put_bits(qz + g * zw, 1, o * (uint64_t)bits, (uint32_t)(zero - 1), bits);
      l.scales[g * out + o] = fp32_to_fp16(r.scale[o * ng + g]);
    }
  return l;
}

Status autogptq_unpack(const AutoGptqLinear& l, std::vector<uint8_t>& q, std::vector<int32_t>& zeros,
                       const std::string& what) {
  CARTLM_RETURN_IF_ERROR(check_packable(l.in, l.out, l.bits, what));
  const size_t in = (size_t)l.in, out = (size_t)l.out, ng = (size_t)l.n_groups;
  const size_t bits = (size_t)l.bits;
  if (ng == 0) return error(what + ": no groups");
  if (l.qweight.size() != in * bits / 32 * out)
    return error(strformat("%s: qweight has %zu elements, expected [%zu, %zu]", what.c_str(),
                           l.qweight.size(), in * bits / 32, out));
  if (l.qzeros.size() != ng * (out * bits / 32))
    return error(strformat("%s: qzeros has %zu elements, expected [%zu, %zu]", what.c_str(),
                           l.qzeros.size(), ng, out * bits / 32));
  if (l.scales.size() != ng * out)
    return error(strformat("%s: scales has %zu elements, expected [%zu, %zu]", what.c_str(),
                           l.scales.size(), ng, out));
  if (l.g_idx.size() != in)
    return error(strformat("%s: g_idx has %zu elements, expected %zu", what.c_str(), l.g_idx.size(), in));
  for (size_t c = 0; c < in; ++c)
    if (l.g_idx[c] < 0 || (size_t)l.g_idx[c] >= ng)
      return error(strformat("%s: g_idx[%zu] = %d is outside [0, %zu)", what.c_str(), c, l.g_idx[c], ng));
  const uint32_t* qw = reinterpret_cast<const uint32_t*>(l.qweight.data());
  const uint32_t* qz = reinterpret_cast<const uint32_t*>(l.qzeros.data());
  q.assign(out * in, 0);
  for (size_t o = 0; o < out; ++o)
    for (size_t c = 0; c < in; ++c) q[o * in + c] = (uint8_t)get_bits(qw + o, out, c * bits, (int)bits);
  zeros.assign(ng * out, 0);
  const size_t zw = out * bits / 32;
  const uint32_t mask = (1u << bits) - 1;
  // + 1 in `bits` bits: v1 files with a stored 2^bits - 1 (zero "0" written with wraparound by old
  // AutoGPTQ) read as 2^bits, as AutoGPTQ's own kernels do.
  for (size_t g = 0; g < ng; ++g)
    for (size_t o = 0; o < out; ++o)
      zeros[g * out + o] = (int32_t)((get_bits(qz + g * zw, 1, o * bits, (int)bits) & mask) + 1);
  return Status();
}

Status autogptq_dequantize(const AutoGptqLinear& l, std::vector<float>& w, const std::string& what) {
  std::vector<uint8_t> q;
  std::vector<int32_t> zeros;
  CARTLM_RETURN_IF_ERROR(autogptq_unpack(l, q, zeros, what));
  const size_t in = (size_t)l.in, out = (size_t)l.out;
  w.assign(out * in, 0.0f);
  for (size_t o = 0; o < out; ++o)
    for (size_t c = 0; c < in; ++c) {
      const size_t g = (size_t)l.g_idx[c];
      w[o * in + c] = fp16_to_fp32(l.scales[g * out + o]) * ((float)q[o * in + c] - (float)zeros[g * out + o]);
    }
  return Status();
}

}  // namespace cartlm
