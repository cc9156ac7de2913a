#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/dtype.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace cartlm {

const char* gptq_grid_name(GptqGrid g) {
  switch (g) {
    case GptqGrid::MinMax: return "minmax";
    case GptqGrid::Q4_0: return "q4_0";
    case GptqGrid::Q4_K: return "q4_k";
  }
  return "?";
}

namespace {

// Runs fn(begin, end) over [0, n), on the pool when there is one.
template <class F>
void for_range(ThreadPool* pool, size_t n, F&& fn) {
  if (pool && n > 1) {
    pool->parallel_for(n, fn);
  } else if (n) {
    fn(size_t{0}, n);
  }
}

float fp16_round(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

// U (upper, row-major n×n) with H⁻¹ = UᵀU. H = V·Vᵀ with V upper (the Cholesky factorization of
// H taken from the bottom-right corner), so H⁻¹ = V⁻ᵀV⁻¹ and U = V⁻¹ by uniqueness of the
// factorization: one factorization and one triangular inverse instead of gptq's three steps.
// Returns false when H is not positive definite.
bool upper_cholesky_of_inverse(std::vector<double>& h, int64_t n, std::vector<double>& u,
                               ThreadPool* pool) {
  std::vector<double>& v = h;  // overwritten in place: v[i][j] for j >= i
  const size_t N = (size_t)n;
  for (int64_t j = n - 1; j >= 0; --j) {
    double* vj = &v[(size_t)j * N];
    double d = vj[j];
    for (int64_t k = j + 1; k < n; ++k) d -= vj[k] * vj[k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    d = std::sqrt(d);
    vj[j] = d;
    // One pool call per column: worth it only when the column's work is large (a pool call
    // costs a wake-up of every worker).
    ThreadPool* col_pool = (size_t)j * (size_t)(n - j) >= (1u << 18) ? pool : nullptr;
    for_range(col_pool, (size_t)j, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        double* vi = &v[i * N];
        double s = vi[j];
        for (int64_t k = j + 1; k < n; ++k) s -= vi[k] * vj[k];
        vi[j] = s / d;
      }
    });
  }
  // Column j of U = V⁻¹, kept as row j of ut (contiguous): U[j][j] = 1/V[j][j],
  // U[i][j] = −(Σ_{k=i+1..j} V[i][k]·U[k][j]) / V[i][i] for i < j.
  std::vector<double> ut(N * N, 0.0);
  for_range(pool, N, [&](size_t b, size_t e) {
    for (size_t j = b; j < e; ++j) {
      double* col = &ut[j * N];
      col[j] = 1.0 / v[j * N + j];
      for (int64_t i = (int64_t)j - 1; i >= 0; --i) {
        const double* vi = &v[(size_t)i * N];
        double s = 0.0;
        for (size_t k = (size_t)i + 1; k <= j; ++k) s += vi[k] * col[k];
        col[i] = -s / vi[i];
      }
    }
  });
  u.assign(N * N, 0.0);
  for (size_t j = 0; j < N; ++j)
    for (size_t i = 0; i <= j; ++i) u[i * N + j] = ut[j * N + i];
  return true;
}

struct Work {
  const GptqOptions* opt;
  int64_t rows, cols, maxq;
  std::vector<float> wt;        // [cols, rows] working weights, in processing order
  std::vector<int32_t> perm;    // position -> original column
  std::vector<int32_t> invperm; // original column -> position
  std::vector<uint8_t> have;    // [n_groups] parameters computed
  GptqResult* res;
};

int64_t group_of(const Work& w, int64_t pos) {
  const GptqOptions& o = *w.opt;
  if (o.grid != GptqGrid::MinMax) return w.perm[(size_t)pos] / kQK;
  if (o.group_size <= 0) return 0;
  return (o.act_order ? pos : w.perm[(size_t)pos]) / o.group_size;
}

// Computes the group parameters (MinMax and Q4_0) of every row from the current weights of the
// group's columns.
void compute_group_params(Work& w, int64_t g, ThreadPool* pool) {
  const GptqOptions& o = *w.opt;
  GptqResult& r = *w.res;
  std::vector<int64_t> positions;
  if (o.grid == GptqGrid::Q4_0) {
    for (int64_t c = g * kQK; c < (g + 1) * kQK; ++c) positions.push_back(w.invperm[(size_t)c]);
  } else if (o.group_size <= 0) {
    for (int64_t p = 0; p < w.cols; ++p) positions.push_back(p);
  } else {
    for (int64_t p = 0; p < w.cols; ++p)
      if (group_of(w, p) == g) positions.push_back(p);
  }
  const size_t R = (size_t)w.rows;
  for_range(pool, R, [&](size_t b, size_t e) {
    for (size_t row = b; row < e; ++row) {
      float scale, zero;
      if (o.grid == GptqGrid::Q4_0) {
        float amax = 0.0f, mx = 0.0f;  // llama.cpp: the signed value of largest magnitude
        for (int64_t p : positions) {
          const float v = w.wt[(size_t)p * R + row];
          if (amax < std::fabs(v)) {
            amax = std::fabs(v);
            mx = v;
          }
        }
        scale = fp16_round(mx / -8.0f);
        zero = 8.0f;
      } else {
        float xmin = 0.0f, xmax = 0.0f;
        for (int64_t p : positions) {
          const float v = w.wt[(size_t)p * R + row];
          xmin = std::min(xmin, v);
          xmax = std::max(xmax, v);
        }
        if (o.sym) {
          xmax = std::max(-xmin, xmax);
          if (xmin < 0) xmin = -xmax;
        }
        if (xmin == 0.0f && xmax == 0.0f) {
          xmin = -1.0f;
          xmax = 1.0f;
        }
        scale = fp16_round((xmax - xmin) / (float)w.maxq);
        if (o.sym) {
          zero = (float)((w.maxq + 1) / 2);
        } else {
          // AutoGPTQ ("gptq" v1) checkpoints store zero − 1, which cannot hold a zero of 0:
          // such a group (no negative weight) gets zero 1 and loses its top code.
          zero = scale > 0 ? std::nearbyint(-xmin / scale) : 1.0f;
          zero = std::clamp(zero, 1.0f, (float)w.maxq);
        }
      }
      r.scale[row * (size_t)r.n_groups + (size_t)g] = scale;
      r.zero[row * (size_t)r.n_groups + (size_t)g] = zero;
    }
  });
  w.have[(size_t)g] = 1;
}

int quantize_value(GptqGrid grid, float x, float scale, float zero, int64_t maxq) {
  float q;
  if (scale == 0.0f) {
    q = grid == GptqGrid::Q4_K ? 0.0f : zero;
  } else if (grid == GptqGrid::Q4_K) {
    q = std::nearbyint((x + zero) / scale);
  } else {
    q = std::nearbyint(x / scale) + zero;
  }
  return (int)std::clamp(q, 0.0f, (float)maxq);
}

// Q4_K: the grid (super-block scales and mins) from quantizing the original rows.
Status init_q4_k_grid(const float* w, Work& work) {
  GptqResult& r = *work.res;
  const int64_t nb = r.cols / kQKK;
  r.blocks.assign((size_t)(r.rows * nb) * sizeof(BlockQ4_K), 0);
  for (int64_t row = 0; row < r.rows; ++row) {
    BlockQ4_K* blk = reinterpret_cast<BlockQ4_K*>(r.blocks.data()) + row * nb;
    if (work.opt->importance)
      quantize_q4_k_importance(w + row * r.cols, blk, r.cols, work.opt->importance);
    else
      quantize_q4_k_ref(w + row * r.cols, blk, r.cols);
    for (int64_t b = 0; b < nb; ++b) {
      const float d = fp16_to_fp32(blk[b].d), dmin = fp16_to_fp32(blk[b].dmin);
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, blk[b].scales, &sc, &m);
        const size_t g = (size_t)(b * 8 + j);
        r.scale[(size_t)row * (size_t)r.n_groups + g] = d * sc;
        r.zero[(size_t)row * (size_t)r.n_groups + g] = dmin * m;
      }
    }
  }
  std::fill(work.have.begin(), work.have.end(), 1);
  return Status();
}

