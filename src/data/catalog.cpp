#include "data/catalog.h"

#include <cstdio>
#include <map>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/utf8.h"

// Compiled in by cmake/embed.cmake from data/catalog.tsv (global names, see CMakeLists.txt).
extern const char embedded_catalog_tsv[];
extern const unsigned long embedded_catalog_tsv_size;

namespace cartlm {

int Catalog::find(std::string_view name) const {
  for (size_t i = 0; i < products.size(); ++i)
    if (products[i].name == name) return (int)i;
  return -1;
}

std::vector<std::string> Catalog::names() const {
  std::vector<std::string> out;
  out.reserve(products.size());
  for (const Product& p : products) out.push_back(p.name);
  return out;
}

namespace {

constexpr size_t kMaxNameBytes = 64;

bool has_control_char(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// A canonical name is what the model must print inside a JSON string, so it has to be a short,
// printable label; quotes and backslashes are refused because they would need JSON escaping.
Status check_name(std::string_view name) {
  if (name.empty()) return error("empty product name");
  if (!is_valid_utf8(name)) return error("product name is not valid UTF-8");
  if (name.size() > kMaxNameBytes)
    return error("product name longer than 64 bytes: '" + std::string(name.substr(0, 64)) + "...'");
  if (has_control_char(name)) return error("product name contains a control character");
  if (name.find('"') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    return error("product name must not contain '\"' or '\\': '" + std::string(name) + "'");
  return {};
}

// English plural of a lower-case name for the .txt fallback. A name that already ends in 's'
// ("jeans", "aa batteries", "socks") is taken to be plural and kept for both numbers.
std::string english_plural(const std::string& s) {
  if (s.empty() || ends_with(s, "s")) return s;
  if (ends_with(s, "x") || ends_with(s, "z") || ends_with(s, "ch") || ends_with(s, "sh"))
    return s + "es";
  if (s.size() >= 2 && s.back() == 'y' &&
      std::string_view("aeiou").find(s[s.size() - 2]) == std::string_view::npos)
    return s.substr(0, s.size() - 1) + "ies";
  return s + "s";
}

Result<Gender> parse_gender(std::string_view g, Lang lang) {
  if (lang == Lang::en) {
    if (g == "-" || g.empty()) return Gender::none;
    return error("gender for en must be '-', got '" + std::string(g) + "'");
  }
  if (g == "m") return Gender::m;
  if (g == "f") return Gender::f;
  if (lang == Lang::hr && g == "n") return Gender::n;
  if (lang == Lang::hr && g == "pl") return Gender::pl;
  return error("unknown gender '" + std::string(g) + "' for " + lang_code(lang) +
               (lang == Lang::hr ? " (expected m, f, n or pl)" : " (expected m or f)"));
}

Result<FormKind> parse_kind(std::string_view k) {
  if (k == "main") return FormKind::main;
  if (k == "syn") return FormKind::syn;
  if (k == "eval") return FormKind::eval;
  return error("unknown kind '" + std::string(k) + "' (expected main, syn or eval)");
}

// Splits the forms column and fills `form`; hr needs all seven case forms.
Status parse_forms(const std::string& column, Lang lang, SurfaceForm& form) {
  std::vector<std::string> forms = split(column, '|');
  for (std::string& f : forms) {
    f = std::string(trim(f));
    if (f.empty()) return error("empty form in '" + column + "'");
    if (has_control_char(f)) return error("form contains a control character: '" + f + "'");
  }
  size_t want = lang == Lang::hr ? 7 : 2;
  if (forms.size() != want)
    return error("expected " + std::to_string(want) + " forms for " + lang_code(lang) +
                 (lang == Lang::hr ? " (nom_sg | gen_sg | acc_sg | nom_pl | gen_pl | acc_pl | paucal)"
                                   : " (singular | plural)") +
                 ", got " + std::to_string(forms.size()));
  form.sg = forms[0];
  if (lang == Lang::hr) {
    form.gen_sg = forms[1];
    form.acc_sg = forms[2];
    form.pl = forms[3];
    form.gen_pl = forms[4];
    form.acc_pl = forms[5];
    form.paucal = forms[6];
  } else {
    form.pl = forms[1];
  }
  return {};
}

// Where a surface string was first seen, to refuse one phrase naming two products (the label of
// a generated example would then be ambiguous) or repeating within one product.
struct Seen {
  int product = -1;
  size_t line = 0;
};

// Strips a UTF-8 byte order mark, which some editors put at the start of text files.
std::string_view strip_bom(std::string_view text) {
  if (starts_with(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  return text;
}

Result<Catalog> parse_tsv(std::string_view text, const std::string& origin) {
  Catalog cat;
  std::vector<size_t> first_line;                  // per product
  std::map<std::string, Seen> seen[kNumLangs];     // lower-cased sg/pl -> first use
  std::vector<std::string> lines = split(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line_no = i + 1;
    std::string_view raw = lines[i];
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const std::string where = origin + ":" + std::to_string(line_no);
    std::string_view t = trim(raw);
    if (t.empty() || t[0] == '#') continue;
    if (!is_valid_utf8(raw))
      return error(where + ": invalid UTF-8 at byte " + std::to_string(first_invalid_utf8(raw) + 1));
    std::vector<std::string> cols = split(raw, '\t');
    if (cols.size() != 5)
      return error(where + ": expected 5 tab-separated columns (product, lang, kind, gender, forms), got " +
                   std::to_string(cols.size()));
    for (std::string& c : cols) c = std::string(trim(c));
    CARTLM_RETURN_IF_ERROR(check_name(cols[0]).with_context(where));
    std::optional<Lang> lang = parse_lang(cols[1]);
    if (!lang) return error(where + ": unknown language '" + cols[1] + "' (expected en, hr or es)");
    SurfaceForm form;
    Result<FormKind> kind = parse_kind(cols[2]);
    if (!kind.ok()) return kind.status().with_context(where);
    form.kind = *kind;
    Result<Gender> gender = parse_gender(cols[3], *lang);
    if (!gender.ok()) return gender.status().with_context(where);
    form.gender = *gender;
    CARTLM_RETURN_IF_ERROR(parse_forms(cols[4], *lang, form).with_context(where));

    // A product's rows form one block; the same name again after another product is a
    // duplicate (most likely a copy-paste slip that would silently merge two entries).
    int idx = cat.products.empty() ? -1 : (int)cat.products.size() - 1;
    if (idx < 0 || cat.products[idx].name != cols[0]) {
      int earlier = cat.find(cols[0]);
      if (earlier >= 0)
        return error(where + ": duplicate product '" + cols[0] + "' (its rows start at line " +
                     std::to_string(first_line[earlier]) + "; keep a product's rows together)");
      cat.products.push_back(Product{cols[0], {}});
      first_line.push_back(line_no);
      idx = (int)cat.products.size() - 1;
    }
    std::vector<SurfaceForm>& list = cat.products[idx].forms[(int)*lang];
    if (form.kind == FormKind::main)
      for (const SurfaceForm& f : list)
        if (f.kind == FormKind::main)
          return error(where + ": second 'main' row for '" + cols[0] + "' in " + cols[1]);
    // Within a product only the singular must be new ("hoody | hoodies" beside "hoodie | hoodies"
    // is fine); across products neither number may repeat.
    for (const SurfaceForm& f : list)
      if (to_lower(f.sg) == to_lower(form.sg))
        return error(where + ": duplicate form '" + form.sg + "' for '" + cols[0] + "' in " + cols[1]);
    for (const std::string* s : {&form.sg, &form.pl}) {
      auto [it, inserted] = seen[(int)*lang].emplace(to_lower(*s), Seen{idx, line_no});
      if (inserted || it->second.product == idx) continue;
      return error(where + ": form '" + *s + "' (" + cols[1] + ") already names '" +
                   cat.products[it->second.product].name + "' at line " +
                   std::to_string(it->second.line));
    }
    list.push_back(std::move(form));
  }
  if (cat.products.empty()) return error(origin + ": the catalog has no products");
  for (size_t p = 0; p < cat.products.size(); ++p)
    for (Lang l : kAllLangs) {
      bool has_main = false;
      for (const SurfaceForm& f : cat.products[p].in(l)) has_main |= f.kind == FormKind::main;
      if (!has_main)
        return error(origin + ":" + std::to_string(first_line[p]) + ": product '" +
                     cat.products[p].name + "' has no 'main' row for " + lang_code(l));
    }
  return cat;
}

// One canonical name per line: English forms are derived, hr/es reuse the English name (a
// usable fallback for custom catalogs; the generator then writes English product names there).
Result<Catalog> parse_txt(std::string_view text, const std::string& origin) {
  Catalog cat;
  std::vector<std::string> lines = split(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = origin + ":" + std::to_string(i + 1);
    std::string name(trim(lines[i]));
    if (name.empty() || name[0] == '#') continue;
    if (!is_valid_utf8(name))
      return error(where + ": invalid UTF-8 at byte " + std::to_string(first_invalid_utf8(name) + 1));
    CARTLM_RETURN_IF_ERROR(check_name(name).with_context(where));
    if (cat.find(name) >= 0) return error(where + ": duplicate product '" + name + "'");
    Product p{name, {}};
    SurfaceForm en;
    en.sg = to_lower(name);
    en.pl = english_plural(en.sg);
    p.forms[(int)Lang::en].push_back(en);
    for (Lang l : {Lang::hr, Lang::es}) {
      SurfaceForm f;
      f.gender = Gender::m;
      f.sg = f.pl = name;
      if (l == Lang::hr) f.gen_sg = f.acc_sg = f.gen_pl = f.acc_pl = f.paucal = name;
      p.forms[(int)l].push_back(f);
    }
    cat.products.push_back(std::move(p));
  }
  if (cat.products.empty()) return error(origin + ": the catalog has no products");
  return cat;
}

}  // namespace

Result<Catalog> parse_catalog(std::string_view text, const std::string& origin) {
  text = strip_bom(text);
  // TSV if any non-comment line has a tab; otherwise one name per line.
  for (const std::string& line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (!t.empty() && t[0] != '#' && line.find('\t') != std::string::npos)
      return parse_tsv(text, origin);
  }
  return parse_txt(text, origin);
}

Result<Catalog> load_catalog(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text.ok()) return text.status().with_context("catalog");
  return parse_catalog(*text, path);
}

const Catalog& default_catalog() {
  static const Catalog catalog = [] {
    Result<Catalog> r = parse_catalog(std::string_view(embedded_catalog_tsv, embedded_catalog_tsv_size),
                                      "data/catalog.tsv (built in)");
    // The embedded file is checked by tests/data/catalog_test.cpp, so failing here is a bug.
    if (!r.ok()) std::fprintf(stderr, "cartlm: %s\n", r.message().c_str());
    CARTLM_CHECK(r.ok());
    return *r;
  }();
  return catalog;
}

Result<Catalog> load_catalog_or_default(const std::string& path) {
  if (path.empty()) return default_catalog();
  return load_catalog(path);
}

}  // namespace cartlm
