// CPU math for inference and training: matmul/matvec for F32/F16/BF16 weights, rmsnorm, softmax,
// silu/swiglu, elementwise ops, rope, attention over a KV cache, fp16/bf16 row conversions.
//
// Every kernel exists as a plain-loop `_ref` (the scalar twin, STYLE.md §4.1) and, where it pays,
// as AVX2 and AVX-512 versions. Each instruction set fills one KernelTable; the table used by the
// free functions below is chosen once from CPU feature detection (or CARTLM_ISA=scalar|avx2|avx512)
// and its kernel names can be logged with describe_kernels(). Tests run every table the host
// supports against the `_ref` functions.
//
// Conventions: activations are f32, row-major. A weight matrix W is [out, in] row-major, exactly as
// Hugging Face stores nn.Linear (and as GGUF stores it with ne = [in, out]). Buffers may be
// unaligned. Outputs never alias inputs unless a comment says so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace cartlm {

class ThreadPool;

// ---------------------------------------------------------------------------------------------
// The dispatch table
// ---------------------------------------------------------------------------------------------

// Rows [r0, r1) of y[T, out] = x[T, in] · W[out, in]^T (+ bias[out] when bias != nullptr).
// x rows are ldx floats apart, y rows ldy floats apart; W rows are contiguous (`in` elements of the
// slot's dtype). Within one table the result of an element does not depend on T, r0/r1 or the
// thread split (same reduction order), so decode and prefill produce bit-identical logits.
using MatmulFn = void (*)(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                          size_t r1, const float* bias, float* y, size_t ldy);
// Backward tile (training): d[j, c0 + i] += sum over k < K of a[j*sj + k*sk] * B[k, c0 + i] for
// j < nj, i < len. B rows are ldb floats apart, d rows ldd floats apart.
// Every element is accumulated as acc = acc + a*b over k ascending starting from d (the order of
// one axpy per k), so results never depend on how callers tile j or columns.
using MatmulBwdFn = void (*)(const float* a, size_t sj, size_t sk, size_t nj, size_t K,
                             const void* b, size_t ldb, size_t c0, size_t len, float* d,
                             size_t ldd);
using DotF32Fn = float (*)(const float* a, const float* b, size_t n);
using DotU16Fn = float (*)(const float* a, const uint16_t* b, size_t n);  // b is f16 or bf16
using AxpyF32Fn = void (*)(float a, const float* x, float* y, size_t n);  // y += a * x
using AxpyU16Fn = void (*)(float a, const uint16_t* x, float* y, size_t n);
using ScaleFn = void (*)(float* x, float s, size_t n);  // x *= s
using ToF32Fn = void (*)(const uint16_t* src, float* dst, size_t n);
using FromF32Fn = void (*)(const float* src, uint16_t* dst, size_t n);
// y = x / sqrt(mean(x^2) + eps) * w; y may equal x.
using RmsnormFn = void (*)(const float* x, const float* w, float eps, size_t n, float* y);
using SoftmaxFn = void (*)(float* x, size_t n);  // in place, max-subtracted
// x[i] = exp(x[i] - shift) in place; returns the sum of the new values (softmax building block).
using ExpSumFn = float (*)(float* x, size_t n, float shift);
using UnaryFn = void (*)(const float* x, float* y, size_t n);               // y may equal x
using BinaryFn = void (*)(const float* a, const float* b, float* y, size_t n);  // y may equal a or b
// Dot product of one block-quantized weight row w (n elements of the slot's format, see
// quant/blocks.h) with an activation row a quantized to the format's activation type
// (qdot_act_type: Q8_0, Q8_1 or Q8_K). Exact integer sums inside a block; the f32 combination
// of the blocks differs between tables only by rounding.
using QDotFn = float (*)(const void* w, const void* a, size_t n);
// The same for nt (1..4) activation rows a + t * a_stride bytes: y[t * y_stride] = qdot(w, row t),
// bit-identical to the single-row slot (prefill unpacks each weight block once for nt tokens).
using QDotRowsFn = void (*)(const void* w, const void* a, size_t a_stride, size_t nt, size_t n,
                            float* y, size_t y_stride);
