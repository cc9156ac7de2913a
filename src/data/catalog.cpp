#include "data/catalog.h"

#include <set>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/utf8.h"

// Compiled in by cmake/embed.cmake from data/catalog.tsv.
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
  for (const Product& p : products) out.push_back(p.name);
  return out;
}

namespace {

Status check_name(std::string_view name) {
  if (name.empty()) return error("empty product name");
  if (name.size() > 64) return error("product name longer than 64 bytes: '" + std::string(name) + "'");
  if (!is_valid_utf8(name)) return error("product name is not valid UTF-8");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return error("product name contains a control character");
  if (name.find('"') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    return error("product name must not contain '\"' or '\\': '" + std::string(name) + "'");
  return {};
}

// English plural of a lower-case name; names already ending in 's' are taken as plural.
std::string english_plural(const std::string& s) {
  if (s.empty() || ends_with(s, "s")) return s;
  if (ends_with(s, "x") || ends_with(s, "z") || ends_with(s, "ch") || ends_with(s, "sh"))
    return s + "es";
  if (s.size() >= 2 && s.back() == 'y' && std::string("aeiou").find(s[s.size() - 2]) == std::string::npos)
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

Result<Catalog> parse_tsv(std::string_view text, const std::string& origin) {
  Catalog cat;
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string where = origin + ":" + std::to_string(line_no) + ": ";
    if (trim(raw).empty() || trim(raw)[0] == '#') {
      if (end == text.size()) break;
      continue;
    }
    if (!is_valid_utf8(raw)) return error(where + "invalid UTF-8");
    std::vector<std::string> cols = split(raw, '\t');
    if (cols.size() != 5)
      return error(where + "expected 5 tab-separated columns (product, lang, kind, gender, forms), got " +
                   std::to_string(cols.size()));
    for (auto& c : cols) c = std::string(trim(c));
    Status st = check_name(cols[0]);
    if (!st.ok()) return st.with_context(where.substr(0, where.size() - 2));
    auto lang = parse_lang(cols[1]);
    if (!lang) return error(where + "unknown language '" + cols[1] + "' (expected en, hr or es)");
    SurfaceForm form;
    if (cols[2] == "main") form.kind = FormKind::main;
    else if (cols[2] == "syn") form.kind = FormKind::syn;
    else if (cols[2] == "eval") form.kind = FormKind::eval;
    else return error(where + "unknown kind '" + cols[2] + "' (expected main, syn or eval)");
    auto gender = parse_gender(cols[3], *lang);
    if (!gender.ok()) return error(where + gender.message());
    form.gender = *gender;
    std::vector<std::string> forms = split(cols[4], '|');
    for (auto& f : forms) {
      f = std::string(trim(f));
      if (f.empty()) return error(where + "empty form in '" + cols[4] + "'");
    }
    size_t want = *lang == Lang::hr ? 7 : 2;
    if (forms.size() != want)
      return error(where + "expected " + std::to_string(want) + " forms for " + cols[1] +
                   (*lang == Lang::hr ? " (nom_sg | gen_sg | acc_sg | nom_pl | gen_pl | acc_pl | paucal)"
                                      : " (singular | plural)") +
                   ", got " + std::to_string(forms.size()));
    if (*lang == Lang::hr) {
      form.sg = forms[0];
      form.gen_sg = forms[1];
      form.acc_sg = forms[2];
      form.pl = forms[3];
      form.gen_pl = forms[4];
      form.acc_pl = forms[5];
      form.paucal = forms[6];
    } else {
      form.sg = forms[0];
      form.pl = forms[1];
    }
    int idx = cat.find(cols[0]);
    if (idx < 0) {
      cat.products.push_back(Product{cols[0], {}});
      idx = (int)cat.products.size() - 1;
    }
    auto& list = cat.products[idx].forms[(int)*lang];
    if (form.kind == FormKind::main)
      for (const SurfaceForm& f : list)
        if (f.kind == FormKind::main)
          return error(where + "second 'main' row for '" + cols[0] + "' in " + cols[1]);
    list.push_back(std::move(form));
    if (end == text.size()) break;
  }
  if (cat.products.empty()) return error(origin + ": the catalog has no products");
  for (const Product& p : cat.products)
    for (Lang l : kAllLangs) {
      bool has_main = false;
      for (const SurfaceForm& f : p.in(l)) has_main |= f.kind == FormKind::main;
      if (!has_main)
        return error(origin + ": product '" + p.name + "' has no 'main' row for " + lang_code(l));
    }
  return cat;
}

Result<Catalog> parse_txt(std::string_view text, const std::string& origin) {
  Catalog cat;
  size_t line_no = 0;
  for (const std::string& raw : split(text, '\n')) {
    ++line_no;
    std::string name(trim(raw));
    if (name.empty() || name[0] == '#') continue;
    std::string where = origin + ":" + std::to_string(line_no);
    if (!is_valid_utf8(name)) return error(where + ": invalid UTF-8");
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
  bool tsv = false;
  for (const std::string& line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (!t.empty() && t[0] != '#' && line.find('\t') != std::string::npos) {
      tsv = true;
      break;
    }
  }
  return tsv ? parse_tsv(text, origin) : parse_txt(text, origin);
}

Result<Catalog> load_catalog(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return error("catalog: " + text.message());
  return parse_catalog(*text, path);
}

const Catalog& default_catalog() {
  static const Catalog catalog = [] {
    auto r = parse_catalog(std::string_view(embedded_catalog_tsv, embedded_catalog_tsv_size),
                           "data/catalog.tsv (built in)");
    CARTLM_CHECK(r.ok());  // the embedded file is validated by tests at build time
    return *r;
  }();
  return catalog;
}

Result<Catalog> load_catalog_or_default(const std::string& path) {
  if (path.empty()) return default_catalog();
  return load_catalog(path);
}

}  // namespace cartlm
