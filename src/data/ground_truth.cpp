#include "data/ground_truth.h"

namespace cartlm {

// Quantity weights (sum is normalized by Rng::weighted). The tail bucket draws 11..99 uniformly,
// so every integer up to 100 can occur.
static const int kQuantities[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 24, 25, 30, 50, 100};
static const double kWeights[] = {38, 18, 11, 6, 5.5, 3.5, 1.5, 2, 1, 4, 3, 1, 2, 1, 0.5, 1, 1, 0.5};
static const double kTailWeight = 2.0;

int draw_quantity(Rng& rng) {
  constexpr size_t n = sizeof(kQuantities) / sizeof(kQuantities[0]);
  static_assert(n == sizeof(kWeights) / sizeof(kWeights[0]));
  double w[n + 1];
  for (size_t i = 0; i < n; ++i) w[i] = kWeights[i];
  w[n] = kTailWeight;
  size_t k = rng.weighted(std::span<const double>(w, n + 1));
  if (k < n) return kQuantities[k];
  return (int)rng.range(11, 99);
}

GroundTruth draw_ground_truth(Rng& rng, const Catalog& catalog, size_t index,
                              std::span<const Lang> langs, double tail_share) {
  CARTLM_CHECK(!langs.empty() && !catalog.products.empty());
  GroundTruth gt;
  gt.lang = langs[index % langs.size()];
  gt.label.action = rng.bernoulli(0.5) ? "add" : "remove";
  gt.product = (int)rng.uniform(catalog.products.size());
  gt.label.product = catalog.products[gt.product].name;
  // No extra draw without a tail share, so default datasets stay byte-identical.
  const bool tail = tail_share > 0 && rng.bernoulli(tail_share);
  gt.label.quantity = tail ? (int)rng.range(11, 99) : draw_quantity(rng);
  return gt;
}

}  // namespace cartlm
