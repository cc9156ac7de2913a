// The accuracy / cost trade-off: Pareto frontiers (accuracy vs memory, accuracy vs speed) and the
// recommendations the report prints, all computed from the measured numbers.
#pragma once
#include <string>
#include <vector>

namespace cartlm {

// One variant as the trade-off sees it. accuracy in [0, 1]; memory in bytes (lower is better);
// speed in intents/s (higher is better). NaN = not measured: such a variant takes no part in the
// comparisons that need the missing number.
struct TradeoffPoint {
  std::string name;
  double accuracy = 0;
  double memory = 0;
  double speed = 0;
};

// A point is dominated when another point is at least as good on both axes and strictly better on
// one. frontier: the non-dominated points, sorted by cost (x ascending for lower-is-better,
// descending for higher-is-better, i.e. from cheapest to most expensive). dominated_by[i]: index of
// a point dominating i (the most accurate one), or -1.
struct ParetoResult {
  std::vector<int> frontier;
  std::vector<int> dominated;
  std::vector<int> dominated_by;
};
ParetoResult pareto_frontier(const std::vector<double>& accuracy, const std::vector<double>& x,
                             bool x_higher_is_better);

struct Recommendation {
  double tolerance = 0.01;     // "within 1 point" = 0.01 in accuracy units
  int best_accuracy = -1;      // highest accuracy (ties: less memory, then faster)
  int fastest_within = -1;     // fastest among accuracy >= best - tolerance
  int smallest_within = -1;    // least memory among accuracy >= best - tolerance
  std::vector<int> within;     // the variants within tolerance of the best
  ParetoResult memory_front, speed_front;
  std::vector<int> dominated_both;  // dominated on both plots: never the right choice
};
Recommendation recommend(const std::vector<TradeoffPoint>& points, double tolerance = 0.01);

}  // namespace cartlm