// An activation row laid out for one weight format's kernel, once per matmul call, so that the
// per-row work is only the weight side (AVX-512 Q4_0/Q8_0: src/kernels/avx512/qdot_zmm_avx512.cpp).
// x[n] -> n / 64 PreparedQ8Pair, where n % 64 == 0.
using PrepActFn = void (*)(const float* x, void* out, size_t n);
// Two Q8_0 blocks of a prepared row: their 64 bytes in the kernel's lane order, the value each
// int32 lane's dpbusd starts from (-8 * the sum of its 4 bytes: Q4_0's offset; Q8_0 shifts it),
// and each lane's activation scale as f32.
struct PreparedQ8Pair {
  int8_t qs[64];
  int32_t start[16];
  float d[16];
};
static_assert(sizeof(PreparedQ8Pair) == 192);
// x[n] -> n / block_size activation blocks (Q8_0, Q8_1 or Q8_K), byte-identical to llama.cpp's
// quantize_row_q8_*_ref (the quant module's traits use quantize_act_q8_*_ref below for these
// formats; tests/quant/llama_cpp_digest_test.cpp pins the bytes).
using QuantizeActFn = void (*)(const float* x, void* y, size_t n);

// One slot: the function and the name of the implementation that fills it ("matmul_f16_avx512").
template <class Fn>
struct Kernel {
  Fn fn = nullptr;
  const char* impl = nullptr;
};

struct KernelTable {
  const char* isa = "scalar";  // "scalar", "avx2" or "avx512"
  Kernel<MatmulFn> matmul_f32, matmul_f16, matmul_bf16;
  Kernel<DotF32Fn> dot_f32;
  Kernel<DotU16Fn> dot_f16, dot_bf16;
  Kernel<AxpyF32Fn> axpy_f32;
  Kernel<AxpyU16Fn> axpy_f16;
  Kernel<ScaleFn> scale;
  Kernel<ToF32Fn> f16_to_f32, bf16_to_f32;
  Kernel<FromF32Fn> f32_to_f16, f32_to_bf16;
  Kernel<RmsnormFn> rmsnorm;
  Kernel<SoftmaxFn> softmax;
  Kernel<ExpSumFn> exp_sum;
  Kernel<UnaryFn> silu;
  Kernel<BinaryFn> swiglu;  // y = silu(a) * b  (a = gate, b = up)
  Kernel<BinaryFn> add;     // y = a + b
  Kernel<BinaryFn> mul;     // y = a * b
  // Block-quantized weight rows against quantized activations (matmul() on block types).
  Kernel<QDotFn> qdot_q4_0, qdot_q4_1, qdot_q5_0, qdot_q5_1, qdot_q8_0;
  Kernel<QDotFn> qdot_q2_k, qdot_q3_k, qdot_q4_k, qdot_q5_k, qdot_q6_k;
  // Multi-row forms where an ISA has one (empty otherwise: matmul then loops over qdot). Not
  // listed by kernel_slots(): the scalar table has none.
  Kernel<QDotRowsFn> qdot4_q4_0, qdot4_q8_0, qdot4_q4_k, qdot4_q5_k, qdot4_q6_k;
  // Prepared-activation path for Q4_0 and Q8_0 weights (AVX-512 VNNI only; empty elsewhere, also
  // not listed by kernel_slots()): when in % 64 == 0 matmul prepares each activation row with
  // prep_q8_0_pairs and calls qdotp_* (QDotRowsFn on prepared rows), which give exactly the
  // values of qdot_q4_0 / qdot_q8_0 on the plain Q8_0 rows.
  Kernel<PrepActFn> prep_q8_0_pairs;
  Kernel<QDotRowsFn> qdotp_q4_0, qdotp_q8_0;
  // Activation quantizers: the scalar reference in every table (their bytes must match the quant
  // module's exactly; they cost one pass over the activations per matmul).
  Kernel<QuantizeActFn> quantize_q8_0, quantize_q8_1, quantize_q8_k;
  // Used by matmul_backward_x/_w on f32 blocks (16-bit weights are converted while packing). Not
  // listed by kernel_slots() yet (dispatch_test pins the slot count; update both together).
  Kernel<MatmulBwdFn> matmul_bwd_f32;
};

