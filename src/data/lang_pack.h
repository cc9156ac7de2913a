// Language packs of the synthetic generator (src/data/generator.h): per language, the phrasing
// templates, the verbs and first-person phrases that fill them, cart destinations, the grammar
// that writes "quantity + product" (templates_en.cpp, templates_hr.cpp, templates_es.cpp) and the
// phrases noise draws from (greetings, slang, brands, ...). Internal to src/data.
//
// Template syntax
//   [a|b|c]  one alternative, uniformly (no nesting; an empty alternative makes text optional)
//   {v}      the verb, informal imperative      "add" / "dodaj" / "añade"
//   {vf}     formal imperative                  "add" / "dodajte" / "añada"
//   {vi}     infinitive                         "add" / "dodati" / "añadir"
//   {vs}     es present subjunctive (tú)        "añadas"   (after "que")
//   {vp}     en imperative + "it"/"them" in the right place: "remove them", "take it out"
//   {d}      the verb's destination with a leading space, or "" (" to my cart", " iz košarice");
//            verbs that need one ("put ... in my cart") are only used by templates with {d}
//   {dd}     a destination for the action without a verb ("u košaricu"), no leading space
//   {w}      a first-person phrase of the action ("I need" / "I don't need", "trebam", "quiero")
//   Language slots, rendered by LangPack::render_slot; each template names the product and the
//   quantity exactly once, through one of:
//   {qp}     quantity + product as a verb's object (hr accusative): "12 lip balms", "dvije čaše"
//   {qpn}    the same in the nominative (hr "može jedna čaša?"; en/es = {qp})
//   {qpm}    "more": "3 more towels" / "još dvije čaše" / "dos champús más"; {qpmn} hr nominative
//   {pq}     list style, product first: "lip balm x3", "3x čaša", "champú, 3 uds"
//   {pp} + {qn}  the product alone (en plural "lip balms", hr {pgen} genitive plural, es
//            {pdef_pl} "los champús") and the quantity alone ("three", "dvije", "una")
//   {them} (en it/them), {ih} (hr ga/je/ih), {lo} (es lo/la/los/las): a pronoun for the items
//   {treba} hr "treba"/"trebaju" agreeing with the {qpn} that follows
// Template ids are positions in LangPack::templates ("en.t17") and decide which templates are held
// out for eval: append new templates at the end so existing ids (and splits) stay stable.
// Add-only (A) and remove-only (R) templates teach their fixed words as action cues: with 89 new
// A/R templates, four of them remove-only with "ipak" ("after all"), the tiny model read the
// unseen "Ipak {v} ..." as remove whatever the verb, and exact match on val2's 487 messages of
// templates left out of training fell from 96.3% to 94.3% (docs/results.md). Prefer B templates;
// in an A or R template let the action words (a verb, "I don't need") carry the action.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"
#include "data/catalog.h"
#include "data/lang.h"

namespace cartlm {

// A piece of a message. Noise may rewrite `text` pieces; a `product` piece gets at most one typo;
// a `qty` piece is never given a typo, so the label stays recoverable from the text.
enum class PieceRole : uint8_t { text, product, qty };
// Which field of a SurfaceForm a product piece holds, in SurfaceForm::all_forms() order: what an
// adjective put next to it must agree with (hr case and number, es number).
enum class FormSlot : int8_t { none = -1, sg, pl, gen_sg, acc_sg, gen_pl, acc_pl, paucal };
struct Piece {
  std::string text;
  PieceRole role = PieceRole::text;
  // Product pieces made by form_piece(): the field and the noun's gender (for agreement).
  FormSlot slot = FormSlot::none;
  Gender gender = Gender::none;
};
using Pieces = std::vector<Piece>;

enum class Act : uint8_t { both, add, remove };
enum class DestMode : uint8_t { none, optional, required };

struct Verb {
  const char* imp;     // informal imperative
  const char* formal;  // formal imperative (en: = imp)
  const char* inf;     // infinitive; "" when the verb does not fit infinitive frames
  const char* subj;    // es tú present subjunctive; "" elsewhere
  const char* dest;    // key into LangPack::dests, or nullptr
  DestMode mode;
};

struct DestList {
  const char* key;
  std::vector<const char*> phrases;
};

struct TemplateDef {
  Act act;
  const char* text;
};

struct SlangRule {
  const char* from;  // lower case, matched as whole words
  std::vector<const char*> to;
};

// What a slot renderer gets and reports back.
struct SlotContext {
  int quantity = 1;
  bool remove = false;
  const SurfaceForm* form = nullptr;
  // Set by the quantity slots (qp, qpn, qpm, qpmn, pq, qn):
  std::string qty_form;   // digits | words | article | omitted | dozen | half_dozen | couple | 3x | x3 | unit
  std::string form_text;  // the product as written (inflected), before noise
  bool qty_plural = false;  // hr: the nominative phrase is grammatically plural (for {treba})
};

struct LangPack {
  Lang lang = Lang::en;
  std::vector<TemplateDef> templates;
  std::vector<Verb> verbs[2];         // [0] add, [1] remove
  std::vector<const char*> want[2];   // {w}
  std::vector<DestList> dests;
  const char* generic_dest[2] = {nullptr, nullptr};  // {dd}
  // Renders a language slot into `out`; returns false for an unknown slot name.
  bool (*render_slot)(std::string_view name, SlotContext& ctx, Rng& rng, Pieces& out) = nullptr;

