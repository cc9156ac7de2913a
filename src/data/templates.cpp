// The template engine shared by the language packs (syntax in lang_pack.h).
#include <string>
#include <vector>

#include "data/lang_pack.h"

namespace cartlm {

const LangPack& lang_pack(Lang lang) {
  switch (lang) {
    case Lang::en: return en_pack();
    case Lang::hr: return hr_pack();
    case Lang::es: return es_pack();
  }
  CARTLM_CHECK(false);
  return en_pack();
}

const char* pick_weighted(Rng& rng, std::initializer_list<FormWeight> choices) {
  double w[16];
  CARTLM_CHECK(choices.size() <= 16);
  size_t n = 0;
  for (const FormWeight& c : choices) w[n++] = c.weight;
  size_t k = rng.weighted(std::span<const double>(w, n));
  return (choices.begin() + k)->form;
}

Piece text_piece(std::string s) { return Piece{std::move(s), PieceRole::text}; }
Piece qty_piece(std::string s) { return Piece{std::move(s), PieceRole::qty}; }
Piece product_piece(std::string s) { return Piece{std::move(s), PieceRole::product}; }

Piece form_piece(const SurfaceForm& f, const std::string& field) {
  const auto fields = f.all_forms();
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i] == &field) return Piece{field, PieceRole::product, (FormSlot)i, f.gender};
  CARTLM_CHECK(false);  // `field` is a copy, not a field of `f`
  return product_piece(field);
}

namespace {

// Replaces each [a|b|c] group by one alternative.
std::string expand_alternations(std::string_view s, Rng& rng) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '[') {
      out += s[i++];
      continue;
    }
    size_t close = s.find(']', i);
    CARTLM_CHECK(close != std::string_view::npos);
    std::string_view body = s.substr(i + 1, close - i - 1);
    CARTLM_CHECK(body.find('[') == std::string_view::npos);
    std::vector<std::string_view> alts;
    size_t start = 0;
    for (size_t j = 0; j <= body.size(); ++j)
      if (j == body.size() || body[j] == '|') {
        alts.push_back(body.substr(start, j - start));
        start = j + 1;
      }
    out += alts[rng.uniform(alts.size())];
    i = close + 1;
  }
  return out;
}

struct Token {
  bool slot = false;
  std::string text;
};

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> toks;
  size_t i = 0;
  while (i < s.size()) {
    size_t open = s.find('{', i);
    if (open == std::string::npos) {
      toks.push_back({false, s.substr(i)});
      break;
    }
    if (open > i) toks.push_back({false, s.substr(i, open - i)});
    size_t close = s.find('}', open);
    CARTLM_CHECK(close != std::string::npos);
    toks.push_back({true, s.substr(open + 1, close - open - 1)});
    i = close + 1;
  }
  return toks;
}

bool is_first_pass_slot(const std::string& name) {
  return name == "qp" || name == "qpn" || name == "qpm" || name == "qpmn" || name == "pq" ||
         name == "qn" || name == "pp" || name == "pgen" || name == "pdef_pl";
}

const DestList& find_dests(const LangPack& pack, const char* key) {
  for (const DestList& d : pack.dests)
    if (std::string_view(d.key) == key) return d;
  CARTLM_CHECK(false);  // a verb names a destination list the pack does not have
  return pack.dests.front();
}

const char* pick(Rng& rng, const std::vector<const char*>& v) {
  CARTLM_CHECK(!v.empty());
  return v[rng.uniform(v.size())];
}