void write_blocks(GptqResult& r, GptqGrid grid) {
  if (grid == GptqGrid::Q4_0) {
    const int64_t nb = r.cols / kQK;
    r.blocks.assign((size_t)(r.rows * nb) * sizeof(BlockQ4_0), 0);
    BlockQ4_0* blk = reinterpret_cast<BlockQ4_0*>(r.blocks.data());
    for (int64_t row = 0; row < r.rows; ++row)
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ4_0& y = blk[row * nb + b];
        y.d = fp32_to_fp16(r.scale[(size_t)(row * r.n_groups + b)]);
        const uint8_t* q = &r.q[(size_t)(row * r.cols + b * kQK)];
        for (int j = 0; j < kQK / 2; ++j) y.qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
      }
  } else if (grid == GptqGrid::Q4_K) {
    const int64_t nb = r.cols / kQKK;
    BlockQ4_K* blk = reinterpret_cast<BlockQ4_K*>(r.blocks.data());
    for (int64_t row = 0; row < r.rows; ++row)
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ4_K& y = blk[row * nb + b];
        const uint8_t* q = &r.q[(size_t)(row * r.cols + b * kQKK)];
        for (int c = 0; c < 4; ++c)
          for (int l = 0; l < 32; ++l)
            y.qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
      }
  }
}