// The table the free functions use: the widest ISA this CPU supports, unless CARTLM_ISA names
// another one (an unknown or unsupported value is ignored with a warning on stderr).
const KernelTable& kernels();
// Scalar table (all `_ref`), always available.
const KernelTable& scalar_kernels();
// Every table this CPU can run, narrowest first ("scalar", then "avx2", then "avx512").
std::vector<const KernelTable*> supported_kernel_tables();
// Switches the active table: "auto", "scalar", "avx2" or "avx512". Error if the CPU lacks it.
// Not thread-safe against concurrent kernel calls; call at start-up (e.g. from a --isa flag).
Status select_kernels(std::string_view isa);
// "isa=avx512 matmul_f32=matmul_f32_avx512 ..." for logs.
std::string describe_kernels(const KernelTable& k);
// (slot name, implementation name) for every slot; implementation is "" if the slot is empty.
std::vector<std::pair<std::string, std::string>> kernel_slots(const KernelTable& k);

// ---------------------------------------------------------------------------------------------
// Matmul
// ---------------------------------------------------------------------------------------------

// True for the plain float weight dtypes (F32, F16, BF16): what convert_to_f32 and the backward
// helpers accept.
bool matmul_supports(DType wtype);
// True for every weight dtype matmul() multiplies: matmul_supports() plus the GGUF block formats
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool matmul_accepts(DType wtype);
// Calls with fewer multiply-adds than this (T * out * in for matmul; visible query-key pairs
// times 2 * head_dim for attention) run on the calling thread even when a pool is given. Waking
// the pool costs microseconds on an idle machine, more than a small matvec saves by splitting (a
// 256 x 256 matvec takes 2-5 us on one core). On a busy machine it is far worse: the caller must
// wait until every worker has been scheduled once, so a decode step of the trained tiny model
// (17 parallel loops of a few microseconds each) fell from thousands to 40-170 tokens/s in runs
// where other processes held the cores. 2^19 keeps every matmul of that model's decode serial
// (the largest, its 1024 x 256 lm_head, is 2^18) and splits every matmul of a llama-3.2-1b-shaped
// model (smallest: 512 x 2048 = 2^20).
constexpr size_t kMinParallelMacs = size_t(1) << 19;

// y[T, out] = x[T, in] · W[out, in]^T (+ bias[out]). Split over output rows across `pool`
// (nullptr: the calling thread only) when T * out * in >= kMinParallelMacs. wtype must satisfy
// matmul_accepts (checked); for a block type `in` must be a multiple of its block size (checked).
// T == 1 is the decode matvec: every weight row is streamed once. T > 1 is the prefill path: the
// kernel keeps a tile of weight rows in L1 and reuses it for all tokens.
// Block-quantized W (llama.cpp's CPU scheme): each x row is quantized once per call to the
// format's activation type (qdot_act_type), then every y element is one qdot of a weight row with
// an activation row. The quantized rows live in a per-thread scratch buffer that grows to the
// largest call once and is then reused (no allocation in a steady decode loop).
void matmul(const float* x, size_t T, size_t in, DType wtype, const void* w, size_t out,
            const float* bias, float* y, ThreadPool* pool = nullptr);
void matmul(const KernelTable& k, const float* x, size_t T, size_t in, DType wtype, const void* w,
            size_t out, const float* bias, float* y, ThreadPool* pool = nullptr);
// Strided form: x rows ldx floats apart, y rows ldy floats apart.
void matmul_strided(const KernelTable& k, const float* x, size_t ldx, size_t T, size_t in,
                    DType wtype, const void* w, size_t out, const float* bias, float* y,
                    size_t ldy, ThreadPool* pool = nullptr);

// Backward helpers for training (dense; the matmul above is the forward):
// dx[T, in] (+)= dy[T, out] · W[out, in]      (accumulate: add to dx instead of overwriting)
void matmul_backward_x(const float* dy, size_t T, size_t out, DType wtype, const void* w, size_t in,
                       float* dx, bool accumulate, ThreadPool* pool = nullptr);
// dW[out, in] (+)= dy[T, out]^T · x[T, in]    (f32 gradient)
void matmul_backward_w(const float* dy, size_t T, size_t out, const float* x, size_t in, float* dw,
                       bool accumulate, ThreadPool* pool = nullptr);
// y[T, out] = bias + x[T, in] · W[out, in]ᵀ for f32 W, on the backward kernels (outer-product
// register tiles, W packed transposed per unit): the training forward for many rows. Each element
// sums bias first, then i ascending, whatever the thread count; not the bits of matmul(), whose
// dot-product tiles reduce in another order.
void matmul_xwt(const float* x, size_t T, size_t in, const float* w, size_t out, const float* bias,
                float* y, ThreadPool* pool = nullptr);

