// Croatian language pack. The grammar of "quantity + product": the noun after a number is in the
// singular of the frame's case after 1/21/31.. ("dodaj jednu čašu"), in the paucal after
// 2-4/22-24.. ("dvije čaše"), and in the genitive plural otherwise ("pet čaša", "dvanaest čaša");
// number words agree in gender and case (numbers.h). Verb objects are accusative; "može ...?",
// list lines and "treba mi ..." are nominative. Plural-only nouns ("traperice") are counted in
// pairs or with digits ("dva para traperica", "2 traperice", "jedne traperice").
#include <string>

#include "core/strings.h"
#include "data/lang_pack.h"
#include "data/numbers.h"

namespace cartlm {

namespace {

constexpr Act B = Act::both, A = Act::add, R = Act::remove;
constexpr DestMode none = DestMode::none, opt = DestMode::optional, req = DestMode::required;

double words_weight(int q) { return (q <= 20 || q % 10 == 0) ? 0.25 : 0.1; }

// The noun after the number q in case c.
const std::string& noun_after(const SurfaceForm& f, int q, HrCase c) {
  switch (hr_noun_form_after(q)) {
    case HrNounForm::singular: return c == HrCase::acc ? f.acc_sg : f.sg;
    case HrNounForm::paucal: return f.paucal;
    case HrNounForm::gen_pl: return f.gen_pl;
  }
  return f.gen_pl;
}
const std::string& case_sg(const SurfaceForm& f, HrCase c) { return c == HrCase::acc ? f.acc_sg : f.sg; }
const std::string& case_pl(const SurfaceForm& f, HrCase c) { return c == HrCase::acc ? f.acc_pl : f.pl; }

// Does "<number> <noun>" act as a plural subject ("trebaju mi dvije čaše") or a singular one
// ("treba mi jedna čaša", "treba mi pet čaša")?
bool plural_subject(int q, Gender g) {
  HrNounForm nf = hr_noun_form_after(q);
  if (nf == HrNounForm::paucal) return true;
  return nf == HrNounForm::singular && g == Gender::pl;
}

// "par" after a number: jedan par, dva para, pet pari.
const char* par_after(int q) {
  switch (hr_noun_form_after(q)) {
    case HrNounForm::singular: return "par";
    case HrNounForm::paucal: return "para";
    case HrNounForm::gen_pl: return "pari";
  }
  return "pari";
}

// Plural-only nouns (Gender::pl): "jedne traperice", "dva para traperica", "5 traperica".
void render_pair_noun(SlotContext& ctx, Rng& rng, HrCase c, bool more, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const char* form =
      q == 1 ? pick_weighted(rng, {{"omitted", more ? 0.0 : 0.3}, {"words", 0.35},
                                   {"pair_words", 0.2}, {"pair_digits", 0.15}})
             : pick_weighted(rng, {{"digits", 0.35}, {"pair_digits", 0.15}, {"pair_words", 0.25},
                                   {"x3", more ? 0.0 : 0.1}, {"unit", more ? 0.0 : 0.1},
                                   {"dozen", q == 12 ? 0.05 : 0.0}});
  std::string_view fs = form;
  const std::string n = std::to_string(q);
  bool plural = true;
  if (fs == "omitted") {
    out.push_back(form_piece(f, case_sg(f, c)));
  } else if (fs == "words") {
    out.push_back(qty_piece(hr_number_word(q, Gender::pl, c)));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, noun_after(f, q, c)));
  } else if (fs == "digits") {
    out.push_back(qty_piece(n));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, noun_after(f, q, c)));
  } else if (fs == "pair_words" || fs == "pair_digits") {
    std::string num = fs == "pair_words" ? hr_number_word(q, Gender::m, c) : n;
    out.push_back(qty_piece(num + " " + par_after(q)));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, f.gen_pl));
    plural = plural_subject(q, Gender::m);
  } else if (fs == "dozen") {
    out.push_back(qty_piece("tucet"));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, f.gen_pl));
    plural = false;
  } else if (fs == "x3") {
    out.push_back(form_piece(f, case_pl(f, c)));
    out.push_back(text_piece(" "));
    out.push_back(qty_piece("x" + n));
  } else {  // unit
    out.push_back(form_piece(f, case_pl(f, c)));
    out.push_back(text_piece(" "));
    out.push_back(qty_piece(n + " kom"));
  }
  ctx.qty_form = fs == "pair_words" ? "words" : fs == "pair_digits" ? "digits" : std::string(fs);
  ctx.qty_plural = plural;
}