  // Noise material.
  bool qwertz = false;  // keyboard layout for neighbour-key typos
  std::vector<const char*> greetings, signoffs;
  std::vector<SlangRule> slang;                     // word replacements
  std::vector<const char*> slang_prefix, slang_suffix;  // used when no rule matches
  std::vector<const char*> codeswitch_prefix, codeswitch_suffix;  // English bits (hr, es)
  // {brand} is replaced. Clauses starting with "," or " -" end the message; the others
  // ("from {brand}", " iz Konzuma") go right after the product phrase.
  std::vector<const char*> brand_clauses;
  std::vector<const char*> brands;
  // Where a brand that names the item goes: before the noun ("2 Nivea lip balms", English) or
  // right after it ("2 šampona Nivea", "2 champús Hacendado").
  bool brand_before_noun = false;
  // Details about the item (noise kind "detail"): words put in front of the product (en
  // adjectives; none for hr/es, whose adjectives would have to agree) and phrases after it.
  std::vector<const char*> detail_before, detail_after;
  // Adjectives that agree with the noun (hr, es), as lemmas: hr stems ("crven" -> crveni,
  // crvenog, crvenu, ...), es masculine singular ("blanco" -> blanca, blancos). hr puts them in
  // front of the noun, es after it. `inflect_adjective` writes the form for a gender and slot.
  std::vector<const char*> detail_adjectives;
  std::string (*inflect_adjective)(std::string_view lemma, Gender gender, FormSlot slot) = nullptr;
  // Numbers that are not the quantity: {ord} order number, {price}, {size}, {hour}.
  // A leading '^' puts the clause in front of the message, '@' right after the product phrase;
  // otherwise it is appended (before the final punctuation).
  std::vector<const char*> distractors;
  // Action-neutral clauses (noise kind "context"): no digits, no verb of either
  // action and no product word: "I'm heading out soon", "gledam popis", "sin prisa".
  std::vector<const char*> context_clauses;
};

const LangPack& en_pack();
const LangPack& hr_pack();
const LangPack& es_pack();
const LangPack& lang_pack(Lang lang);

// Renders template `t` of `pack` for ctx.quantity / ctx.form / ctx.remove. Checks (as bugs) that
// the template is well formed and fits a verb of its action.
Pieces render_template(const LangPack& pack, const TemplateDef& t, SlotContext& ctx, Rng& rng);

// Helpers shared by the language packs.
struct FormWeight {
  const char* form;
  double weight;
};
// Draws one of `choices` by weight (entries with weight 0 never).
const char* pick_weighted(Rng& rng, std::initializer_list<FormWeight> choices);
Piece text_piece(std::string s);
Piece qty_piece(std::string s);
Piece product_piece(std::string s);
// A product piece holding `field`, which must be one of f's fields: records which one (the slot)
// and f's gender, so that noise can make an adjective agree with it.
Piece form_piece(const SurfaceForm& f, const std::string& field);

}  // namespace cartlm
