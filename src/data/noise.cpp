#include "data/noise.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/strings.h"
#include "core/utf8.h"

namespace cartlm {

NoiseRates NoiseRates::scaled(double s) const {
  NoiseRates o;
  for (const NoiseRateField& f : kNoiseRateFields) o.*f.rate = std::clamp(this->*f.rate * s, 0.0, 1.0);
  return o;
}

Status set_noise_rate(NoiseRates& rates, std::string_view kind_eq_rate) {
  const size_t eq = kind_eq_rate.find('=');
  const std::string kind(kind_eq_rate.substr(0, eq));
  std::string known;
  for (const NoiseRateField& f : kNoiseRateFields) {
    known += known.empty() ? "" : ", ";
    known += f.name;
    if (kind != f.name) continue;
    if (eq == std::string_view::npos)
      return error("'" + std::string(kind_eq_rate) + "' is not KIND=RATE; hint: e.g. typo=0.33");
    const std::string value(kind_eq_rate.substr(eq + 1));
    char* end = nullptr;
    const double r = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(r >= 0 && r <= 1))
      return error(strformat("rate of %s must be a number between 0 and 1, got '%s'", f.name,
                             value.c_str()));
    rates.*f.rate = r;
    return {};
  }
  return error("unknown noise kind '" + kind + "' in '" + std::string(kind_eq_rate) +
               "'; known kinds: " + known);
}

namespace {

bool is_letter(uint32_t cp) {
  if (cp < 128) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  return cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7;
}

std::vector<uint32_t> decode_all(std::string_view s) {
  std::vector<uint32_t> cps;
  size_t i = 0;
  while (i < s.size()) cps.push_back(decode_utf8(s, i));
  return cps;
}

std::string encode_all(const std::vector<uint32_t>& cps) {
  std::string out;
  for (uint32_t cp : cps) append_utf8(out, cp);
  return out;
}

// The code point that ends right before byte `pos` (0 at the start).
uint32_t cp_before(std::string_view s, size_t pos) {
  if (pos == 0) return 0;
  size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t i = start;
  return decode_utf8(s, i);
}

uint32_t cp_at(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  return decode_utf8(s, pos);
}

// A word: byte range [start, start + len) of a run of letters.
struct WordSpan {
  size_t start, len, letters;
};

std::vector<WordSpan> find_words(std::string_view s) {
  std::vector<WordSpan> words;
  size_t i = 0;
  bool in_word = false;
  WordSpan cur{0, 0, 0};
  while (i < s.size()) {
    size_t at = i;
    uint32_t cp = decode_utf8(s, i);
    if (is_letter(cp)) {
      if (!in_word) cur = {at, 0, 0};
      in_word = true;
      cur.len = i - cur.start;
      ++cur.letters;
    } else if (in_word) {
      words.push_back(cur);
      in_word = false;
    }
  }
  if (in_word) words.push_back(cur);
  return words;
}

const char* pick(Rng& rng, const std::vector<const char*>& v) { return v[rng.uniform(v.size())]; }

bool is_final_punct(char c) { return c == '.' || c == '!' || c == '?'; }

// Byte offset where the trailing run of . ! ? (and spaces) of `s` starts.
size_t final_punct_start(const std::string& s) {
  size_t k = s.size();
  while (k > 0 && (is_final_punct(s[k - 1]) || s[k - 1] == ' ')) --k;
  return k;
}

void prepend(Pieces& pieces, const std::string& s) {
  if (!pieces.empty() && pieces.front().role == PieceRole::text) pieces.front().text.insert(0, s);
  else pieces.insert(pieces.begin(), text_piece(s));
}

// Before putting something in front of the message: "hi, can you ..." rather than "hi, Can you
// ...". Only a capital followed by a small letter is lowered, so English "I" and "AA" stay.
void lower_first_word(Pieces& pieces) {
  if (pieces.empty() || pieces[0].role != PieceRole::text) return;
  std::string& t = pieces[0].text;
  size_t k = 0;
  while (k < t.size() && (t[k] == ' ' || t.compare(k, 2, "¿") == 0 || t.compare(k, 2, "¡") == 0))
    k += t[k] == ' ' ? 1 : 2;
  size_t next = k;
  if (next >= t.size()) return;
  uint32_t first = decode_utf8(t, next);
  size_t after = next;
  uint32_t second = after < t.size() ? decode_utf8(t, after) : 0;
  std::string first_s = t.substr(k, next - k), second_s = t.substr(next, after - next);
  bool capital = is_letter(first) && to_lower(first_s) != first_s;
  bool small_next = is_letter(second) && to_lower(second_s) == second_s;
  if (capital && small_next) t.replace(k, next - k, to_lower(first_s));
}

// Inserts `clause` right after the last product or quantity piece ("3 towels from Lidl").
void insert_after_product(Pieces& pieces, const std::string& clause) {
  size_t after = 0;
  for (size_t i = 0; i < pieces.size(); ++i)
    if (pieces[i].role != PieceRole::text) after = i + 1;
  pieces.insert(pieces.begin() + (long)after, text_piece(clause));
}

// Appends a clause at the end of the message but before its final punctuation ("... to my cart
// asap."); after a question mark it follows the question ("... to my cart? asap"), and a clause
// that ends in its own punctuation ("..., ima li free shipping?") replaces the message's.
void append_clause(Pieces& pieces, const std::string& clause) {
  if (pieces.empty() || pieces.back().role != PieceRole::text) {
    pieces.push_back(text_piece(clause));
    return;
  }
  std::string& t = pieces.back().text;
  size_t k = final_punct_start(t);
  bool question = t.find('?', k) != std::string::npos;
  if (!clause.empty() && is_final_punct(clause.back())) {
    t = t.substr(0, k) + clause;
  } else if (question) {
    std::string_view c = clause;
    if (starts_with(c, ", ")) c.remove_prefix(2);
    while (!c.empty() && c[0] == ' ') c.remove_prefix(1);
    t.append(" ").append(c);
  } else {
    t.insert(k, clause);
  }
}

std::string capitalize_first(std::string s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t at = i;
    uint32_t cp = decode_utf8(s, i);
    if (is_letter(cp)) return s.substr(0, at) + to_upper(s.substr(at, i - at)) + s.substr(i);
  }
  return s;
}