// ---------------------------------------------------------------------------------------------
// Block-quantized dot products
// ---------------------------------------------------------------------------------------------

// The activation format a block weight type is multiplied with (llama.cpp's vec_dot_type):
// Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants. F32 for other types.
DType qdot_act_type(DType wtype);
// The table's slot for a block weight type, nullptr when wtype has none.
QDotFn qdot_fn(const KernelTable& k, DType wtype);
QDotRowsFn qdot_rows_fn(const KernelTable& k, DType wtype);  // nullptr when the table has none
QuantizeActFn quantize_act_fn(const KernelTable& k, DType act_type);
// Bytes of one quantized activation row of n elements (n a multiple of the block size).
size_t quantized_act_bytes(DType act_type, size_t n);

// Scalar references: the one implementation of these dots and quantizers (quant's traits point
// their vec_dot_ref and Q8_0/Q8_1/Q8_K quantize_row_ref here). Exact integer sums per block,
// combined in f32 block by block in order; the weight row w is n elements of the format.
float qdot_q4_0_ref(const void* w, const void* a, size_t n);
float qdot_q4_1_ref(const void* w, const void* a, size_t n);
float qdot_q5_0_ref(const void* w, const void* a, size_t n);
float qdot_q5_1_ref(const void* w, const void* a, size_t n);
float qdot_q8_0_ref(const void* w, const void* a, size_t n);
float qdot_q2_k_ref(const void* w, const void* a, size_t n);
float qdot_q3_k_ref(const void* w, const void* a, size_t n);
float qdot_q4_k_ref(const void* w, const void* a, size_t n);
float qdot_q5_k_ref(const void* w, const void* a, size_t n);
float qdot_q6_k_ref(const void* w, const void* a, size_t n);
// The activation-only formats against themselves: no table slot (matmul never multiplies Q8_1 or
// Q8_K weights); quant's traits rows for Q8_1 and Q8_K use them.
float qdot_q8_1_ref(const void* w, const void* a, size_t n);
float qdot_q8_k_ref(const void* w, const void* a, size_t n);
void quantize_act_q8_0_ref(const float* x, void* y, size_t n);
void quantize_act_q8_1_ref(const float* x, void* y, size_t n);
void quantize_act_q8_k_ref(const float* x, void* y, size_t n);

// ---------------------------------------------------------------------------------------------
// Row-wise ops on the active table (thin wrappers; n elements each)
// ---------------------------------------------------------------------------------------------

void rmsnorm(const float* x, const float* w, float eps, size_t n, float* y);
void softmax(float* x, size_t n);
void silu(const float* x, float* y, size_t n);
void swiglu(const float* gate, const float* up, float* y, size_t n);
void add(const float* a, const float* b, float* y, size_t n);
void mul(const float* a, const float* b, float* y, size_t n);
void scale(float* x, float s, size_t n);
void axpy(float a, const float* x, float* y, size_t n);
float dot(const float* a, const float* b, size_t n);
void f16_to_f32(const uint16_t* src, float* dst, size_t n);
void f32_to_f16(const float* src, uint16_t* dst, size_t n);
void bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void f32_to_bf16(const float* src, uint16_t* dst, size_t n);
// Any of F32/F16/BF16 -> f32 (a plain copy for F32). Checks the dtype.
void convert_to_f32(DType src_type, const void* src, float* dst, size_t n);

// ---------------------------------------------------------------------------------------------
// Rope
// ---------------------------------------------------------------------------------------------

// Neox: rotates pairs (i, i + head_dim/2), Hugging Face `rotate_half` order (HF Llama and Qwen2
// checkpoints). Norm: rotates adjacent pairs (2i, 2i + 1), llama.cpp's LLAMA mode, used on GGUF
// files whose q/k rows were permuted by the converter (REFERENCE.md §1.9).
enum class RopeMode { Neox, Norm };