// {qp} (accusative), {qpn} (nominative), {qpm}/{qpmn} ("još ...").
void render_qp(SlotContext& ctx, Rng& rng, HrCase c, bool more, Pieces& out) {
  if (more) out.push_back(text_piece("još "));
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const Gender g = f.gender;
  if (g == Gender::pl) {
    render_pair_noun(ctx, rng, c, more, out);
  } else {
    const char* form;
    if (more)
      form = q == 1 ? pick_weighted(rng, {{"words", 0.7}, {"digits", 0.3}})
                    : pick_weighted(rng, {{"digits", 0.55}, {"words", words_weight(q)},
                                          {"dozen", q == 12 ? 0.15 : 0.0}});
    else if (q == 1)
      form = pick_weighted(rng, {{"omitted", 0.38}, {"words", 0.32}, {"digits", 0.14},
                                 {"x3", 0.05}, {"3x", 0.05}, {"unit", 0.06}});
    else
      // "pola tuceta jaja" (6), like "tucet jaja" (12).
      form = pick_weighted(rng, {{"digits", 0.55}, {"words", words_weight(q)},
                                 {"dozen", q == 12 ? 0.12 : 0.0}, {"half_dozen", q == 6 ? 0.1 : 0.0},
                                 {"x3", 0.06}, {"3x", 0.06}, {"unit", 0.08}});
    std::string_view fs = form;
    const std::string n = std::to_string(q);
    ctx.qty_form = form;
    ctx.qty_plural = plural_subject(q, g);
    if (fs == "omitted") {
      out.push_back(form_piece(f, case_sg(f, c)));
    } else if (fs == "digits" || fs == "words") {
      out.push_back(qty_piece(fs == "digits" ? n : hr_number_word(q, g, c)));
      out.push_back(text_piece(" "));
      out.push_back(form_piece(f, noun_after(f, q, c)));
    } else if (fs == "dozen" || fs == "half_dozen") {
      out.push_back(qty_piece(fs == "dozen" ? "tucet" : "pola tuceta"));
      out.push_back(text_piece(" "));
      out.push_back(form_piece(f, f.gen_pl));
      ctx.qty_plural = false;
    } else if (fs == "x3") {  // "dodaj čaše x3", "makni šampon x1"
      out.push_back(form_piece(f, q == 1 ? case_sg(f, c) : case_pl(f, c)));
      out.push_back(text_piece(" "));
      out.push_back(qty_piece("x" + n));
      ctx.qty_plural = q > 1;
    } else if (fs == "3x") {  // list shorthand keeps the dictionary form: "3x čaša"
      out.push_back(qty_piece(n + "x"));
      out.push_back(text_piece(" "));
      out.push_back(form_piece(f, f.sg));
      ctx.qty_plural = false;
    } else {  // unit: "dodaj čaše 3 kom"
      out.push_back(form_piece(f, q == 1 ? case_sg(f, c) : case_pl(f, c)));
      out.push_back(text_piece(" "));
      out.push_back(qty_piece(n + " kom"));
      ctx.qty_plural = q > 1;
    }
  }
  for (const Piece& p : out)
    if (p.role == PieceRole::product) ctx.form_text = p.text;
}

// {pq}: a list line in the nominative, product first ("čaša x3", "šampon, 2 kom").
void render_pq(SlotContext& ctx, Rng& rng, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const std::string n = std::to_string(q);
  const char* style =
      q == 1 ? pick_weighted(rng, {{"omitted", 0.35}, {"x3", 0.2}, {"3x", 0.2}, {"unit", 0.1},
                                   {"digits", 0.15}})
             : pick_weighted(rng, {{"x3", 0.3}, {"3x", 0.25}, {"unit", 0.2}, {"paren", 0.1},
                                   {"digits", 0.15}});
  std::string_view s = style;
  const std::string* noun = &f.sg;
  if (s == "omitted") out = {form_piece(f, f.sg)};
  else if (s == "x3") out = {form_piece(f, f.sg), text_piece(" "), qty_piece("x" + n)};
  else if (s == "3x") out = {qty_piece(n + "x"), text_piece(" "), form_piece(f, f.sg)};
  else if (s == "unit")
    out = {form_piece(f, f.sg), text_piece(rng.bernoulli(0.5) ? ", " : " "), qty_piece(n + " kom")};
  else if (s == "paren")
    out = {form_piece(f, f.sg), text_piece(" ("), qty_piece(n), text_piece(")")};
  else {
    noun = &noun_after(f, q, HrCase::nom);
    out = {qty_piece(n), text_piece(" "), form_piece(f, *noun)};
  }
  ctx.form_text = *noun;
  ctx.qty_form = s == "paren" ? "digits" : std::string(s);
  ctx.qty_plural = false;
}