Status check_options(const GptqOptions& o, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0)
    return error(strformat("gptq: bad matrix shape [%lld, %lld]", (long long)rows,
                           (long long)cols));
  if (!(o.damp >= 0.0) || o.damp > 1.0)
    return error(strformat("gptq: damp %g must be in [0, 1]", o.damp));
  if (o.block_size <= 0) return error("gptq: block size must be positive");
  switch (o.grid) {
    case GptqGrid::MinMax:
      if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 8)
        return error(strformat("gptq: bits %d not supported (2, 3, 4 or 8)", o.bits));
      if (o.group_size == 0 || o.group_size < -1)
        return error(strformat("gptq: group size %lld must be positive or -1",
                               (long long)o.group_size));
      break;
    case GptqGrid::Q4_0:
      if (cols % kQK)
        return error(strformat("gptq: Q4_0 needs input columns divisible by %d, got %lld", kQK,
                               (long long)cols));
      break;
    case GptqGrid::Q4_K:
      if (cols % kQKK)
        return error(strformat("gptq: Q4_K needs input columns divisible by %d, got %lld", kQKK,
                               (long long)cols));
      break;
  }
  return Status();
}

}  // namespace

GptqHessian gptq_hessian(int64_t cols) {
  GptqHessian h;
  h.cols = cols;
  h.sum.assign((size_t)(cols * cols), 0.0);
  return h;
}

void gptq_hessian_add(GptqHessian& h, const float* x, int64_t tokens, int64_t n_seq,
                      ThreadPool* pool) {
  const size_t C = (size_t)h.cols, T = (size_t)tokens;
  CARTLM_CHECK(h.sum.size() == C * C);
  // Upper triangle row by row (each row i owns its output), then mirrored.
  for_range(pool, C, [&](size_t b, size_t e) {
    std::vector<double> acc(C);
    for (size_t i = b; i < e; ++i) {
      std::fill(acc.begin() + (ptrdiff_t)i, acc.end(), 0.0);
      for (size_t t = 0; t < T; ++t) {
        const float* xt = x + t * C;
        const double xi = xt[i];
        if (xi == 0.0) continue;
        for (size_t j = i; j < C; ++j) acc[j] += xi * (double)xt[j];
      }
      double* hi = &h.sum[i * C];
      for (size_t j = i; j < C; ++j) hi[j] += acc[j];
    }
  });
  for (size_t i = 0; i < C; ++i)
    for (size_t j = i + 1; j < C; ++j) h.sum[j * C + i] = h.sum[i * C + j];
  h.n_seq += n_seq;
  h.n_tokens += tokens;
}

