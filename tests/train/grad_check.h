// Gradient-check helpers for the training ops: central differences in double against the
// analytic backward (run in double), and comparison of the f32 path with the double one.
//
// Tolerances (STYLE.md §4.3: derived, not guessed)
// - Central difference (f(x+h) − f(x−h)) / 2h has truncation error h²/6·|f'''| and rounding error
//   ≲ δL/h, where δL is the rounding error of one evaluation of the scalar loss. The loss is
//   L = Σ w_i·out_i; each term carries a relative error of about depth·ε (depth = longest chain of
//   roundings that produce it, ε = 2^-53), so δL ≲ depth·ε·S with S = Σ|w_i·out_i|. For an op we
//   evaluate L relative to the unperturbed outputs, Σ w_i·(out_i(x) − out_i(x0)): outputs that do
//   not depend on the perturbed element cancel exactly (the ops are deterministic), so S only
//   sums the outputs that moved. With h = 1e-6 and O(1) inputs the truncation part (~1e-13) is
//   negligible, so an element passes when
//       |analytic − numeric| ≤ kFdRelTol·max(|analytic|, |numeric|) + depth·ε·S/h.
//   kFdRelTol = 1e-6 is the "relative error per element" the check asserts; the absolute part
//   only matters for gradients that are tiny next to the noise floor.
// - f32 against double: a result reached through `depth` f32 roundings differs from the exact
//   one by at most about depth·u·(its own size + the size of what cancelled), u = 2^-24. We use
//   the tensor's RMS for the cancelled part:  |f32 − f64| ≤ 4·depth·u·(|f64_i| + rms(f64)).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"

namespace cartlm::test {

constexpr double kF64Eps = 0x1p-53;
constexpr double kF32RoundOff = 0x1p-24;
constexpr double kFdStep = 1e-6;
constexpr double kFdRelTol = 1e-6;

// Uniform in [lo, hi), rounded to f32 so the f32 and f64 paths see the same inputs.
inline std::vector<double> random_vec(Rng& rng, size_t n, double lo = -1.0, double hi = 1.0) {
  std::vector<double> v(n);
  for (double& x : v) x = (double)(float)(lo + (hi - lo) * rng.uniform_double());
  return v;
}

template <class To, class From>
std::vector<To> cast_vec(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

// Indices to check: all of [0, n) when n <= max_count, else max_count distinct random ones.
inline std::vector<size_t> pick_indices(Rng& rng, size_t n, size_t max_count) {
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  if (n <= max_count) return idx;
  rng.shuffle(idx);
  idx.resize(max_count);
  std::sort(idx.begin(), idx.end());
  return idx;
}

struct FdStats {
  size_t checked = 0;
  size_t precise = 0;      // elements where the relative part of the tolerance dominates
  double max_rel = 0.0;    // max |a−n|/max(|a|,|n|) over the precise elements
  double max_ratio = 0.0;  // max |a−n| / tolerance over all checked (pass: <= 1)
  double vec_rel = 0.0;    // ‖a − n‖₂ / ‖n‖₂ over the checked elements
};

// One evaluation of the loss: its value and the total magnitude of the terms whose rounding it
// carries (S in the header comment).
struct FdEval {
  double value = 0.0;
  double scale = 0.0;
};

// Central differences of eval() w.r.t. x[i] for i in idx (x is perturbed in place and restored),
// compared with analytic[i]. Element i passes when |a − n| <= kFdRelTol·max(|a|,|n|) + atol_i with
// the noise floor atol_i = depth·ε·S_i/h, S_i the larger scale of the two evaluations.
inline ::testing::AssertionResult fd_check(const std::string& what, double* x,
                                           const double* analytic, const std::vector<size_t>& idx,
                                           const std::function<FdEval()>& eval, double depth,
                                           FdStats* out = nullptr) {
  FdStats st;
  std::string msg;
  size_t bad = 0;
  double max_floor = 0.0, diff2 = 0.0, num2 = 0.0;
  for (size_t i : idx) {
    const double x0 = x[i];
    x[i] = x0 + kFdStep;
    const FdEval lp = eval();
    x[i] = x0 - kFdStep;
    const FdEval lm = eval();
    x[i] = x0;
    const double num = (lp.value - lm.value) / (2.0 * kFdStep);
    const double atol = depth * kF64Eps * std::max(lp.scale, lm.scale) / kFdStep;
    max_floor = std::max(max_floor, atol);
    const double a = analytic[i];
    const double diff = std::fabs(a - num);
    const double mag = std::max(std::fabs(a), std::fabs(num));
    const double tol = kFdRelTol * mag + atol;
    diff2 += diff * diff;
    num2 += num * num;
    ++st.checked;
    st.max_ratio = std::max(st.max_ratio, tol > 0 ? diff / tol : (diff > 0 ? 1e300 : 0.0));
    if (mag > 0 && atol <= kFdRelTol * mag) {
      ++st.precise;
      st.max_rel = std::max(st.max_rel, diff / mag);
    }
    if (!(diff <= tol)) {
      if (bad < 5) {
        char line[200];
        std::snprintf(line, sizeof line,
                      "\n  [%zu] analytic %.12g numeric %.12g |diff| %.3g tol %.3g", i, a, num,
                      diff, tol);
        msg += line;
      }
      ++bad;
    }
  }
  st.vec_rel = num2 > 0 ? std::sqrt(diff2 / num2) : std::sqrt(diff2);
  std::printf(
      "[ fd   ] %-30s checked %4zu (precise %4zu)  max rel err %.2e  vec rel err %.2e"
      "  worst diff/tol %.3f  max floor %.1e\n",
      what.c_str(), st.checked, st.precise, st.max_rel, st.vec_rel, st.max_ratio, max_floor);
  if (out) *out = st;
  if (st.checked == 0) return ::testing::AssertionFailure() << what << ": nothing checked";
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << st.checked << " gradient elements off" << msg;
}

// f32 result against the double one; tolerance 4·depth·u·(|e_i| + rms(e)).
template <class F>
::testing::AssertionResult close_to_f64(const std::string& what, const F* actual,
                                        const double* expected, size_t n, double depth) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += expected[i] * expected[i];
  const double rms = n ? std::sqrt(ss / (double)n) : 0.0;
  size_t bad = 0, worst = 0;
  double worst_ratio = 0.0, max_rel = 0.0;
  std::string msg;
  for (size_t i = 0; i < n; ++i) {
    const double e = expected[i], a = (double)actual[i];
    const double tol = 4.0 * depth * kF32RoundOff * (std::fabs(e) + rms);
    const double diff = std::fabs(a - e);
    const double ratio = tol > 0 ? diff / tol : (diff > 0 ? 1e300 : 0.0);
    if (std::isnan(a) || ratio > worst_ratio)
      worst_ratio = std::isnan(a) ? 1e300 : ratio, worst = i;
    if (std::fabs(e) > 1e-3 * rms) max_rel = std::max(max_rel, diff / std::fabs(e));
    if (!(diff <= tol)) {
      if (bad < 5) {
        char line[200];
        std::snprintf(line, sizeof line, "\n  [%zu] f64 %.10g f32 %.10g |diff| %.3g tol %.3g", i, e,
                      a, diff, tol);
        msg += line;
      }
      ++bad;
    }
  }
  std::printf("[ f32  ] %-34s n %5zu  worst |diff|/tol %.3f (at %zu)  max rel %.2e\n", what.c_str(),
              n, worst_ratio, worst, max_rel);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << n << " elements out of tolerance (depth " << depth
         << ")" << msg;
}

}  // namespace cartlm::test
