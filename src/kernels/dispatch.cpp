// The dispatch table: one KernelTable per ISA, built once, and the active one chosen from CPU
// feature detection. Also the public wrappers that split work over a ThreadPool.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"

namespace cartlm {

namespace {

KernelTable make_scalar_table() {
  KernelTable k;
  k.isa = "scalar";
  k.matmul_f32 = {matmul_f32_ref, "matmul_f32_ref"};
  k.matmul_f16 = {matmul_f16_ref, "matmul_f16_ref"};
  k.matmul_bf16 = {matmul_bf16_ref, "matmul_bf16_ref"};
  k.dot_f32 = {dot_f32_ref, "dot_f32_ref"};
  k.dot_f16 = {dot_f16_ref, "dot_f16_ref"};
  k.dot_bf16 = {dot_bf16_ref, "dot_bf16_ref"};
  k.axpy_f32 = {axpy_f32_ref, "axpy_f32_ref"};
  k.axpy_f16 = {axpy_f16_ref, "axpy_f16_ref"};
  k.scale = {scale_ref, "scale_ref"};
  k.f16_to_f32 = {f16_to_f32_ref, "f16_to_f32_ref"};
  k.bf16_to_f32 = {bf16_to_f32_ref, "bf16_to_f32_ref"};
  k.f32_to_f16 = {f32_to_f16_ref, "f32_to_f16_ref"};
  k.f32_to_bf16 = {f32_to_bf16_ref, "f32_to_bf16_ref"};
  k.rmsnorm = {rmsnorm_ref, "rmsnorm_ref"};
  k.softmax = {softmax_ref, "softmax_ref"};
  k.exp_sum = {exp_sum_ref, "exp_sum_ref"};
  k.silu = {silu_ref, "silu_ref"};
  k.swiglu = {swiglu_ref, "swiglu_ref"};
  k.add = {add_ref, "add_ref"};
  k.mul = {mul_ref, "mul_ref"};
  k.matmul_bwd_f32 = {matmul_bwd_f32_ref, "matmul_bwd_f32_ref"};
  k.qdot_q4_0 = {qdot_q4_0_ref, "qdot_q4_0_ref"};
  k.qdot_q4_1 = {qdot_q4_1_ref, "qdot_q4_1_ref"};
  k.qdot_q5_0 = {qdot_q5_0_ref, "qdot_q5_0_ref"};
  k.qdot_q5_1 = {qdot_q5_1_ref, "qdot_q5_1_ref"};
  k.qdot_q8_0 = {qdot_q8_0_ref, "qdot_q8_0_ref"};
  k.qdot_q2_k = {qdot_q2_k_ref, "qdot_q2_k_ref"};
  k.qdot_q3_k = {qdot_q3_k_ref, "qdot_q3_k_ref"};
  k.qdot_q4_k = {qdot_q4_k_ref, "qdot_q4_k_ref"};
  k.qdot_q5_k = {qdot_q5_k_ref, "qdot_q5_k_ref"};
  k.qdot_q6_k = {qdot_q6_k_ref, "qdot_q6_k_ref"};
  k.quantize_q8_0 = {quantize_act_q8_0_ref, "quantize_q8_0_ref"};
  k.quantize_q8_1 = {quantize_act_q8_1_ref, "quantize_q8_1_ref"};
  k.quantize_q8_k = {quantize_act_q8_k_ref, "quantize_q8_k_ref"};
  return k;
}

bool cpu_has_avx2() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // libgcc's detection also checks that the OS saves the zmm state (XCR0).
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

const KernelTable* avx2_table() {
#if defined(__x86_64__)
  static const KernelTable t = [] {
    KernelTable k = make_scalar_table();
    k.isa = "avx2";
    fill_kernels_avx2(&k);
    fill_qdot_avx2(&k);
    return k;
  }();
  return cpu_has_avx2() ? &t : nullptr;
#else
  return nullptr;
#endif
}

const KernelTable* avx512_table() {
#if defined(__x86_64__)
  static const KernelTable t = [] {
    // Start from AVX2 so that a slot without an AVX-512 version gets the next best one.
    KernelTable k = make_scalar_table();
    fill_kernels_avx2(&k);
    fill_qdot_avx2(&k);
    k.isa = "avx512";
    fill_kernels_avx512(&k);
    fill_qdot_avx512(&k);
    fill_qdot_zmm_avx512(&k);
    return k;
  }();
  return cpu_has_avx512() ? &t : nullptr;
#else
  return nullptr;
#endif
}

const KernelTable* table_by_name(std::string_view name) {
  if (name == "scalar") return &scalar_kernels();
  if (name == "avx2") return avx2_table();
  if (name == "avx512") return avx512_table();
  return nullptr;
}

const KernelTable* best_table() {
  if (const KernelTable* t = avx512_table()) return t;
  if (const KernelTable* t = avx2_table()) return t;
  return &scalar_kernels();
}

std::atomic<const KernelTable*>& active_slot() {
  static std::atomic<const KernelTable*> slot{[] {
    const KernelTable* t = best_table();
    if (const char* env = std::getenv("CARTLM_ISA"); env && *env && std::strcmp(env, "auto") != 0) {
      if (const KernelTable* forced = table_by_name(env))
        t = forced;
      else
        std::fprintf(stderr, "cartlm: warning: CARTLM_ISA=%s is unknown or unsupported here; using %s\n",
                     env, t->isa);
    }
    return t;
  }()};
  return slot;
}

// Splits rows over the pool when the call has at least kMinParallelMacs of work (see kernels.h).
void run_rows(ThreadPool* pool, size_t n, size_t align, size_t macs,
              void (*fn)(void* ctx, size_t b, size_t e), void* ctx) {
  if (pool && pool->size() > 1 && macs >= kMinParallelMacs)
    pool->parallel_for(n, align, [&](size_t b, size_t e) { fn(ctx, b, e); });
  else if (n > 0)
    fn(ctx, 0, n);
}

}  // namespace

const KernelTable& scalar_kernels() {
  static const KernelTable t = make_scalar_table();
  return t;
}

const KernelTable& kernels() { return *active_slot().load(std::memory_order_acquire); }

std::vector<const KernelTable*> supported_kernel_tables() {
  std::vector<const KernelTable*> v{&scalar_kernels()};
  if (const KernelTable* t = avx2_table()) v.push_back(t);
  if (const KernelTable* t = avx512_table()) v.push_back(t);
  return v;
}

Status select_kernels(std::string_view isa) {
  const KernelTable* t = isa == "auto" ? best_table() : table_by_name(isa);
  if (!t) {
    if (isa != "scalar" && isa != "avx2" && isa != "avx512")
      return error("unknown ISA '" + std::string(isa) + "'; hint: use auto, scalar, avx2 or avx512");
    return error("this CPU does not support " + std::string(isa) + "; hint: use auto");
  }
  active_slot().store(t, std::memory_order_release);
  return Status();
}

std::vector<std::pair<std::string, std::string>> kernel_slots(const KernelTable& k) {
  std::vector<std::pair<std::string, std::string>> v;
  auto add_slot = [&](const char* slot, const void* fn, const char* impl) {
    v.emplace_back(slot, fn && impl ? impl : "");
  };
#define CARTLM_SLOT(name) add_slot(#name, (const void*)k.name.fn, k.name.impl)
  CARTLM_SLOT(matmul_f32);
  CARTLM_SLOT(matmul_f16);
  CARTLM_SLOT(matmul_bf16);
  CARTLM_SLOT(matmul_bwd_f32);
  CARTLM_SLOT(dot_f32);
  CARTLM_SLOT(dot_f16);
  CARTLM_SLOT(dot_bf16);
  CARTLM_SLOT(axpy_f32);
  CARTLM_SLOT(axpy_f16);
  CARTLM_SLOT(scale);
  CARTLM_SLOT(f16_to_f32);
  CARTLM_SLOT(bf16_to_f32);
  CARTLM_SLOT(f32_to_f16);
  CARTLM_SLOT(f32_to_bf16);
  CARTLM_SLOT(rmsnorm);
  CARTLM_SLOT(softmax);
  CARTLM_SLOT(exp_sum);
  CARTLM_SLOT(silu);
  CARTLM_SLOT(swiglu);
  CARTLM_SLOT(add);
  CARTLM_SLOT(mul);
  CARTLM_SLOT(qdot_q4_0);
  CARTLM_SLOT(qdot_q4_1);
  CARTLM_SLOT(qdot_q5_0);
  CARTLM_SLOT(qdot_q5_1);
  CARTLM_SLOT(qdot_q8_0);
  CARTLM_SLOT(qdot_q2_k);
  CARTLM_SLOT(qdot_q3_k);
  CARTLM_SLOT(qdot_q4_k);
  CARTLM_SLOT(qdot_q5_k);
  CARTLM_SLOT(qdot_q6_k);
  CARTLM_SLOT(quantize_q8_0);
  CARTLM_SLOT(quantize_q8_1);
  CARTLM_SLOT(quantize_q8_k);
#undef CARTLM_SLOT
  return v;
}

std::string describe_kernels(const KernelTable& k) {
  std::string s = std::string("isa=") + k.isa;
  for (const auto& [slot, impl] : kernel_slots(k)) s += " " + slot + "=" + (impl.empty() ? "none" : impl);
  return s;
}

// ---------------------------------------------------------------------------------------------

bool matmul_supports(DType wtype) {
  return wtype == DType::F32 || wtype == DType::F16 || wtype == DType::BF16;
}

void matmul_strided(const KernelTable& k, const float* x, size_t ldx, size_t T, size_t in,
                    DType wtype, const void* w, size_t out, const float* bias, float* y,
                    size_t ldy, ThreadPool* pool) {
  if (!matmul_supports(wtype)) {
    matmul_quantized(k, x, ldx, T, in, wtype, w, out, bias, y, ldy, pool);
    return;
  }
  MatmulFn fn = wtype == DType::F32   ? k.matmul_f32.fn
                : wtype == DType::F16 ? k.matmul_f16.fn
                                      : k.matmul_bf16.fn;
  if (T == 0 || out == 0) return;
  struct Ctx {
    MatmulFn fn;
    const float* x;
    size_t ldx, T;
    const void* w;
    size_t in;
    const float* bias;
    float* y;
    size_t ldy;
  } ctx{fn, x, ldx, T, w, in, bias, y, ldy};
  // Row chunks are multiples of 16 so every thread runs whole register tiles.
  run_rows(pool, out, 16, T * out * in, [](void* c, size_t b, size_t e) {
    const Ctx& m = *static_cast<const Ctx*>(c);
    m.fn(m.x, m.ldx, m.T, m.w, m.in, b, e, m.bias, m.y, m.ldy);
  }, &ctx);
}

void matmul(const KernelTable& k, const float* x, size_t T, size_t in, DType wtype, const void* w,
            size_t out, const float* bias, float* y, ThreadPool* pool) {
  matmul_strided(k, x, in, T, in, wtype, w, out, bias, y, out, pool);
}

void matmul(const float* x, size_t T, size_t in, DType wtype, const void* w, size_t out,
            const float* bias, float* y, ThreadPool* pool) {
  matmul_strided(kernels(), x, in, T, in, wtype, w, out, bias, y, out, pool);
}

// Both backward helpers cut the work into independent units (token group x column chunk for dx,
// weight-row group x column chunk for dW) of tiles run by the table's matmul_bwd kernel, which
// keeps a few output rows x one vector of columns in registers across the whole reduction. Each
// output element is summed in one fixed order (o ascending for dx, t ascending for dW, the order
// of one axpy per term) whatever the tiling or thread split, so results do not depend on the
// thread count.
namespace {
constexpr size_t kBwdCols = 256;  // column chunk: the B strip a tile streams stays in L1/L2
constexpr size_t kBwdRows = 64;   // output rows per tile (tokens for dx, weight rows for dW)

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Runs fn(unit) for unit in [0, n) split over the pool (contiguous chunks; the order inside a unit
// is fixed, so the split never changes a result).
template <class F>
void run_units(ThreadPool* pool, size_t n, F&& fn) {
  auto body = [&](size_t b, size_t e) {
    for (size_t u = b; u < e; ++u) fn(u);
  };
  if (pool && pool->size() > 1)
    pool->parallel_for(n, body);
  else if (n > 0)
    body(0, n);
}

// d[j, 0:len] += sum over k of a[j*sj + k*sk] * B[k, c0:c0+len] for the nj rows of a unit. B rows
// (dtype bt, ldb elements apart) are copied as f32 in blocks of kBwdK rows into a buffer whose row
// pitch is not a multiple of 4 KiB: big power-of-two strides (in = 2048) otherwise map every row of
// the strip the kernel streams onto the same cache sets. Each block is packed once and used for
// all the unit's row tiles (kBwdRows rows each), so a unit covering many tiles converts B once
// rather than once per tile. The conversion is exact and every element still sums k ascending,
// so blocking and grouping do not change any result.
constexpr size_t kBwdK = 64;
constexpr size_t kPackLd = kBwdCols + 16;
// With b_transposed, B is f32 stored column-major (element (k, c) at b[c * ldb + k]), packed
// through the same buffer: how the training forward x·Wᵀ reuses these kernels.
void bwd_rows(const KernelTable& k, DType bt, const float* a, size_t sj, size_t sk, size_t nj,
              size_t K, const void* b, size_t ldb, size_t c0, size_t len, float* d, size_t ldd,
              bool b_transposed = false) {
  std::vector<float> pack(kBwdK * kPackLd), apack(sk == 1 ? 0 : kBwdRows * kBwdK);
  for (size_t kb = 0; kb < K; kb += kBwdK) {
    const size_t kn = K - kb < kBwdK ? K - kb : kBwdK;
    if (b_transposed) {
      const float* bf = static_cast<const float*>(b);
      for (size_t c = 0; c < len; ++c) {
        const float* col = bf + (c0 + c) * ldb + kb;
        for (size_t r = 0; r < kn; ++r) pack[r * kPackLd + c] = col[r];
      }
    } else {
      for (size_t r = 0; r < kn; ++r) {
        const size_t off = (kb + r) * ldb + c0;
        if (bt == DType::F32)
          std::memcpy(pack.data() + r * kPackLd, static_cast<const float*>(b) + off, len * sizeof(float));
        else
          (bt == DType::F16 ? k.f16_to_f32.fn : k.bf16_to_f32.fn)(
              static_cast<const uint16_t*>(b) + off, pack.data() + r * kPackLd, len);
      }
    }
    for (size_t j0 = 0; j0 < nj; j0 += kBwdRows) {
      const size_t jn = nj - j0 < kBwdRows ? nj - j0 : kBwdRows;
      const float* aj = a + j0 * sj;
      float* dj = d + j0 * ldd;
      if (sk == 1) {
        k.matmul_bwd_f32.fn(aj + kb, sj, 1, jn, kn, pack.data(), kPackLd, 0, len, dj, ldd);
      } else {
        // a strided along k (dy columns for dW): gather the block row-major so the kernel reads
        // each row's coefficients sequentially instead of one cache line per k.
        for (size_t j = 0; j < jn; ++j)
          for (size_t r = 0; r < kn; ++r) apack[j * kBwdK + r] = aj[j * sj + (kb + r) * sk];
        k.matmul_bwd_f32.fn(apack.data(), kBwdK, 1, jn, kn, pack.data(), kPackLd, 0, len, dj, ldd);
      }
    }
  }
}

// Units of the backward helpers: column chunks x groups of whole kBwdRows row tiles, group i
// holding tiles [i*tiles/groups, (i+1)*tiles/groups). Fewer, larger groups pack B less often;
// about two units per thread keep the threads finishing together.
struct BwdUnits {
  size_t n_col = 1, groups = 1, tiles = 1;
  // Rows [*r0, *r1) of unit u (out of groups * n_col), clipped to `rows`.
  void rows_of(size_t u, size_t rows, size_t* r0, size_t* r1) const {
    const size_t gi = u / n_col;
    *r0 = gi * tiles / groups * kBwdRows;
    const size_t e = (gi + 1) * tiles / groups * kBwdRows;
    *r1 = e < rows ? e : rows;
  }
};
BwdUnits bwd_units(size_t rows, size_t cols, ThreadPool* pool) {
  BwdUnits u;
  u.tiles = ceil_div(rows, kBwdRows);
  u.n_col = ceil_div(cols, kBwdCols);
  const size_t threads = pool ? (size_t)pool->size() : 1;
  const size_t want = ceil_div(2 * threads, u.n_col);
  u.groups = want < u.tiles ? want : u.tiles;
  return u;
}

// Runs fn(r0, r1, c0, len) for every unit of a rows x cols output: rows [r0, r1), columns
// [c0, c0 + len).
template <class F>
void run_output_units(size_t rows, size_t cols, ThreadPool* pool, F&& fn) {
  const BwdUnits g = bwd_units(rows, cols, pool);
  run_units(pool, g.groups * g.n_col, [&](size_t u) {
    size_t r0, r1;
    g.rows_of(u, rows, &r0, &r1);
    const size_t c0 = (u % g.n_col) * kBwdCols, len = cols - c0 < kBwdCols ? cols - c0 : kBwdCols;
    fn(r0, r1, c0, len);
  });
}
}  // namespace

void matmul_backward_x(const float* dy, size_t T, size_t out, DType wtype, const void* w, size_t in,
                       float* dx, bool accumulate, ThreadPool* pool) {
  CARTLM_CHECK(matmul_supports(wtype));
  if (T == 0 || in == 0) return;
  const KernelTable& k = kernels();
  // Unit (token group, column chunk): dx[t0:t1, c0:c0+len] += sum over o of dy[t, o] * W[o, c0:..].
  run_output_units(T, in, pool, [&](size_t t0, size_t t1, size_t c0, size_t len) {
    if (!accumulate)
      for (size_t t = t0; t < t1; ++t) std::memset(dx + t * in + c0, 0, len * sizeof(float));
    bwd_rows(k, wtype, dy + t0 * out, out, 1, t1 - t0, out, w, in, c0, len, dx + t0 * in + c0, in);
  });
}

void matmul_backward_w(const float* dy, size_t T, size_t out, const float* x, size_t in, float* dw,
                       bool accumulate, ThreadPool* pool) {
  if (out == 0 || in == 0) return;
  const KernelTable& k = kernels();
  // Unit (weight-row group, column chunk):
  // dW[o0:o1, c0:..] += sum over t of dy[t, o] * x[t, c0:..].
  run_output_units(out, in, pool, [&](size_t o0, size_t o1, size_t c0, size_t len) {
    if (!accumulate)
      for (size_t o = o0; o < o1; ++o) std::memset(dw + o * in + c0, 0, len * sizeof(float));
    bwd_rows(k, DType::F32, dy + o0, 1, out, o1 - o0, T, x, in, c0, len, dw + o0 * in + c0, in);
  });
}

void matmul_xwt(const float* x, size_t T, size_t in, const float* w, size_t out, const float* bias,
                float* y, ThreadPool* pool) {
  if (T == 0 || out == 0) return;
  const KernelTable& k = kernels();
  // Unit (token group, output chunk): y[t0:t1, c0:c0+len] = bias + sum over i of x[t, i] * W[c0:.., i].
  run_output_units(T, out, pool, [&](size_t t0, size_t t1, size_t c0, size_t len) {
    for (size_t t = t0; t < t1; ++t) {
      float* yt = y + t * out + c0;
      if (bias)
        std::memcpy(yt, bias + c0, len * sizeof(float));
      else
        std::memset(yt, 0, len * sizeof(float));
    }
    if (in > 0)
      bwd_rows(k, DType::F32, x + t0 * in, in, 1, t1 - t0, in, w, in, c0, len, y + t0 * out + c0,
               out, /*b_transposed=*/true);
  });
}

// ---------------------------------------------------------------------------------------------

void rmsnorm(const float* x, const float* w, float eps, size_t n, float* y) {
  kernels().rmsnorm.fn(x, w, eps, n, y);
}
void softmax(float* x, size_t n) { kernels().softmax.fn(x, n); }
void silu(const float* x, float* y, size_t n) { kernels().silu.fn(x, y, n); }
void swiglu(const float* gate, const float* up, float* y, size_t n) {
  kernels().swiglu.fn(gate, up, y, n);
}
void add(const float* a, const float* b, float* y, size_t n) { kernels().add.fn(a, b, y, n); }
void mul(const float* a, const float* b, float* y, size_t n) { kernels().mul.fn(a, b, y, n); }
void scale(float* x, float s, size_t n) { kernels().scale.fn(x, s, n); }
void axpy(float a, const float* x, float* y, size_t n) { kernels().axpy_f32.fn(a, x, y, n); }
float dot(const float* a, const float* b, size_t n) { return kernels().dot_f32.fn(a, b, n); }
void f16_to_f32(const uint16_t* src, float* dst, size_t n) { kernels().f16_to_f32.fn(src, dst, n); }
void f32_to_f16(const float* src, uint16_t* dst, size_t n) { kernels().f32_to_f16.fn(src, dst, n); }
void bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  kernels().bf16_to_f32.fn(src, dst, n);
}
void f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  kernels().f32_to_bf16.fn(src, dst, n);
}

void convert_to_f32(DType src_type, const void* src, float* dst, size_t n) {
  CARTLM_CHECK(matmul_supports(src_type));
  if (src_type == DType::F32)
    std::memcpy(dst, src, n * sizeof(float));
  else if (src_type == DType::F16)
    f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
  else
    bf16_to_f32(static_cast<const uint16_t*>(src), dst, n);
}

}  // namespace cartlm