Result<GptqResult> gptq_quantize(const float* w, int64_t rows, int64_t cols, const GptqHessian& hs,
                                 const GptqOptions& opt, ThreadPool* pool) {
  CARTLM_RETURN_IF_ERROR(check_options(opt, rows, cols));
  if (hs.cols != cols)
    return error(strformat("gptq: Hessian has %lld columns, weight has %lld", (long long)hs.cols,
                           (long long)cols));
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i])) return error(strformat("gptq: weight element %lld is not finite",
                                                     (long long)i));
  const size_t R = (size_t)rows, N = (size_t)cols;
  GptqResult res;
  res.rows = rows;
  res.cols = cols;
  if (opt.grid == GptqGrid::MinMax)
    res.n_groups = opt.group_size <= 0 ? 1 : (cols + opt.group_size - 1) / opt.group_size;
  else
    res.n_groups = cols / kQK;
  res.q.assign(R * N, 0);
  res.scale.assign(R * (size_t)res.n_groups, 0.0f);
  res.zero.assign(R * (size_t)res.n_groups, 0.0f);
  res.w_hat.assign(R * N, 0.0f);

  // H = 2/n · Σ x xᵀ (an empty Hessian is all dead columns: plain rounding).
  std::vector<double> h(N * N);
  const double hscale = hs.n_seq > 0 ? 2.0 / (double)hs.n_seq : 0.0;
  for (size_t i = 0; i < N * N; ++i) h[i] = hs.sum[i] * hscale;

  Work work;
  work.opt = &opt;
  work.rows = rows;
  work.cols = cols;
  work.maxq = (1 << (opt.grid == GptqGrid::MinMax ? opt.bits : 4)) - 1;
  work.res = &res;
  work.have.assign((size_t)res.n_groups, 0);
  work.wt.assign(N * R, 0.0f);

  // Dead inputs (never non-zero in calibration): their weights cannot matter, quantize them to 0.
  std::vector<uint8_t> dead(N, 0);
  for (size_t i = 0; i < N; ++i)
    if (h[i * N + i] == 0.0) {
      h[i * N + i] = 1.0;
      dead[i] = 1;
    }
  work.perm.resize(N);
  std::iota(work.perm.begin(), work.perm.end(), 0);
  if (opt.act_order)
    std::stable_sort(work.perm.begin(), work.perm.end(),
                     [&](int32_t a, int32_t b) { return h[(size_t)a * N + a] > h[(size_t)b * N + b]; });
  work.invperm.resize(N);
  for (size_t p = 0; p < N; ++p) work.invperm[(size_t)work.perm[p]] = (int32_t)p;

  // Q4_K's grid comes from the original weights (dead columns included, as llama.cpp sees them).
  if (opt.grid == GptqGrid::Q4_K) CARTLM_RETURN_IF_ERROR(init_q4_k_grid(w, work));

  for (size_t p = 0; p < N; ++p) {
    const size_t c = (size_t)work.perm[p];
    float* dst = &work.wt[p * R];
    if (!dead[c])
      for (size_t r = 0; r < R; ++r) dst[r] = w[r * N + c];
  }
  std::vector<double> hp(N * N);
  double mean_diag = 0.0;
  for (size_t i = 0; i < N; ++i) {
    for (size_t j = 0; j < N; ++j)
      hp[i * N + j] = h[(size_t)work.perm[i] * N + (size_t)work.perm[j]];
    mean_diag += hp[i * N + i];
  }
  mean_diag /= (double)N;
  for (size_t i = 0; i < N; ++i) hp[i * N + i] += opt.damp * mean_diag;
  h.clear();
  h.shrink_to_fit();

  std::vector<double> ud;
  if (!upper_cholesky_of_inverse(hp, cols, ud, pool))
    return error(strformat("gptq: the Hessian (%lld columns) is not positive definite after "
                           "dampening %g; raise --damp",
                           (long long)cols, opt.damp));
  hp.clear();
  hp.shrink_to_fit();
  std::vector<float> u(N * N);
  for (size_t i = 0; i < N * N; ++i) u[i] = (float)ud[i];
  ud.clear();
  ud.shrink_to_fit();

  const size_t B = (size_t)opt.block_size;
  std::vector<float> err(B * R);
  double loss = 0.0;
  for (size_t i1 = 0; i1 < N; i1 += B) {
    const size_t i2 = std::min(N, i1 + B);
    for (size_t i = i1; i < i2; ++i) {
      const int64_t g = group_of(work, (int64_t)i);
      if (!work.have[(size_t)g]) compute_group_params(work, g, pool);
      const size_t c = (size_t)work.perm[i];
      const float uii = u[i * N + i];
      float* col = &work.wt[i * R];
      float* e = &err[(i - i1) * R];
      for (size_t r = 0; r < R; ++r) {
        const float scale = res.scale[r * (size_t)res.n_groups + (size_t)g];
        const float zero = res.zero[r * (size_t)res.n_groups + (size_t)g];
        const int q = quantize_value(opt.grid, col[r], scale, zero, work.maxq);
        const float wq = gptq_dequant(opt.grid, scale, zero, q);
        res.q[r * N + c] = (uint8_t)q;
        res.w_hat[r * N + c] = wq;
        e[r] = (col[r] - wq) / uii;
        loss += (double)e[r] * e[r] / 2.0;
      }
      // In-block update of the remaining columns of this block.
      const float* ui = &u[i * N];
      for (size_t j = i + 1; j < i2; ++j) {
        const float f = ui[j];
        float* wj = &work.wt[j * R];
        for (size_t r = 0; r < R; ++r) wj[r] -= e[r] * f;
      }
    }
    // Lazy batch update of every later column: W[:, i2:] −= Err · U[i1:i2, i2:].
    if (i2 < N) {
      for_range(pool, N - i2, [&](size_t b, size_t e) {
        for (size_t j = i2 + b; j < i2 + e; ++j) {
          float* wj = &work.wt[j * R];
          for (size_t k = i1; k < i2; ++k) {
            const float f = u[k * N + j];
            if (f == 0.0f) continue;
            const float* ek = &err[(k - i1) * R];
            for (size_t r = 0; r < R; ++r) wj[r] -= ek[r] * f;
          }
        }
      });
    }
  }
  res.avg_loss = loss / (double)rows;
  res.perm = work.perm;
  res.g_idx.resize(N);
  for (size_t p = 0; p < N; ++p) res.g_idx[(size_t)work.perm[p]] = (int32_t)group_of(work, (int64_t)p);
  write_blocks(res, opt.grid);
  return res;
}