// Upper-cases the first letter of the message unless a digit comes first ("3x lip balm").
void capitalize_message(Pieces& pieces) {
  for (Piece& p : pieces) {
    size_t i = 0;
    while (i < p.text.size()) {
      size_t at = i;
      uint32_t cp = decode_utf8(p.text, i);
      if (cp >= '0' && cp <= '9') return;
      if (is_letter(cp)) {
        p.text = p.text.substr(0, at) + to_upper(p.text.substr(at, i - at)) + p.text.substr(i);
        return;
      }
    }
  }
}

std::string fill_number(const std::string& tmpl, Lang lang, int quantity, Rng& rng) {
  // A number in [lo, hi] that differs from the quantity, so it cannot be mistaken for it.
  auto other = [&](int lo, int hi) {
    for (;;) {
      int v = (int)rng.range(lo, hi);
      if (v != quantity) return v;
    }
  };
  std::string out = tmpl;
  if (out.find("{ord}") != std::string::npos)
    out = replace_all(out, "{ord}", std::to_string(rng.range(10000, 99999)));
  if (out.find("{size}") != std::string::npos) {
    static const std::vector<const char*> kSizes = {"S", "M", "L", "XL"};
    std::string size = rng.bernoulli(0.5) ? pick(rng, kSizes) : std::to_string(2 * other(18, 23));
    out = replace_all(out, "{size}", size);
  }
  if (out.find("{price}") != std::string::npos) {
    int whole = other(1, 49);
    static const char* const kCents[] = {"99", "49", "50", "95"};
    std::string cents = kCents[rng.uniform(4)];
    std::string w = std::to_string(whole), price;
    int style = (int)rng.uniform(3);
    if (lang == Lang::en)
      price = style == 0 ? "$" + w + "." + cents : style == 1 ? w + "." + cents + "€" : "£" + w;
    else if (lang == Lang::hr)
      price = style == 0 ? w + "," + cents + " €" : style == 1 ? w + "," + cents + "€" : w + " eura";
    else
      price = style == 0 ? w + "," + cents + " €" : style == 1 ? w + "," + cents + "€" : w + " euros";
    out = replace_all(out, "{price}", price);
  }
  if (out.find("{hour}") != std::string::npos) {
    int h = lang == Lang::hr ? other(8, 20) : other(1, 11);
    out = replace_all(out, "{hour}", std::to_string(h));
  }
  return out;
}

