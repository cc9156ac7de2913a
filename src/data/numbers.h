// Cardinal number words for the generator's language packs, with the agreement each language
// needs: Croatian numbers agree with the noun's gender and case (jedan/jedna/jedno/jedne,
// acc jednu; dva/dvije) and choose the noun form that follows (singular, paucal, genitive
// plural); Spanish 1 agrees in gender and drops its -o before a noun (un, veintiún).
// Every function covers 1..100; outside that range it returns "" and callers write digits.
#pragma once
#include <string>

#include "data/catalog.h"

namespace cartlm {

// "one", "twelve", "twenty-four", "one hundred".
std::string en_number_word(int n);

enum class HrCase { nom, acc };
// Croatian cardinal agreeing with `g` in `c`: (1, f, acc) -> "jednu", (2, f) -> "dvije",
// (21, m, nom) -> "dvadeset i jedan", (22, f) -> "dvadeset i dvije". Gender::pl (plural-only
// nouns such as "traperice") takes the plural/collective forms: jedne, dvoje, troje, četvero.
// Gender::none is treated as masculine.
std::string hr_number_word(int n, Gender g, HrCase c);

// Which form of a Croatian noun follows the number n (also when n is written in digits):
// 1, 21, 31 .. (not 11) -> the singular in the frame's case; 2-4, 22-24 .. (not 12-14) ->
// the paucal form; everything else -> the genitive plural.
enum class HrNounForm { singular, paucal, gen_pl };
HrNounForm hr_noun_form_after(int n);

// Spanish cardinal agreeing with `g` (Gender::none counts as masculine). `before_noun`
// selects the apocopated masculine forms: 1 -> "un", 21 -> "veintiún", 31 -> "treinta y un";
// standalone they are "uno", "veintiuno", "treinta y uno". Feminine: "una", "veintiuna".
std::string es_number_word(int n, Gender g, bool before_noun);

}  // namespace cartlm
