// Noise for synthetic shopper messages: typos, missing diacritics, slang, greetings and sign-offs,
// emojis, unrelated brands, English code-switching, casing, punctuation, and numbers that are not
// the quantity. Every kind keeps the label recoverable: quantity pieces never get typos, the
// product phrase gets at most one, and distractor numbers differ from the quantity and come with
// a word that says what they are ("order #48213", "size 42", "4.99€").
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"
#include "core/status.h"
#include "data/lang_pack.h"

namespace cartlm {

// Probability per message of each kind (before --noise-scale). Defaults aim at a realistic mix.
struct NoiseRates {
  double typo = 0.22;        // 1-2 typos (swap, drop, double, keyboard neighbour)
  double diacritics = 0.45;  // hr: diacritics dropped (mostly the whole message); es: 0.35x this,
                             // some words (añade -> anade); en: none
  double slang = 0.18;       // pls, u, thx / mlm, fala / porfa, q, grax ...
  double greeting = 0.15;    // "hi", "bok", "hola" in front
  double signoff = 0.12;     // "thanks!", "hvala unaprijed", "gracias de antemano"
  double emoji = 0.08;
  double brand = 0.07;        // an unrelated brand or shop after the product ("from Nivea")
  double codeswitch = 0.15;   // hr/es only: English bits ("asap", "free shipping", "btw")
  double casing = 0.35;       // all lower, ALL CAPS or Sentence case
  double punct = 0.30;        // no final punctuation, "!!", "??", "...", stray or missing commas
  double distractor = 0.05;   // a number that is not the quantity (order no., size, price, time)
  double detail = 0.12;       // a detail about the item: "small", "in black", "na akciji", "de oferta"
  // A typo in the product name, on top of `typo` (which rarely picks the product). 0 by default:
  // a train-split augmentation (--train-rate product_typo=R); the realistic mix is `typo` alone.
  double product_typo = 0.0;
  // The same for a word that carries the action (a verb such as "remove", "ubaci", "quita").
  double action_typo = 0.0;
  // An action-neutral clause before or after the request ("I'm heading out soon", "gledam popis",
  // "repasando mi lista"): a train-split augmentation, 0 in the realistic mix. Its words (out,
  // list, after all, at home, ...) otherwise occur mostly with one action, and the model takes
  // them for action cues in phrasings it has not seen.
  double context = 0.0;

  // Every rate times `scale`, capped at 1.
  NoiseRates scaled(double scale) const;
};

// Each rate's name as the flags write it ("typo" for --typo-rate) and its member.
struct NoiseRateField {
  const char* name;
  double NoiseRates::*rate;
};
inline constexpr NoiseRateField kNoiseRateFields[] = {
    {"typo", &NoiseRates::typo},           {"diacritics", &NoiseRates::diacritics},
    {"slang", &NoiseRates::slang},         {"greeting", &NoiseRates::greeting},
    {"signoff", &NoiseRates::signoff},     {"emoji", &NoiseRates::emoji},
    {"brand", &NoiseRates::brand},         {"codeswitch", &NoiseRates::codeswitch},
    {"casing", &NoiseRates::casing},       {"punct", &NoiseRates::punct},
    {"distractor", &NoiseRates::distractor}, {"detail", &NoiseRates::detail},
    {"product_typo", &NoiseRates::product_typo}, {"action_typo", &NoiseRates::action_typo},
    {"context", &NoiseRates::context}};

// Parses "KIND=RATE" (e.g. "typo=0.33") and sets that rate in `rates`. Errors name the unknown
// kind (listing the known ones) or the rate outside [0, 1].
Status set_noise_rate(NoiseRates& rates, std::string_view kind_eq_rate);

// The names written to meta.noise, in the order the kinds are applied.
inline constexpr const char* kNoiseNames[] = {
    "brand",    "detail", "distractor", "context",       "codeswitch", "slang",     "greeting",
    "signoff",  "punct",  "typo",       "no_diacritics", "lowercase",  "uppercase", "sentence_case",
    "emoji"};

enum class TypoKind { swap, drop, repeat, neighbour };

// One typo of `kind` at a random letter of `word` (UTF-8). Digits and other non-letters are never
// changed, removed or duplicated; the length changes by at most one code point. Returns `word`
// unchanged when the kind does not fit (e.g. swap in a word without two different letters).
std::string apply_typo(std::string_view word, TypoKind kind, bool qwertz, Rng& rng);
// A typo of a random kind that changes the word, if any kind can.
std::string random_typo(std::string_view word, bool qwertz, Rng& rng);
// A key next to ASCII letter `c` on a QWERTY (or QWERTZ) keyboard, same case; `c` if none.
char keyboard_neighbour(char c, bool qwertz, Rng& rng);
// Gives `count` different words of at least 4 letters one typo each. Words of qty pieces are
// never touched and the product phrase gets at most one (and is chosen rarely). Returns the
// number of typos made.
int add_typos(Pieces& pieces, int count, bool qwertz, Rng& rng);
// One typo in a word of at least 4 letters of the product phrase, unless that phrase already
// differs from `product_before` (a typo there already). Returns whether it made one.
bool add_product_typo(Pieces& pieces, const std::string& product_before, bool qwertz, Rng& rng);
// One typo in a word of at least 4 letters of a text piece that is one of the pack's verbs or
// first-person phrases ("remove", "dodaj", "quiero"): the words that carry the action. Returns
// whether it made one.
bool add_action_typo(Pieces& pieces, const LangPack& pack, bool qwertz, Rng& rng);

// Drops diacritics word by word with probability `p` per word (p = 1: the whole text).
std::string strip_diacritics_some(std::string_view text, double p, Rng& rng);

struct NoiseContext {
  const LangPack* pack = nullptr;
  int quantity = 1;
  // Lower-case product names and surface forms: brand clauses containing one are not used.
  const std::vector<std::string>* product_words = nullptr;
};

// Applies each kind with its rate; returns the names of the kinds that changed the message.
std::vector<std::string> apply_noise(Pieces& pieces, const NoiseRates& rates,
                                     const NoiseContext& ctx, Rng& rng);

// The message text: pieces joined, runs of spaces collapsed, no space before , . ! ? : ; and
// no leading or trailing space.
std::string join_pieces(const Pieces& pieces);

// True if `needle` occurs in `hay` with no letter right before or after it.
bool contains_word(std::string_view hay, std::string_view needle);

}  // namespace cartlm