// Replaces one whole-word occurrence of a slang rule in a text piece; false if none matches.
bool apply_slang_rule(Pieces& pieces, const LangPack& pack, Rng& rng) {
  struct Hit {
    size_t piece, pos;
    const SlangRule* rule;
  };
  std::vector<Hit> hits;
  for (size_t p = 0; p < pieces.size(); ++p) {
    if (pieces[p].role != PieceRole::text) continue;
    std::string low = to_lower(pieces[p].text);
    if (low.size() != pieces[p].text.size()) continue;
    for (const SlangRule& r : pack.slang) {
      std::string_view from = r.from;
      for (size_t at = low.find(from); at != std::string::npos; at = low.find(from, at + 1)) {
        if (is_letter(cp_before(low, at)) || is_letter(cp_at(low, at + from.size()))) continue;
        hits.push_back({p, at, &r});
      }
    }
  }
  if (hits.empty()) return false;
  const Hit& h = hits[rng.uniform(hits.size())];
  std::string& t = pieces[h.piece].text;
  std::string rep = pick(rng, h.rule->to);
  bool upper_start = t[h.pos] >= 'A' && t[h.pos] <= 'Z';
  if (upper_start) rep = capitalize_first(rep);
  t.replace(h.pos, std::strlen(h.rule->from), rep);
  return true;
}

bool starts_with_ci(const Pieces& pieces, std::string_view prefix) {
  std::string all = to_lower(join_pieces(pieces));
  return starts_with(all, prefix);
}

void apply_punct(Pieces& pieces, Rng& rng) {
  if (pieces.empty()) return;
  int variant = (int)rng.uniform(5);
  if (variant == 3) {  // a stray comma after some word
    std::vector<std::pair<size_t, size_t>> spots;
    for (size_t p = 0; p < pieces.size(); ++p) {
      if (pieces[p].role != PieceRole::text) continue;
      const std::string& t = pieces[p].text;
      for (size_t k = 3; k + 1 < t.size(); ++k) {
        if (t[k] != ' ' || !is_letter(cp_at(t, k + 1))) continue;
        size_t letters = 0;  // letters of the word before: no comma after "I" or "me"
        for (size_t j = k; j > 0 && is_letter(cp_before(t, j)); --j)
          if ((static_cast<unsigned char>(t[j - 1]) & 0xC0) != 0x80) ++letters;
        if (letters >= 3) spots.push_back({p, k});
      }
    }
    if (!spots.empty()) {
      auto [p, k] = spots[rng.uniform(spots.size())];
      pieces[p].text.insert(k, ",");
      return;
    }
    variant = 0;
  }
  if (variant == 4) {  // no commas at all
    bool any = false;
    for (Piece& p : pieces)
      if (p.role == PieceRole::text && p.text.find(',') != std::string::npos) {
        p.text = replace_all(p.text, ",", "");
        any = true;
      }
    if (any) return;
    variant = 0;
  }
  if (pieces.back().role != PieceRole::text) pieces.push_back(text_piece(""));
  std::string& t = pieces.back().text;
  size_t k = final_punct_start(t);
  bool question = t.find('?', k) != std::string::npos;
  t.resize(k);
  if (variant == 1) t.append(question ? "??" : "!!");
  else if (variant != 0) t.append(question ? "?!" : "...");
}

}  // namespace