// {vp}: the imperative with the pronoun for the items as its object; a phrasal verb takes it
// before its particle ("take it out", "throw them in"), others after ("remove it", "get rid of it").
std::string verb_with_pronoun(const LangPack& pack, const Verb& verb, SlotContext& ctx, Rng& rng) {
  Pieces pron;
  CARTLM_CHECK(pack.render_slot("them", ctx, rng, pron) && pron.size() == 1);
  std::string_view imp = verb.imp;
  size_t sp = imp.rfind(' ');
  if (sp != std::string_view::npos) {
    std::string_view particle = imp.substr(sp + 1);
    for (const char* p : {"out", "in", "up", "off", "away", "down"})
      if (particle == p)
        return std::string(imp.substr(0, sp)) + " " + pron[0].text + " " + std::string(particle);
  }
  return std::string(imp) + " " + pron[0].text;
}

}  // namespace

Pieces render_template(const LangPack& pack, const TemplateDef& t, SlotContext& ctx, Rng& rng) {
  std::vector<Token> toks = tokenize(expand_alternations(t.text, rng));
  bool uses_v = false, uses_vf = false, uses_vi = false, uses_vs = false, has_d = false;
  for (const Token& tok : toks) {
    if (!tok.slot) continue;
    uses_v |= tok.text == "v" || tok.text == "vp";
    uses_vf |= tok.text == "vf";
    uses_vi |= tok.text == "vi";
    uses_vs |= tok.text == "vs";
    has_d |= tok.text == "d";
  }
  const int act = ctx.remove ? 1 : 0;
  const Verb* verb = nullptr;
  if (uses_v || uses_vf || uses_vi || uses_vs) {
    std::vector<const Verb*> fit;
    for (const Verb& v : pack.verbs[act]) {
      if ((uses_vi && !*v.inf) || (uses_vs && !*v.subj) || (uses_vf && !*v.formal)) continue;
      if (!has_d && v.mode == DestMode::required) continue;
      fit.push_back(&v);
    }
    CARTLM_CHECK(!fit.empty());  // a template no verb of its action fits
    verb = fit[rng.uniform(fit.size())];
  }

  // Quantity and product slots first, so that agreement slots ({treba}) can follow them.
  std::vector<Pieces> out(toks.size());
  for (size_t i = 0; i < toks.size(); ++i)
    if (toks[i].slot && is_first_pass_slot(toks[i].text))
      CARTLM_CHECK(pack.render_slot(toks[i].text, ctx, rng, out[i]));
  for (size_t i = 0; i < toks.size(); ++i) {
    const Token& tok = toks[i];
    if (!tok.slot) {
      out[i].push_back(text_piece(tok.text));
      continue;
    }
    const std::string& name = tok.text;
    if (is_first_pass_slot(name)) continue;
    if (name == "v") out[i].push_back(text_piece(verb->imp));
    else if (name == "vp") out[i].push_back(text_piece(verb_with_pronoun(pack, *verb, ctx, rng)));
    else if (name == "vf") out[i].push_back(text_piece(verb->formal));
    else if (name == "vi") out[i].push_back(text_piece(verb->inf));
    else if (name == "vs") out[i].push_back(text_piece(verb->subj));
    else if (name == "d") {
      CARTLM_CHECK(verb != nullptr);
      bool want = verb->mode == DestMode::required ||
                  (verb->mode == DestMode::optional && rng.bernoulli(0.5));
      if (want && verb->dest)
        out[i].push_back(text_piece(std::string(" ") + pick(rng, find_dests(pack, verb->dest).phrases)));
    } else if (name == "dd") {
      out[i].push_back(text_piece(pick(rng, find_dests(pack, pack.generic_dest[act]).phrases)));
    } else if (name == "w") {
      out[i].push_back(text_piece(pick(rng, pack.want[act])));
    } else {
      CARTLM_CHECK(pack.render_slot(name, ctx, rng, out[i]));
    }
  }
  // Flatten, merging neighbouring text pieces.
  Pieces pieces;
  for (Pieces& ps : out)
    for (Piece& p : ps) {
      if (p.text.empty()) continue;
      if (p.role == PieceRole::text && !pieces.empty() && pieces.back().role == PieceRole::text)
        pieces.back().text += p.text;
      else
        pieces.push_back(std::move(p));
    }
  return pieces;
}

}  // namespace cartlm