Result<GptqResult> rtn_quantize(const float* w, int64_t rows, int64_t cols,
                                const GptqOptions& opt) {
  // GPTQ with H = I: U is diagonal, so no error reaches another column.
  GptqHessian h = gptq_hessian(cols);
  for (int64_t i = 0; i < cols; ++i) h.sum[(size_t)(i * cols + i)] = 1.0;
  h.n_seq = 2;
  GptqOptions o = opt;
  o.act_order = false;
  o.damp = 0.0;
  return gptq_quantize(w, rows, cols, h, o, nullptr);
}

double relative_output_error(const float* x, int64_t tokens, const float* w, const float* w_hat,
                             int64_t rows, int64_t cols) {
  double num = 0.0, den = 0.0;
  for (int64_t t = 0; t < tokens; ++t) {
    const float* xt = x + t * cols;
    for (int64_t r = 0; r < rows; ++r) {
      double y = 0.0, yh = 0.0;
      for (int64_t c = 0; c < cols; ++c) {
        y += (double)xt[c] * w[r * cols + c];
        yh += (double)xt[c] * w_hat[r * cols + c];
      }
      num += (y - yh) * (y - yh);
      den += y * y;
    }
  }
  return den > 0.0 ? num / den : num;
}

}  // namespace cartlm
