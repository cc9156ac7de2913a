#include "data/numbers.h"

namespace cartlm {

namespace {

const char* const kEnOnes[] = {"",        "one",     "two",       "three",    "four",
                               "five",    "six",     "seven",     "eight",    "nine",
                               "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                               "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
const char* const kEnTens[] = {"", "", "twenty", "thirty", "forty", "fifty",
                               "sixty", "seventy", "eighty", "ninety"};

// 3..19 do not inflect in Croatian; 1 and 2 are handled separately.
const char* const kHrOnes[] = {"",          "",          "",          "tri",        "četiri",
                               "pet",       "šest",      "sedam",     "osam",       "devet",
                               "deset",     "jedanaest", "dvanaest",  "trinaest",   "četrnaest",
                               "petnaest",  "šesnaest",  "sedamnaest", "osamnaest", "devetnaest"};
const char* const kHrTens[] = {"", "", "dvadeset", "trideset", "četrdeset", "pedeset",
                               "šezdeset", "sedamdeset", "osamdeset", "devedeset"};

const char* const kEsOnes[] = {"",        "",          "dos",        "tres",      "cuatro",
                               "cinco",   "seis",      "siete",      "ocho",      "nueve",
                               "diez",    "once",      "doce",       "trece",     "catorce",
                               "quince",  "dieciséis", "diecisiete", "dieciocho", "diecinueve",
                               "veinte",  "",          "veintidós",  "veintitrés", "veinticuatro",
                               "veinticinco", "veintiséis", "veintisiete", "veintiocho",
                               "veintinueve"};
const char* const kEsTens[] = {"", "", "veinte", "treinta", "cuarenta", "cincuenta",
                               "sesenta", "setenta", "ochenta", "noventa"};

// Croatian 1..9 agreeing in gender and case (used alone and as the last word of 21, 32, ...).
std::string hr_unit(int u, Gender g, HrCase c) {
  if (u == 1) {
    switch (g) {
      case Gender::f: return c == HrCase::acc ? "jednu" : "jedna";
      case Gender::n: return "jedno";
      case Gender::pl: return "jedne";
      default: return "jedan";  // masculine inanimate: accusative = nominative
    }
  }
  if (g == Gender::pl) {
    // Plural-only nouns count with collective numerals (dvoje vrata, troje traperica).
    if (u == 2) return "dvoje";
    if (u == 3) return "troje";
    if (u == 4) return "četvero";
  }
  if (u == 2) return g == Gender::f ? "dvije" : "dva";
  return kHrOnes[u];
}

// Spanish 1 (and the last word of 21, 31, ...) in its agreeing form.
std::string es_one(Gender g, bool before_noun) {
  if (g == Gender::f) return "una";
  return before_noun ? "un" : "uno";
}

}  // namespace

std::string en_number_word(int n) {
  if (n < 1 || n > 100) return "";
  if (n == 100) return "one hundred";
  if (n < 20) return kEnOnes[n];
  std::string s = kEnTens[n / 10];
  if (n % 10) s += std::string("-") + kEnOnes[n % 10];
  return s;
}

std::string hr_number_word(int n, Gender g, HrCase c) {
  if (n < 1 || n > 100) return "";
  if (n == 100) return "sto";
  if (n < 10) return hr_unit(n, g, c);
  if (n < 20) return kHrOnes[n];
  std::string s = kHrTens[n / 10];
  if (n % 10) s += " i " + hr_unit(n % 10, g, c);
  return s;
}

HrNounForm hr_noun_form_after(int n) {
  int last2 = n % 100, last = n % 10;
  if (last2 >= 11 && last2 <= 14) return HrNounForm::gen_pl;
  if (last == 1) return HrNounForm::singular;
  if (last >= 2 && last <= 4) return HrNounForm::paucal;
  return HrNounForm::gen_pl;
}

std::string es_number_word(int n, Gender g, bool before_noun) {
  if (n < 1 || n > 100) return "";
  if (n == 100) return "cien";
  if (n == 1) return es_one(g, before_noun);
  if (n == 21) {
    if (g == Gender::f) return "veintiuna";
    return before_noun ? "veintiún" : "veintiuno";
  }
  if (n < 30) return kEsOnes[n];
  std::string s = kEsTens[n / 10];
  int u = n % 10;
  if (u == 1) s += " y " + es_one(g, before_noun);
  else if (u) s += std::string(" y ") + kEsOnes[u];
  return s;
}

}  // namespace cartlm