// The default inverse frequencies base^(-2i/head_dim), i < head_dim/2, computed in f32 the way HF
// does. Llama 3 scaling is applied to these by the config code; rope() only consumes them.
void rope_default_inv_freq(float theta, size_t head_dim, float* inv_freq);
// Rotates x[T, n_heads, head_dim] (token rows ld floats apart; ld = 0 means n_heads*head_dim) in
// place: pair i of token t turns by angle positions[t] * inv_freq[i] (the angle is an f32 product,
// as in HF). Call once for q (n_head) and once for k (n_kv). inverse = true rotates by -angle (the
// backward pass). head_dim must be even and <= 1024.
void rope(float* x, size_t T, size_t n_heads, size_t head_dim, size_t ld, const int32_t* positions,
          const float* inv_freq, RopeMode mode, bool inverse = false);
void rope_ref(float* x, size_t T, size_t n_heads, size_t head_dim, size_t ld,
              const int32_t* positions, const float* inv_freq, RopeMode mode, bool inverse = false);

// ---------------------------------------------------------------------------------------------
// Attention over a KV cache (one sequence)
// ---------------------------------------------------------------------------------------------

struct AttentionShape {
  size_t n_head = 0;    // query heads
  size_t n_kv = 0;      // key/value heads; n_head % n_kv == 0, head h reads kv head h/(n_head/n_kv)
  size_t head_dim = 0;  // <= 1024
  size_t T = 0;         // queries (new tokens)
  size_t pos0 = 0;      // cache index of the first query's own key (= tokens already cached)
  size_t kv_start = 0;  // keys before this index are masked out (left padding)
  bool causal = true;   // query t sees keys [kv_start, pos0 + t]; otherwise [kv_start, pos0 + T)
  float scale = 0.0f;   // 0 means 1/sqrt(head_dim)
  DType kv_type = DType::F32;  // cache element type: F32 or F16
};
// q: [T, n_head, head_dim] f32. k_cache, v_cache: [>= pos0 + T, n_kv, head_dim] of kv_type, with
// the current tokens' keys/values already stored at rows pos0 .. pos0+T-1.
// out: [T, n_head, head_dim]; a query with no visible key gets zeros.
// The fast path uses an online (blocked) softmax and allocates nothing. (token, head) pairs are
// split over `pool` when the call has at least kMinParallelMacs key-dimension products.
void attention(const AttentionShape& s, const float* q, const void* k_cache, const void* v_cache,
               float* out, ThreadPool* pool = nullptr);
void attention(const KernelTable& k, const AttentionShape& s, const float* q, const void* k_cache,
               const void* v_cache, float* out, ThreadPool* pool = nullptr);
// Naive reference: full score row, softmax in double (allocates).
void attention_ref(const AttentionShape& s, const float* q, const void* k_cache,
                   const void* v_cache, float* out);

// ---------------------------------------------------------------------------------------------
// Scalar twins (plain loops). They fill the scalar table and are what tests compare against.
// ---------------------------------------------------------------------------------------------

void matmul_f32_ref(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                    size_t r1, const float* bias, float* y, size_t ldy);
void matmul_f16_ref(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                    size_t r1, const float* bias, float* y, size_t ldy);
void matmul_bf16_ref(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                     size_t r1, const float* bias, float* y, size_t ldy);
void matmul_bwd_f32_ref(const float* a, size_t sj, size_t sk, size_t nj, size_t K, const void* b,
                        size_t ldb, size_t c0, size_t len, float* d, size_t ldd);
float dot_f32_ref(const float* a, const float* b, size_t n);
float dot_f16_ref(const float* a, const uint16_t* b, size_t n);
float dot_bf16_ref(const float* a, const uint16_t* b, size_t n);
void axpy_f32_ref(float a, const float* x, float* y, size_t n);
void axpy_f16_ref(float a, const uint16_t* x, float* y, size_t n);
void scale_ref(float* x, float s, size_t n);
void f16_to_f32_ref(const uint16_t* src, float* dst, size_t n);
void bf16_to_f32_ref(const uint16_t* src, float* dst, size_t n);
void f32_to_f16_ref(const float* src, uint16_t* dst, size_t n);
void f32_to_bf16_ref(const float* src, uint16_t* dst, size_t n);
void rmsnorm_ref(const float* x, const float* w, float eps, size_t n, float* y);
void softmax_ref(float* x, size_t n);
float exp_sum_ref(float* x, size_t n, float shift);
void silu_ref(const float* x, float* y, size_t n);
void swiglu_ref(const float* a, const float* b, float* y, size_t n);
void add_ref(const float* a, const float* b, float* y, size_t n);
void mul_ref(const float* a, const float* b, float* y, size_t n);

}  // namespace cartlm