bool contains_word(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return false;
  for (size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1))
    if (!is_letter(cp_before(hay, at)) && !is_letter(cp_at(hay, at + needle.size()))) return true;
  return false;
}

char keyboard_neighbour(char c, bool qwertz, Rng& rng) {
  static const char* const kQwerty[] = {"qwertyuiop", "asdfghjkl", "zxcvbnm"};
  static const char* const kQwertz[] = {"qwertzuiop", "asdfghjkl", "yxcvbnm"};
  static const double kOffset[] = {0, 0.25, 0.75};  // row stagger, in key widths
  const char* const* rows = qwertz ? kQwertz : kQwerty;
  bool upper = c >= 'A' && c <= 'Z';
  char lc = upper ? (char)(c - 'A' + 'a') : c;
  int row = -1, col = -1;
  for (int r = 0; r < 3 && row < 0; ++r)
    for (int i = 0; rows[r][i]; ++i)
      if (rows[r][i] == lc) {
        row = r;
        col = i;
        break;
      }
  if (row < 0) return c;
  double x = col + kOffset[row];
  std::vector<char> near;
  for (int r = std::max(0, row - 1); r <= std::min(2, row + 1); ++r)
    for (int i = 0; rows[r][i]; ++i) {
      double d = std::fabs(i + kOffset[r] - x);
      bool adjacent = r == row ? std::fabs(d - 1) < 1e-9 : d <= 0.76;
      if (adjacent) near.push_back(rows[r][i]);
    }
  if (near.empty()) return c;
  char n = near[rng.uniform(near.size())];
  return upper ? (char)(n - 'a' + 'A') : n;
}

std::string apply_typo(std::string_view word, TypoKind kind, bool qwertz, Rng& rng) {
  std::vector<uint32_t> cps = decode_all(word);
  std::vector<size_t> letters;
  for (size_t i = 0; i < cps.size(); ++i)
    if (is_letter(cps[i])) letters.push_back(i);
  std::vector<size_t> spots;
  switch (kind) {
    case TypoKind::swap:
      for (size_t i = 0; i + 1 < cps.size(); ++i)
        if (is_letter(cps[i]) && is_letter(cps[i + 1]) && cps[i] != cps[i + 1]) spots.push_back(i);
      if (spots.empty()) return std::string(word);
      {
        size_t i = spots[rng.uniform(spots.size())];
        std::swap(cps[i], cps[i + 1]);
      }
      break;
    case TypoKind::drop:
      if (letters.size() < 2) return std::string(word);
      cps.erase(cps.begin() + (long)letters[rng.uniform(letters.size())]);
      break;
    case TypoKind::repeat:
      if (letters.empty()) return std::string(word);
      {
        size_t i = letters[rng.uniform(letters.size())];
        cps.insert(cps.begin() + (long)i, cps[i]);
      }
      break;
    case TypoKind::neighbour:
      for (size_t i : letters)
        if (cps[i] < 128) spots.push_back(i);
      if (spots.empty()) return std::string(word);
      {
        size_t i = spots[rng.uniform(spots.size())];
        cps[i] = (uint32_t)keyboard_neighbour((char)cps[i], qwertz, rng);
      }
      break;
  }
  return encode_all(cps);
}

std::string random_typo(std::string_view word, bool qwertz, Rng& rng) {
  static const TypoKind kKinds[] = {TypoKind::swap, TypoKind::drop, TypoKind::repeat,
                                    TypoKind::neighbour};
  size_t first = rng.uniform(4);
  for (size_t k = 0; k < 4; ++k) {
    std::string out = apply_typo(word, kKinds[(first + k) % 4], qwertz, rng);
    if (out != word) return out;
  }
  return std::string(word);
}

// Gives the word at text[start, start + len) a random typo; false when no kind changes it.
static bool misspell_span(std::string& text, size_t start, size_t len, bool qwertz, Rng& rng) {
  std::string word = text.substr(start, len);
  std::string typo = random_typo(word, qwertz, rng);
  if (typo == word) return false;
  text.replace(start, len, typo);
  return true;
}

