// dataset_summary(): the report `cartlm data generate` prints at the end.
#include <algorithm>
#include <map>
#include <unordered_set>

#include "core/strings.h"
#include "data/generator.h"

namespace cartlm {

namespace {

const char* const kQtyBuckets[] = {"1", "2", "3", "4", "5", "6-9", "10-19", "20-49", "50+"};
constexpr int kNumBuckets = 9;

int qty_bucket(int q) {
  if (q <= 5) return q < 1 ? 0 : q - 1;
  if (q <= 9) return 5;
  if (q <= 19) return 6;
  if (q <= 49) return 7;
  return 8;
}

std::string pct(size_t n, size_t total) {
  return total ? strformat("%5.1f%%", 100.0 * (double)n / (double)total) : std::string("    -");
}

std::string meta_string(const Example& ex, const char* key) {
  auto it = ex.meta.find(key);
  return it != ex.meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string pct_trim(size_t n, size_t total) { return std::string(trim(pct(n, total))); }

bool meta_bool(const Example& ex, const char* key) {
  auto it = ex.meta.find(key);
  return it != ex.meta.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

std::string dataset_summary(const Dataset& ds) {
  const std::vector<Example>* splits[] = {&ds.train, &ds.val, &ds.eval};
  std::string out;
  size_t total = ds.train.size() + ds.val.size() + ds.eval.size();
  out += strformat("generated %zu train, %zu val, %zu eval examples in %.2f s\n", ds.train.size(),
                   ds.val.size(), ds.eval.size(), ds.seconds);

  out += "\nexamples per language x action     train    val   eval\n";
  for (Lang l : kAllLangs)
    for (const char* action : {"add", "remove"}) {
      size_t n[3] = {0, 0, 0};
      for (int s = 0; s < 3; ++s)
        for (const Example& ex : *splits[s]) n[s] += ex.lang == lang_code(l) && ex.label.action == action;
      if (n[0] + n[1] + n[2] == 0) continue;
      out += strformat("  %-2s %-6s                       %6zu %6zu %6zu\n", lang_code(l), action,
                       n[0], n[1], n[2]);
    }

  out += "\nquantity                          train    val   eval\n";
  for (int b = 0; b < kNumBuckets; ++b) {
    size_t n[3] = {0, 0, 0};
    for (int s = 0; s < 3; ++s)
      for (const Example& ex : *splits[s]) n[s] += qty_bucket(ex.label.quantity) == b;
    out += strformat("  %-6s                        %s %s %s\n", kQtyBuckets[b],
                     pct(n[0], ds.train.size()).c_str(), pct(n[1], ds.val.size()).c_str(),
                     pct(n[2], ds.eval.size()).c_str());
  }

  // Noise kinds and quantity forms: share of examples, train+val vs eval.
  std::map<std::string, size_t> noise[2], forms[2];
  size_t any_noise[2] = {0, 0}, count[2] = {ds.train.size() + ds.val.size(), ds.eval.size()};
  for (int s = 0; s < 3; ++s)
    for (const Example& ex : *splits[s]) {
      int k = s == 2 ? 1 : 0;
      auto it = ex.meta.find("noise");
      if (it != ex.meta.end() && it->is_array()) {
        any_noise[k] += !it->empty();
        for (const json& name : *it)
          if (name.is_string()) ++noise[k][name.get<std::string>()];
      }
      ++forms[k][meta_string(ex, "qty_form")];
    }
  out += "\nnoise applied (share of examples) train+val   eval\n";
  std::vector<std::string> names(std::begin(kNoiseNames), std::end(kNoiseNames));
  for (const auto& [name, n] : noise[0])
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  for (const std::string& name : names)
    out += strformat("  %-18s              %s %s\n", name.c_str(), pct(noise[0][name], count[0]).c_str(),
                     pct(noise[1][name], count[1]).c_str());
  out += strformat("  %-18s              %s %s\n", "any", pct(any_noise[0], count[0]).c_str(),
                   pct(any_noise[1], count[1]).c_str());

  out += "\nquantity form                 train+val   eval\n";
  std::map<std::string, size_t> all_forms = forms[0];
  for (const auto& [f, n] : forms[1]) all_forms[f] += 0;
  for (const auto& [f, n] : all_forms)
    out += strformat("  %-18s              %s %s\n", f.empty() ? "(none)" : f.c_str(),
                     pct(forms[0][f], count[0]).c_str(), pct(forms[1][f], count[1]).c_str());

  // Distinctness and overlap, recomputed from the texts.
  std::unordered_set<std::string> train_val, distinct;
  for (int s = 0; s < 2; ++s)
    for (const Example& ex : *splits[s]) train_val.insert(normalize_for_overlap(ex.text));
  size_t overlap = 0, heldout = 0, eval_forms = 0;
  for (const Example& ex : ds.eval) {
    overlap += train_val.count(normalize_for_overlap(ex.text));
    heldout += meta_bool(ex, "heldout");
    eval_forms += meta_string(ex, "form_kind") == "eval";
  }
  for (int s = 0; s < 3; ++s)
    for (const Example& ex : *splits[s]) distinct.insert(normalize_for_overlap(ex.text));
  out += strformat("\ndistinct texts (normalized): %zu of %zu\n", distinct.size(), total);
  out += strformat("eval from held-out templates: %s, with eval-only surface forms: %s\n",
                   pct_trim(heldout, ds.eval.size()).c_str(), pct_trim(eval_forms, ds.eval.size()).c_str());
  out += strformat("eval texts also in train/val: %zu (%s)\n", overlap,
                   pct_trim(overlap, ds.eval.size()).c_str());
  return out;
}

}  // namespace cartlm