bool render_slot(std::string_view name, SlotContext& ctx, Rng& rng, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  if (name == "qp") {
    render_qp(ctx, rng, HrCase::acc, false, out);
  } else if (name == "qpn") {
    render_qp(ctx, rng, HrCase::nom, false, out);
  } else if (name == "qpm") {
    render_qp(ctx, rng, HrCase::acc, true, out);
  } else if (name == "qpmn") {
    render_qp(ctx, rng, HrCase::nom, true, out);
  } else if (name == "pq") {
    render_pq(ctx, rng, out);
  } else if (name == "qn") {  // standalone, as an object: "dodaj dvije", "uzmi jednu"
    const char* form = pick_weighted(
        rng, {{"digits", 0.45}, {"words", 0.55}, {"dozen", q == 12 ? 0.1 : 0.0}});
    ctx.qty_form = form;
    std::string_view fs = form;
    out.push_back(qty_piece(fs == "digits" ? std::to_string(q)
                            : fs == "words" ? hr_number_word(q, f.gender, HrCase::acc)
                                            : std::string("tucet")));
  } else if (name == "pgen") {
    out.push_back(form_piece(f, f.gen_pl));
    ctx.form_text = f.gen_pl;
  } else if (name == "ih") {  // the clitic for the items: makni ga / je / ih
    const char* pron = "ih";
    bool single = q == 1 && f.gender != Gender::pl;
    if (single) pron = f.gender == Gender::f ? "je" : "ga";
    out.push_back(text_piece(pron));
  } else if (name == "treba") {
    out.push_back(text_piece(ctx.qty_plural ? "trebaju" : "treba"));
  } else {
    return false;
  }
  return true;
}

// The definite adjective agreeing with a noun of gender g in the form `slot`: stem "crven" ->
// crveni ručnik, crvenog ručnika, crvenu jabuku, crvenih jabuka, dva crvena ručnika. Soft stems
// (ending in č, ć, đ, j, š, ž, c; dž, lj, nj included) take -eg and -e for -og and -o
// ("svježeg").
// Plural-only nouns (Gender::pl) are feminine in the catalog ("traperice", "slušalice").
std::string inflect_adjective(std::string_view stem, Gender g, FormSlot slot) {
  const int k = (int)slot;
  CARTLM_CHECK(k >= 0 && k < 7);
  //                               sg   pl   gen_sg acc_sg gen_pl acc_pl paucal
  static const char* const m[] = {"i", "i", "og", "i", "ih", "e", "a"};
  static const char* const f[] = {"a", "e", "e", "u", "ih", "e", "e"};
  static const char* const n[] = {"o", "a", "og", "o", "ih", "a", "a"};
  static const char* const pl[] = {"e", "e", "ih", "e", "ih", "e", "e"};
  const char* const* table = g == Gender::f ? f : g == Gender::n ? n : g == Gender::pl ? pl : m;
  std::string ending = table[k];
  bool soft = false;
  for (const char* end : {"č", "ć", "đ", "j", "š", "ž", "c"}) soft |= ends_with(stem, end);
  if (soft && ending[0] == 'o') ending[0] = 'e';  // -og/-o -> -eg/-e
  return std::string(stem) + ending;
}