int add_typos(Pieces& pieces, int count, bool qwertz, Rng& rng) {
  struct Cand {
    size_t piece, start, len;
    bool product;
  };
  std::vector<Cand> text_words, product_words;
  for (size_t p = 0; p < pieces.size(); ++p) {
    if (pieces[p].role == PieceRole::qty) continue;
    for (const WordSpan& w : find_words(pieces[p].text)) {
      if (w.letters < 4) continue;
      Cand c{p, w.start, w.len, pieces[p].role == PieceRole::product};
      (c.product ? product_words : text_words).push_back(c);
    }
  }
  std::vector<Cand> chosen;
  bool product_used = false;
  for (int k = 0; k < count; ++k) {
    bool want_product = !product_used && !product_words.empty() &&
                        (text_words.empty() || rng.bernoulli(0.15));
    if (want_product) {
      chosen.push_back(product_words[rng.uniform(product_words.size())]);
      product_used = true;
    } else if (!text_words.empty()) {
      size_t i = rng.uniform(text_words.size());
      chosen.push_back(text_words[i]);
      text_words.erase(text_words.begin() + (long)i);
    }
  }
  // Apply from the back so that earlier byte offsets stay valid.
  std::sort(chosen.begin(), chosen.end(), [](const Cand& a, const Cand& b) {
    return a.piece != b.piece ? a.piece > b.piece : a.start > b.start;
  });
  int made = 0;
  for (const Cand& c : chosen) made += misspell_span(pieces[c.piece].text, c.start, c.len, qwertz, rng);
  return made;
}

bool add_product_typo(Pieces& pieces, const std::string& product_before, bool qwertz, Rng& rng) {
  for (Piece& piece : pieces) {
    if (piece.role != PieceRole::product) continue;
    if (piece.text != product_before) return false;
    std::vector<WordSpan> words;
    for (const WordSpan& w : find_words(piece.text))
      if (w.letters >= 4) words.push_back(w);
    if (words.empty()) return false;
    const WordSpan& w = words[rng.uniform(words.size())];
    return misspell_span(piece.text, w.start, w.len, qwertz, rng);
  }
  return false;
}

bool add_action_typo(Pieces& pieces, const LangPack& pack, bool qwertz, Rng& rng) {
  // Words of 4+ letters of the pack's verbs and first-person phrases, lower case.
  static const auto kWords = [] {
    std::array<std::set<std::string>, 3> words;
    for (Lang lang : kAllLangs) {
      const LangPack& p = lang_pack(lang);
      auto add = [&](const char* phrase) {
        std::string low = to_lower(phrase);
        for (const WordSpan& w : find_words(low))
          if (w.letters >= 4) words[(int)lang].insert(low.substr(w.start, w.len));
      };
      for (int a = 0; a < 2; ++a) {
        for (const Verb& v : p.verbs[a])
          for (const char* f : {v.imp, v.formal, v.inf, v.subj}) add(f);
        for (const char* w : p.want[a]) add(w);
      }
    }
    return words;
  }();
  const std::set<std::string>& verbs = kWords[(int)pack.lang];
  struct Cand {
    size_t piece;
    WordSpan word;
  };
  std::vector<Cand> cands;
  for (size_t p = 0; p < pieces.size(); ++p) {
    if (pieces[p].role != PieceRole::text) continue;
    for (const WordSpan& w : find_words(pieces[p].text))
      if (w.letters >= 4 && verbs.count(to_lower(pieces[p].text.substr(w.start, w.len))))
        cands.push_back({p, w});
  }
  if (cands.empty()) return false;
  const Cand& c = cands[rng.uniform(cands.size())];
  return misspell_span(pieces[c.piece].text, c.word.start, c.word.len, qwertz, rng);
}

