// score(): matches predictions to gold by id and builds the ScoreReport (formatting lives in
// score_report.cpp, the per-output rule in output_check.cpp).
#include "eval/score.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

namespace cartlm {

Interval wilson_interval(size_t successes, size_t n, double z) {
  CARTLM_CHECK(successes <= n);
  if (n == 0) return {0, 1};
  double nn = (double)n, p = (double)successes / nn, z2 = z * z;
  double denom = 1 + z2 / nn;
  double center = (p + z2 / (2 * nn)) / denom;
  double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
  // The bounds are exactly 0 for 0/n and exactly 1 for n/n; the formula leaves rounding noise.
  return {successes == 0 ? 0.0 : std::max(0.0, center - half),
          successes == n ? 1.0 : std::min(1.0, center + half)};
}

double Tally::accuracy() const {
  return total ? (double)correct / (double)total : std::numeric_limits<double>::quiet_NaN();
}

namespace {

std::string quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Known values first in the given order, then the rest alphabetically.
std::vector<std::pair<std::string, Tally>> ordered(const std::map<std::string, Tally>& m,
                                                   std::initializer_list<const char*> first) {
  std::vector<std::pair<std::string, Tally>> out;
  for (const char* k : first) {
    auto it = m.find(k);
    if (it != m.end()) out.emplace_back(*it);
  }
  for (const auto& kv : m) {
    bool known = false;
    for (const char* k : first) known = known || kv.first == k;
    if (!known) out.push_back(kv);
  }
  return out;
}

}  // namespace

Result<ScoreReport> score(const std::vector<Example>& gold, const std::vector<Prediction>& preds) {
  if (gold.empty()) return error("no gold examples to score against");
  std::unordered_map<std::string, size_t> gold_index;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i].id.empty()) return error("gold example " + std::to_string(i + 1) + " has no id");
    if (!gold_index.emplace(gold[i].id, i).second)
      return error("duplicate gold id " + quote(gold[i].id) + " (example " +
                   std::to_string(i + 1) + ")");
  }
  ScoreReport r;
  std::vector<const Prediction*> by_gold(gold.size(), nullptr);
  for (size_t i = 0; i < preds.size(); ++i) {
    const Prediction& p = preds[i];
    if (p.id.empty()) return error("prediction " + std::to_string(i + 1) + " has no id");
    auto it = gold_index.find(p.id);
    if (it == gold_index.end()) {
      r.extra_ids.push_back(p.id);
      continue;
    }
    if (by_gold[it->second])
      return error("duplicate prediction id " + quote(p.id) + " (prediction " +
                   std::to_string(i + 1) + ")");
    by_gold[it->second] = &p;
  }

  std::map<std::string, Tally> by_lang, by_action;
  std::map<std::string, size_t> reasons;
  size_t field_ok[3] = {0, 0, 0};
  for (size_t i = 0; i < gold.size(); ++i) {
    const Example& g = gold[i];
    Verdict v;
    if (!by_gold[i]) {
      ++r.missing;
      v.reason = "missing prediction";
    } else {
      OutputCheck c = check_output(by_gold[i]->output);
      r.json_objects += c.valid_json;
      r.valid += c.schema_ok;
      v = judge(c, g.label);
    }
    field_ok[0] += v.action_ok;
    field_ok[1] += v.product_ok;
    field_ok[2] += v.quantity_ok;
    for (Tally* t : {&r.overall, &by_lang[g.lang], &by_action[g.label.action]}) {
      ++t->total;
      t->correct += v.correct;
    }
    if (v.correct) continue;
    ++reasons[v.reason];
    Failure f;
    f.id = g.id;
    f.lang = g.lang;
    f.text = g.text;
    f.gold = g.label;
    if (by_gold[i]) f.output = by_gold[i]->output;
    f.reason = v.reason;
    r.failures.push_back(std::move(f));
  }

  r.by_lang = ordered(by_lang, {"en", "hr", "es"});
  r.by_action = ordered(by_action, {"add", "remove"});
  r.field_correct = {{"action", field_ok[0]}, {"product", field_ok[1]}, {"quantity", field_ok[2]}};
  r.reasons.assign(reasons.begin(), reasons.end());
  std::stable_sort(r.reasons.begin(), r.reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return r;
}

}  // namespace cartlm
