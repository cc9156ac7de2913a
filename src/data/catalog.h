// The product catalog: canonical names (the exact strings a model must output) and, per language,
// the surface forms shoppers use. The default catalog is data/catalog.tsv, compiled into the binary.
//
// catalog.tsv: '#' comments, blank lines, and rows of 5 tab-separated columns:
//   product <TAB> lang <TAB> kind <TAB> gender <TAB> forms
//   kind   : main (the usual name) | syn (synonym, informal name; train and eval)
//            | eval (held out: used only in the eval split, to measure generalization)
//   gender : en "-"; es "m" | "f"; hr "m" | "f" | "n" | "pl" (plural-only noun, e.g. "traperice")
//   forms  : " | "-separated;  en/es: singular | plural
//            hr: nom_sg | gen_sg | acc_sg | nom_pl | gen_pl | acc_pl | paucal
//            (paucal = the form after 2, 3, 4: "dva balzama za usne", "dvije čaše")
// Every product needs a main row in each of en, hr and es.
// A plain text file with one product name per line is also accepted: English forms are derived
// (lower case, plural with -s) and the English name is used as is for hr and es.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/lang.h"

namespace cartlm {

enum class Gender { none, m, f, n, pl };
enum class FormKind { main, syn, eval };

// One way to name a product in one language, with every form the templates need.
struct SurfaceForm {
  FormKind kind = FormKind::main;
  Gender gender = Gender::none;
  std::string sg, pl;  // en/es singular/plural; hr nominative singular/plural
  // Croatian only (empty otherwise):
  std::string gen_sg, acc_sg, gen_pl, acc_pl, paucal;
  // Every form field above (the Croatian ones empty for en/es), for code that scans all of them.
  std::array<const std::string*, 7> all_forms() const {
    return {&sg, &pl, &gen_sg, &acc_sg, &gen_pl, &acc_pl, &paucal};
  }
};

struct Product {
  std::string name;  // canonical (label) name, e.g. "Lip Balm"
  std::vector<SurfaceForm> forms[kNumLangs];  // indexed by (int)Lang
  const std::vector<SurfaceForm>& in(Lang l) const { return forms[(int)l]; }
};

struct Catalog {
  std::vector<Product> products;
  // Index of the product with this canonical name, or -1.
  int find(std::string_view name) const;
  std::vector<std::string> names() const;
};

// Parses catalog text; `origin` (a path) is used in error messages ("catalog.tsv:12: ...").
Result<Catalog> parse_catalog(std::string_view text, const std::string& origin);
Result<Catalog> load_catalog(const std::string& path);
// The catalog compiled into the binary (data/catalog.tsv).
const Catalog& default_catalog();
// `path` empty -> default catalog.
Result<Catalog> load_catalog_or_default(const std::string& path);

}  // namespace cartlm