std::string strip_diacritics_some(std::string_view text, double p, Rng& rng) {
  if (p >= 1) return strip_diacritics(text);
  std::string out;
  size_t prev = 0;
  for (const WordSpan& w : find_words(text)) {
    out.append(text.substr(prev, w.start - prev));
    std::string_view word = text.substr(w.start, w.len);
    bool has_non_ascii = std::any_of(word.begin(), word.end(), [](char c) { return c & 0x80; });
    if (has_non_ascii && rng.bernoulli(p)) out += strip_diacritics(word);
    else out.append(word);
    prev = w.start + w.len;
  }
  out.append(text.substr(prev));
  return out;
}

std::string join_pieces(const Pieces& pieces) {
  std::string all;
  for (const Piece& p : pieces) all += p.text;
  std::string out;
  out.reserve(all.size());
  for (char c : all) {
    if (c == '\t' || c == '\n') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    if ((c == ',' || c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == ')') &&
        !out.empty() && out.back() == ' ')
      out.pop_back();
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Index of the (last) product piece; pieces.size() when there is none.
static size_t product_piece(const Pieces& pieces) {
  size_t at = pieces.size();
  for (size_t i = 0; i < pieces.size(); ++i)
    if (pieces[i].role == PieceRole::product) at = i;
  return at;
}

// "a" or "an" when that is the word right before piece `at` (lower case), else "".
static std::string article_before(const Pieces& pieces, size_t at) {
  std::string prev;
  for (size_t i = 0; i < at && i < pieces.size(); ++i) prev += pieces[i].text;
  const std::string low = to_lower(trim(prev));
  for (const char* a : {"a", "an"})
    if (low == a || ends_with(low, std::string(" ") + a)) return a;
  return "";
}

constexpr double kBrandNextToNoun = 0.35;

// Whether an inserted phrase (brand clause, item detail) contains a product name or surface
// form as a word: such a phrase would make the label ambiguous, so it is not used.
static bool names_a_product(const std::string& phrase, const NoiseContext& ctx) {
  if (!ctx.product_words) return false;
  const std::string low = to_lower(phrase);
  for (const std::string& w : *ctx.product_words)
    if (contains_word(low, w)) return true;
  return false;
}

std::vector<std::string> apply_noise(Pieces& pieces, const NoiseRates& rates,
                                     const NoiseContext& ctx, Rng& rng) {
  CARTLM_CHECK(ctx.pack != nullptr);
  const LangPack& pack = *ctx.pack;
  std::vector<std::string> names;
  auto hit = [&](double rate) { return rate > 0 && rng.bernoulli(rate); };

  const size_t at = product_piece(pieces);
  if (hit(rates.brand) && !pack.brand_clauses.empty()) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      const std::string brand = pick(rng, pack.brands);
      // A third of the time the brand names the item itself: "2 Nivea lip balms" in English
      // (not after "a"/"an", whose sound would have to match), "2 šampona Nivea" elsewhere.
      if (rng.bernoulli(kBrandNextToNoun) && at < pieces.size() && !names_a_product(brand, ctx)) {
        if (!pack.brand_before_noun) {
          pieces.insert(pieces.begin() + (long)at + 1, text_piece(" " + brand));
          names.push_back("brand");
          break;
        }
        if (article_before(pieces, at).empty()) {
          pieces[at].text = brand + " " + pieces[at].text;
          names.push_back("brand");
          break;
        }
      }
      std::string clause = replace_all(pick(rng, pack.brand_clauses), "{brand}", brand);
      if (names_a_product(clause, ctx)) continue;
      // "from Lidl" goes right after the product; ", preferably Nivea" ends the message.
      if (starts_with(clause, ",") || starts_with(clause, " -")) append_clause(pieces, clause);
      else insert_after_product(pieces, clause);
      names.push_back("brand");
      break;
    }
  }
  // Shoppers describe the item ("3 small towels", "jeans in black", "šampon za djecu"): the
  // model must find the product among words that are not its name. The phrases are generic on
  // purpose and share no word with the catalog's eval-only forms (tests/data/noise_test.cpp).
  if (hit(rates.detail) && !pack.detail_after.empty()) {
    // An adjective goes in front of the product piece, but never after "an" ("an small apple").
    const bool can_precede = !pack.detail_before.empty() && at < pieces.size() &&
                             article_before(pieces, at) != "an";
    // hr/es: an adjective that agrees with the noun ("3 crvena ručnika", "toallas blancas").
    const bool can_agree = pack.inflect_adjective && !pack.detail_adjectives.empty() &&
                           at < pieces.size() && pieces[at].slot != FormSlot::none;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (can_agree && rng.bernoulli(0.5)) {
        const Piece& noun = pieces[at];
        std::string adj = pack.inflect_adjective(pick(rng, pack.detail_adjectives), noun.gender,
                                                 noun.slot);
        if (contains_word(to_lower(noun.text), adj)) continue;  // "tamna tamna čokolada"
        if (pack.lang == Lang::es)
          pieces.insert(pieces.begin() + (long)at + 1, text_piece(" " + adj));
        else
          pieces[at].text = adj + " " + pieces[at].text;
        names.push_back("detail");
        break;
      }
      const bool before = can_precede && rng.bernoulli(0.5);
      std::string phrase = before ? pick(rng, pack.detail_before) : pick(rng, pack.detail_after);
      if (names_a_product(phrase, ctx)) continue;
      if (before) {
        if (contains_word(to_lower(pieces[at].text), phrase)) continue;  // "green green tea"
        pieces[at].text = phrase + " " + pieces[at].text;
      } else {
        insert_after_product(pieces, phrase);
      }
      names.push_back("detail");
      break;
    }
  }
  if (hit(rates.distractor) && !pack.distractors.empty()) {
    std::string clause = fill_number(pick(rng, pack.distractors), pack.lang, ctx.quantity, rng);
    if (clause[0] == '^') prepend(pieces, clause.substr(1));
    else if (clause[0] == '@') insert_after_product(pieces, clause.substr(1));
    else append_clause(pieces, clause);
    names.push_back("distractor");
  }
  if (hit(rates.context) && !pack.context_clauses.empty()) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::string clause = pick(rng, pack.context_clauses);
      if (names_a_product(clause, ctx)) continue;
      if (rng.bernoulli(0.5)) {  // "Heading out soon, add 2 towels" / "Heading out soon. Add ..."
        const char* sep = pick_weighted(rng, {{", ", 0.5}, {". ", 0.3}, {" - ", 0.2}});
        if (std::string_view(sep) != ". ") lower_first_word(pieces);
        prepend(pieces, capitalize_first(clause) + sep);
      } else {
        std::string joined = join_pieces(pieces);
        if (!joined.empty() && is_final_punct(joined.back()))
          pieces.push_back(
              text_piece(" " + capitalize_first(clause) + (rng.bernoulli(0.6) ? "." : "")));
        else if (rng.bernoulli(0.6))
          append_clause(pieces, ", " + clause);
        else
          pieces.push_back(text_piece(". " + capitalize_first(clause)));
      }
      names.push_back("context");
      break;
    }
  }
  if (!pack.codeswitch_suffix.empty() && hit(rates.codeswitch)) {
    if (rng.bernoulli(0.35)) {
      lower_first_word(pieces);
      prepend(pieces, pick(rng, pack.codeswitch_prefix));
    } else {
      append_clause(pieces, pick(rng, pack.codeswitch_suffix));
    }
    names.push_back("codeswitch");
  }
  if (hit(rates.slang)) {
    bool done = apply_slang_rule(pieces, pack, rng);
    if (!done) {
      if (rng.bernoulli(0.4)) {
        const char* pre = pick(rng, pack.slang_prefix);
        if (!starts_with_ci(pieces, trim(pre))) {
          lower_first_word(pieces);
          prepend(pieces, pre);
          done = true;
        }
      } else {
        append_clause(pieces, pick(rng, pack.slang_suffix));
        done = true;
      }
    }
    if (done) names.push_back("slang");
  }
  if (hit(rates.greeting)) {
    std::string g = pick(rng, pack.greetings);
    if (rng.bernoulli(0.5)) g = capitalize_first(g);
    bool ends_punct = is_final_punct(g.back());
    const char* sep = ends_punct ? " " : pick_weighted(rng, {{", ", 0.5}, {" ", 0.25}, {"! ", 0.15}, {". ", 0.1}});
    if (std::string_view(sep) != ". " && std::string_view(sep) != "! ") lower_first_word(pieces);
    prepend(pieces, g + sep);
    names.push_back("greeting");
  }
  if (hit(rates.signoff)) {
    std::string low = to_lower(join_pieces(pieces));
    bool thanked = false;
    for (const char* w : {"thank", "thx", "hvala", "fala", "gracias", "grax"})
      thanked |= low.find(w) != std::string::npos;
    if (!thanked) {
      std::string s = pick(rng, pack.signoffs);
      std::string joined = join_pieces(pieces);
      if (!joined.empty() && is_final_punct(joined.back())) {
        pieces.push_back(text_piece(" " + (rng.bernoulli(0.5) ? capitalize_first(s) : s)));
      } else {
        const char* sep = pick_weighted(rng, {{", ", 0.5}, {" ", 0.3}, {". ", 0.2}});
        if (std::string_view(sep) == ". ") s = capitalize_first(s);
        pieces.push_back(text_piece(sep + s));
      }
      names.push_back("signoff");
    }
  }
  if (hit(rates.punct)) {
    std::string before = join_pieces(pieces);
    apply_punct(pieces, rng);
    if (join_pieces(pieces) != before) names.push_back("punct");
  }
  const size_t prod_at = product_piece(pieces);
  const std::string product_before = prod_at < pieces.size() ? pieces[prod_at].text : "";
  bool typo = false;
  if (hit(rates.typo)) typo = add_typos(pieces, rng.bernoulli(0.3) ? 2 : 1, pack.qwertz, rng) > 0;
  if (hit(rates.product_typo)) typo |= add_product_typo(pieces, product_before, pack.qwertz, rng);
  if (hit(rates.action_typo)) typo |= add_action_typo(pieces, pack, pack.qwertz, rng);
  if (typo) names.push_back("typo");
  double dia_rate = pack.lang == Lang::hr ? rates.diacritics
                    : pack.lang == Lang::es ? rates.diacritics * 0.35 : 0.0;
  if (hit(dia_rate)) {
    double p = pack.lang == Lang::hr ? (rng.bernoulli(0.75) ? 1.0 : 0.5) : 0.6;
    bool changed = false;
    for (Piece& piece : pieces) {
      std::string s = strip_diacritics_some(piece.text, p, rng);
      changed |= s != piece.text;
      piece.text = std::move(s);
    }
    if (changed) names.push_back("no_diacritics");
  }
  if (hit(rates.casing)) {
    double r = rng.uniform_double();
    std::string before = join_pieces(pieces);
    const char* name;
    if (r < 0.5) {
      name = "lowercase";
      for (Piece& p : pieces) p.text = to_lower(p.text);
    } else if (r < 0.65) {
      name = "uppercase";
      for (Piece& p : pieces) p.text = to_upper(p.text);
    } else {
      name = "sentence_case";
      capitalize_message(pieces);
    }
    if (join_pieces(pieces) != before) names.push_back(name);
  }
  if (hit(rates.emoji)) {
    static const std::vector<const char*> kEmoji = {"🛒", "🙏", "😊", "👍", "🙂", "😅",
                                                    "🤞", "✨", "😄", "❤️", "🛍️", "👌"};
    std::string e = pick(rng, kEmoji);
    if (rng.bernoulli(0.2)) e += rng.bernoulli(0.5) ? e : std::string(pick(rng, kEmoji));
    if (rng.bernoulli(0.75)) pieces.push_back(text_piece(" " + e));
    else prepend(pieces, e + " ");
    names.push_back("emoji");
  }
  return names;
}

}  // namespace cartlm