LangPack make_pack() {
  LangPack p;
  p.lang = Lang::hr;
  p.render_slot = render_slot;
  p.templates = {
      {B, "{v} {qp}{d}"},
      {B, "Molim te, {v} {qp}{d}."},
      {B, "Možeš li {vi} {qp}{d}?"},
      {B, "Možete li {vi} {qp}{d}, molim Vas?"},
      {B, "Molim Vas, {vf} {qp}{d}."},
      {B, "[Htio|Htjela] bih {vi} {qp}{d}."},
      {B, "{w} {qp}"},
      {A, "Može {qpn}?"},
      {A, "{qpn}, molim"},
      {B, "{v} mi {qp}{d}"},
      {B, "Trebam {vi} {qp}{d}."},
      {B, "Treba {vi} {qp}{d}"},
      {B, "Jel možeš {vi} {qp}{d}?"},
      {B, "Možeš {vi} {qp}{d}?"},
      {B, "Ajde {v} {qp}{d}"},
      {B, "Daj {v} {qp}{d}"},
      {A, "{qpm}, molim"},
      {A, "{v} {qpm}{d}"},
      {A, "{pq}"},
      {A, "{pq}, hvala"},
      {A, "Ponestalo mi je {pgen}, {v} {qn}{d}"},
      {R, "[Predomislio|Predomislila] sam se, {v} {qp}{d}"},
      {B, "Ipak {v} {qp}{d}"},
      {R, "Slučajno sam [dodao|dodala|stavio|stavila] {qp}, {v} {ih}"},
      {R, "{v} {qp}{d}, [predomislio|predomislila] sam se"},
      {A, "Molim {qp} {dd}"},
      {B, "{v}{d} {qp}"},
      {B, "Možeš li mi {vi} {qp}{d}?"},
      {B, "Bi li [mogao|mogla] {vi} {qp}{d}?"},
      {B, "Hitno {v} {qp}{d}"},
      {B, "Samo {v} {qp}{d}"},
      {B, "I {v} {qp}{d}"},
      {B, "Također, {v} {qp}{d}."},
      {A, "[Zaboravio|Zaboravila] sam, {v} i {qp}{d}"},
      {B, "Prije plaćanja {v} {qp}{d}"},
      {A, "{treba} mi {qpn}"},
      {R, "Ne {treba} mi više {qpn}"},
      {R, "{w} {qp}, {v} {ih}{d}"},
      {A, "Narudžba: {pq}"},
      {B, "{v} {qp}{d} i to je sve"},
      {B, "{v} {qp}{d}, hvala"},
      {B, "{v} {qp}{d} molim te"},
      {B, "Želim {vi} {qp}{d}."},
      {B, "Može li se {vi} {qpn}{d}?"},
      {A, "Može {qpmn}?"},
      {A, "{v} i {qp}{d}"},
      {A, "{treba} mi {qpn} za vikend"},
      {B, "Ako može, {v} {qp}{d}"},
      {B, "Ako nije problem, {v} {qp}{d}"},
      {A, "{qp} {dd}[, molim| pls|]"},
      {A, "Daj mi {qp}"},
      {A, "{w} {qpm}"},
      {B, "[Trebao|Trebala] bih {vi} {qp}{d}"},
      {B, "Možeš li, molim te, {vi} {qp}{d}?"},
      {B, "Onda {v} {qp}{d}"},
      {B, "Dobro, {v} {qp}{d}"},
      {B, "Poštovani, {vf} mi {qp}{d}, hvala."},
      {A, "Uzet ću i {qp}[, hvala|]"},
      {A, "[Dopiši|Stavi] mi {qp} na [popis|listu]"},
      {R, "Precrtaj {qp} s [popisa|liste]"},
      {R, "Od {pgen} {v} {qn}{d}"},
      {R, "Zaboravi na {qp}, {v} {ih}{d}"},
      {A, "Imate li {pgen}? [Ako imate, uzet|Uzet] ću {qn}"},
      {B, "Ispravak: {v} {qp}{d}"},
      {A, "Usput {v} {qpm}{d}"},
      {A, "Dolaze nam gosti, pa {v} {qp}{d}"},
      {R, "{v} {qp}{d}, [već {ih} imam doma|preskupo mi je|našao sam jeftinije drugdje|našla sam jeftinije drugdje]"},
      {R, "{qpn}, {v} {ih}{d}[, molim te|]"},
      {R, "Nemojte mi ipak slati {qp}"},
      {R, "Neću ipak {qp}[, {v} {ih}|]"},
      {A, "Baci mi {qp} u [košaricu|kolica]"},
      {B, "Kad stigneš, {v} {qp}{d}"},
      {B, "Biste li mi mogli {vi} {qp}{d}?"},
      {A, "[Htio|Htjela] bih i {qp}[, ako imate|]"},
      {B, "Ne zaboravi {vi} {qp}{d}"},
      {B, "Zadnja stvar: {v} {qp}{d}[ i to je to|]"},
      // New frames for both actions (questions, context, texting, formal requests, hedges): the
      // verb slot alone carries the action. See lang_pack.h on add-only/remove-only templates.
      {B, "Jel bi [mogao|mogla] {vi} {qp}{d}?"},
      {B, "[Je li|Jel|Da li je] moguće {vi} {qp}{d}?"},
      {B, "Jeste li u mogućnosti {vi} {qp}{d}?"},
      {B, "[Oprostite na smetnji|Lijepo Vas molim|Ispričavam se na gnjavaži], {vf} {qp}{d}."},
      {B, "{vf} mi, molim Vas, {qp}{d}"},
      {B, "[Hoćeš|Hoćeš li] mi {vi} {qp}{d}?"},
      {B, "Jel ti problem {vi} {qp}{d}?"},
      {B, "Bilo bi [super|dobro|odlično] {vi} {qp}{d}"},
      {B, "Mislim da je najbolje {vi} {qp}{d}"},
      {B, "Promjena plana: {v} {qp}{d}"},
      {B, "{v} {qp}{d}, ostalo ostavi kako je"},
      {B, "{v} {qp}{d} pa idem [platiti|na blagajnu|na plaćanje]"},
      {B, "Što se tiče {pgen}, {v} {qn}{d}"},
      {B, "{pq} - {v} {ih}{d}"},
      {B, "{v}: {pq}"},
      {B, "[Ok|Dobro|E], ovako: {w} {qp}"},
      {B, "[Ako već nisam rekao|Ako već nisam rekla|Ne znam jesam li već napisao|Ne znam jesam li već napisala], {v} {qp}{d}"},
      {B, "[Nisam siguran|Nisam sigurna], ali ajde {v} {qp}{d}"},
      // Session 13: frames for both actions whose other words (ipak, popis, predomislio, doma)
      // occur in add-only or remove-only templates, so the model cannot take them as the action.
      {B, "[Ipak sam se predomislio|Ipak sam se predomislila], {v} {qp}{d}"},
      {B, "Gledam popis: {v} {qp}{d}"},
      {B, "Prije nego izađem, {v} {qp}{d}"},
      {B, "[Sjetio|Sjetila] sam se, {v} {qp}{d}"},
      {B, "Kad uhvatiš vremena, {v} {qp}{d}"},
      {B, "Za svaki slučaj {v} {qp}{d}"},
      {B, "Dakle, ipak {v} {qp}{d}"},
      {B, "Dok sam još doma, {v} {qp}{d}"},
      {B, "Na brzinu, {v} {qp}{d}"},
      {B, "Nakon svega, {v} {qp}{d}"},
  };
  p.verbs[0] = {
      {"dodaj", "dodajte", "dodati", "", "u", opt},
      {"stavi", "stavite", "staviti", "", "u", opt},
      {"ubaci", "ubacite", "ubaciti", "", "u", opt},
      {"naruči", "naručite", "naručiti", "", nullptr, none},
      {"uzmi", "uzmite", "uzeti", "", nullptr, none},
      {"kupi", "kupite", "kupiti", "", nullptr, none},
      {"spremi", "spremite", "spremiti", "", "u", opt},
  };
  p.verbs[1] = {
      {"makni", "maknite", "maknuti", "", "iz", opt},
      {"ukloni", "uklonite", "ukloniti", "", "iz", opt},
      {"izbaci", "izbacite", "izbaciti", "", "iz", opt},
      {"obriši", "obrišite", "obrisati", "", "iz", opt},
      {"izvadi", "izvadite", "izvaditi", "", "iz", opt},
      {"poništi", "poništite", "poništiti", "", "iz_narudzbe", req},
      {"otkaži", "otkažite", "otkazati", "", "iz_narudzbe", opt},
      {"skini", "skinite", "skinuti", "", "s", opt},
      {"briši", "brišite", "", "", "iz", opt},  // imperfective: no "trebam brisati"
  };
  p.want[0] = {"trebam", "htio bih", "htjela bih", "želim", "uzet ću", "naručit ću",
               "kupio bih", "kupila bih", "molim", "uzela bih", "uzeo bih"};
  p.want[1] = {"ne trebam", "ne trebam više", "više ne trebam", "ipak ne trebam", "ne želim",
               "ne želim više"};
  p.dests = {
      {"u", {"u košaricu", "u moju košaricu", "u košaru", "u kolica", "u narudžbu"}},
      {"iz", {"iz košarice", "iz moje košarice", "iz košare", "iz kolica", "iz narudžbe"}},
      {"iz_narudzbe", {"iz narudžbe", "iz moje narudžbe"}},
      {"s", {"s popisa", "s liste", "iz košarice"}},
  };
  p.generic_dest[0] = "u";
  p.generic_dest[1] = "iz";

  p.qwertz = true;
  p.greetings = {"bok", "bok!", "pozdrav", "dobar dan", "hej", "ej", "zdravo", "pozz",
                 "dobro jutro", "dobra večer", "bok bok"};
  p.signoffs = {"hvala", "hvala!", "hvala unaprijed", "hvala puno", "lp", "pozdrav",
                "unaprijed hvala", "fala", "hvala ti"};
  p.slang = {
      {"molim te", {"mlm", "pls", "molim te lijepo"}},
      {"hvala", {"fala", "hvala ti", "hvala puno"}},
      {"možeš li", {"moš li", "jel možeš", "jel moš"}},
      {"možeš", {"moš"}},
      {"molim", {"pls", "plz"}},
      {"ako može", {"ak može", "ak moš"}},
      {"što", {"šta"}},
      {"također", {"isto"}},
      {"trebam", {"tribam"}},
  };
  p.slang_prefix = {"ajde ", "daj ", "ej ", "e "};
  p.slang_suffix = {" pls", " mlm", " fala", " ajde"};
  p.codeswitch_prefix = {"ok, ", "ok ", "btw ", "sorry, "};
  p.codeswitch_suffix = {" asap", ", asap", " please", " pls", ", thanks", ", ima li free shipping?",
                         ", pa idem na checkout", " btw", ", ok?", ", thx"};
  p.brand_clauses = {" iz Konzuma", " iz Lidla", " iz dm-a", " iz Spara", " iz Kauflanda",
                     " ({brand} ako ima)", ", po mogućnosti {brand}", ", može i {brand}",
                     ", neka bude {brand}", " (marka {brand})"};
  p.brands = {"Nivea", "Podravka", "Kraš", "Dukat", "Samsung", "Philips", "Bosch", "Franck",
              "Violeta", "Gavrilović"};
  // Stems; no word of the catalog's eval-only forms ("zelen", "plav", "velik" are theirs).
  p.detail_adjectives = {"mal", "crven", "crn", "bijel", "siv", "smeđ", "žut", "ružičast",
                         "narančast", "ljubičast", "tamn", "svijetl", "nov", "jeftin", "običn",
                         "dječj", "osnovn", "manj", "već", "obiteljsk", "kvalitetn", "standardn",
                         "rezervn", "jednostavn", "staklen", "drven", "plastičn", "ekološk"};
  p.inflect_adjective = inflect_adjective;
  p.detail_after = {" za djecu", " na akciji", " s popustom", ", bilo koje", " (manje pakiranje)",
                    " (veće pakiranje)", ", najjeftinije", " u crnoj boji", " u bijeloj boji",
                    ", kao prošli put", " za ured", ", ništa posebno", " (obično)"};
  p.distractors = {" (narudžba br. {ord})", ", narudžba #{ord}", "^Narudžba {ord}: ",
                   ", veličina {size}", "@ u veličini {size}", ", cijena {price}",
                   " ako je još {price}", ", dostava do {hour}h", " prije {hour} sati",
                   ", broj narudžbe {ord}"};
  // Noise kind "context" (train split only): clauses that say nothing about the action, with words
  // the templates otherwise tie to one action ("ipak", "popis", "doma", "predomislio").
  p.context_clauses = {"idem uskoro van", "gledam popis", "popis mi je ovaj tjedan dugačak",
                       "prolazim kroz listu", "ipak je petak", "evo me opet", "nema žurbe",
                       "djeca su danas doma", "danas radim od kuće", "dostava u petak je u redu",
                       "ista adresa kao prošli put", "da ne zaboravim", "usput",
                       "kao što smo se dogovorili", "oprosti na gomili poruka",
                       "predomislio sam se oko termina dostave", "sve ostalo u košarici je u redu",
                       "ostatak je već riješen", "slučajno sam vidio da imate popust",
                       "sestra mi dolazi u posjet", "dug tjedan", "štedim ovaj mjesec",
                       "našao sam kod za popust", "ipak sam odlučio to danas riješiti",
                       "uglavnom", "to je za rođendan", "čistim smočnicu danas"};
  return p;
}

}  // namespace

const LangPack& hr_pack() {
  static const LangPack pack = make_pack();
  return pack;
}

}  // namespace cartlm
