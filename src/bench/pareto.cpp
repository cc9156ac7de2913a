#include "bench/pareto.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace cartlm {

ParetoResult pareto_frontier(const std::vector<double>& accuracy, const std::vector<double>& x,
                             bool x_higher_is_better) {
  CARTLM_CHECK(accuracy.size() == x.size());
  size_t n = x.size();
  ParetoResult r;
  r.dominated_by.assign(n, -1);
  // Cost: lower is better on both transformed axes (negate what should be high).
  auto cost = [&](size_t i) { return x_higher_is_better ? -x[i] : x[i]; };
  auto usable = [&](size_t i) { return std::isfinite(accuracy[i]) && std::isfinite(x[i]); };
  for (size_t i = 0; i < n; ++i) {
    if (!usable(i)) continue;
    int best = -1;
    for (size_t j = 0; j < n; ++j) {
      if (j == i || !usable(j)) continue;
      bool no_worse = accuracy[j] >= accuracy[i] && cost(j) <= cost(i);
      bool better = accuracy[j] > accuracy[i] || cost(j) < cost(i);
      if (no_worse && better && (best < 0 || accuracy[j] > accuracy[best])) best = static_cast<int>(j);
    }
    r.dominated_by[i] = best;
    (best >= 0 ? r.dominated : r.frontier).push_back(static_cast<int>(i));
  }
  std::sort(r.frontier.begin(), r.frontier.end(), [&](int a, int b) {
    if (cost(a) != cost(b)) return cost(a) < cost(b);
    return a < b;
  });
  return r;
}

Recommendation recommend(const std::vector<TradeoffPoint>& points, double tolerance) {
  Recommendation rec;
  rec.tolerance = tolerance;
  std::vector<double> acc, mem, speed;
  for (const TradeoffPoint& p : points) {
    acc.push_back(p.accuracy);
    mem.push_back(p.memory);
    speed.push_back(p.speed);
  }
  rec.memory_front = pareto_frontier(acc, mem, false);
  rec.speed_front = pareto_frontier(acc, speed, true);
  for (int i : rec.memory_front.dominated)
    if (rec.speed_front.dominated_by[i] >= 0) rec.dominated_both.push_back(i);

  auto less_mem = [&](int a, int b) {  // NaN memory sorts last
    if (std::isfinite(mem[a]) != std::isfinite(mem[b])) return std::isfinite(mem[a]);
    return mem[a] < mem[b];
  };
  for (size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(acc[i])) continue;
    int b = rec.best_accuracy, ii = static_cast<int>(i);
    if (b < 0 || acc[i] > acc[b] || (acc[i] == acc[b] && less_mem(ii, b)) ||
        (acc[i] == acc[b] && mem[i] == mem[b] && speed[i] > speed[b]))
      rec.best_accuracy = ii;
  }
  if (rec.best_accuracy < 0) return rec;
  // A tiny epsilon so that "exactly one point lower" counts as within one point.
  double floor = acc[rec.best_accuracy] - tolerance - 1e-12;
  for (size_t i = 0; i < points.size(); ++i)
    if (std::isfinite(acc[i]) && acc[i] >= floor) rec.within.push_back(static_cast<int>(i));
  for (int i : rec.within) {
    if (std::isfinite(speed[i]) &&
        (rec.fastest_within < 0 || speed[i] > speed[rec.fastest_within]))
      rec.fastest_within = i;
    if (std::isfinite(mem[i]) && (rec.smallest_within < 0 || mem[i] < mem[rec.smallest_within]))
      rec.smallest_within = i;
  }
  return rec;
}

}  // namespace cartlm
