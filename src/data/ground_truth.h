// How the ground truth of each example is drawn, as in the study: the language cycles en, hr, es;
// the action is add or remove with equal odds; the product is uniform over the catalog; the
// quantity follows weights that mimic real purchases (1 most often, small numbers next, now and
// then a round number such as 10, 12, 20, 24, 50, up to 100).
#pragma once
#include <span>
#include <vector>

#include "core/rng.h"
#include "data/catalog.h"
#include "formats/dataset.h"

namespace cartlm {

struct GroundTruth {
  Lang lang = Lang::en;
  int product = 0;  // index into Catalog::products
  Label label;
};

int draw_quantity(Rng& rng);
// Example `index` of a dataset: language = langs[index % langs.size()]. With tail_share > 0, that
// share of examples takes a quantity drawn uniformly from 11..99 instead (a train-split
// augmentation: the default weights give each of those numbers about 0.02% of the examples, too
// few to learn how "fifty-eight" or "pedeset i osam" turns into 58).
GroundTruth draw_ground_truth(Rng& rng, const Catalog& catalog, size_t index,
                              std::span<const Lang> langs, double tail_share = 0);

}  // namespace cartlm
