#include "data/numbers.h"

#include <gtest/gtest.h>

namespace cartlm {
namespace {

TEST(EnNumbers, Words) {
  EXPECT_EQ(en_number_word(1), "one");
  EXPECT_EQ(en_number_word(12), "twelve");
  EXPECT_EQ(en_number_word(19), "nineteen");
  EXPECT_EQ(en_number_word(20), "twenty");
  EXPECT_EQ(en_number_word(24), "twenty-four");
  EXPECT_EQ(en_number_word(99), "ninety-nine");
  EXPECT_EQ(en_number_word(100), "one hundred");
  EXPECT_EQ(en_number_word(0), "");
  EXPECT_EQ(en_number_word(101), "");
}

struct HrCaseRow {
  int n;
  Gender g;
  HrCase c;
  const char* want;
};

TEST(HrNumbers, GenderAndCaseAgreement) {
  const HrCaseRow rows[] = {
      {1, Gender::m, HrCase::nom, "jedan"},   {1, Gender::m, HrCase::acc, "jedan"},
      {1, Gender::f, HrCase::nom, "jedna"},   {1, Gender::f, HrCase::acc, "jednu"},
      {1, Gender::n, HrCase::nom, "jedno"},   {1, Gender::n, HrCase::acc, "jedno"},
      {1, Gender::pl, HrCase::acc, "jedne"},  {2, Gender::m, HrCase::acc, "dva"},
      {2, Gender::n, HrCase::nom, "dva"},     {2, Gender::f, HrCase::nom, "dvije"},
      {2, Gender::f, HrCase::acc, "dvije"},   {2, Gender::pl, HrCase::acc, "dvoje"},
      {3, Gender::f, HrCase::acc, "tri"},     {4, Gender::m, HrCase::nom, "četiri"},
      {5, Gender::f, HrCase::acc, "pet"},     {11, Gender::m, HrCase::nom, "jedanaest"},
      {12, Gender::f, HrCase::acc, "dvanaest"}, {14, Gender::m, HrCase::nom, "četrnaest"},
      {16, Gender::m, HrCase::nom, "šesnaest"}, {20, Gender::f, HrCase::acc, "dvadeset"},
      {21, Gender::m, HrCase::nom, "dvadeset i jedan"},
      {21, Gender::f, HrCase::acc, "dvadeset i jednu"},
      {21, Gender::f, HrCase::nom, "dvadeset i jedna"},
      {22, Gender::f, HrCase::acc, "dvadeset i dvije"},
      {22, Gender::m, HrCase::acc, "dvadeset i dva"},
      {24, Gender::m, HrCase::nom, "dvadeset i četiri"},
      {40, Gender::m, HrCase::nom, "četrdeset"}, {60, Gender::m, HrCase::nom, "šezdeset"},
      {99, Gender::m, HrCase::nom, "devedeset i devet"}, {100, Gender::f, HrCase::acc, "sto"},
  };
  for (const HrCaseRow& r : rows)
    EXPECT_EQ(hr_number_word(r.n, r.g, r.c), r.want) << "n=" << r.n << " gender=" << (int)r.g
                                                      << " case=" << (int)r.c;
  EXPECT_EQ(hr_number_word(0, Gender::m, HrCase::nom), "");
  // Gender::none (custom catalogs) counts as masculine.
  EXPECT_EQ(hr_number_word(2, Gender::none, HrCase::acc), "dva");
}

TEST(HrNumbers, NounFormAfterNumber) {
  const std::pair<int, HrNounForm> rows[] = {
      {1, HrNounForm::singular}, {2, HrNounForm::paucal},  {3, HrNounForm::paucal},
      {4, HrNounForm::paucal},   {5, HrNounForm::gen_pl},  {10, HrNounForm::gen_pl},
      {11, HrNounForm::gen_pl},  {12, HrNounForm::gen_pl}, {13, HrNounForm::gen_pl},
      {14, HrNounForm::gen_pl},  {15, HrNounForm::gen_pl}, {20, HrNounForm::gen_pl},
      {21, HrNounForm::singular}, {22, HrNounForm::paucal}, {24, HrNounForm::paucal},
      {25, HrNounForm::gen_pl},  {31, HrNounForm::singular}, {100, HrNounForm::gen_pl},
      {101, HrNounForm::singular}, {111, HrNounForm::gen_pl}, {112, HrNounForm::gen_pl},
  };
  for (auto [n, want] : rows) EXPECT_EQ(hr_noun_form_after(n), want) << "n=" << n;
}

TEST(EsNumbers, AgreementAndApocope) {
  EXPECT_EQ(es_number_word(1, Gender::m, true), "un");
  EXPECT_EQ(es_number_word(1, Gender::m, false), "uno");
  EXPECT_EQ(es_number_word(1, Gender::f, true), "una");
  EXPECT_EQ(es_number_word(1, Gender::f, false), "una");
  EXPECT_EQ(es_number_word(1, Gender::none, true), "un");
  EXPECT_EQ(es_number_word(2, Gender::f, true), "dos");
  EXPECT_EQ(es_number_word(16, Gender::m, true), "dieciséis");
  EXPECT_EQ(es_number_word(20, Gender::m, true), "veinte");
  EXPECT_EQ(es_number_word(21, Gender::m, true), "veintiún");
  EXPECT_EQ(es_number_word(21, Gender::m, false), "veintiuno");
  EXPECT_EQ(es_number_word(21, Gender::f, true), "veintiuna");
  EXPECT_EQ(es_number_word(22, Gender::m, true), "veintidós");
  EXPECT_EQ(es_number_word(23, Gender::f, true), "veintitrés");
  EXPECT_EQ(es_number_word(26, Gender::m, true), "veintiséis");
  EXPECT_EQ(es_number_word(30, Gender::m, true), "treinta");
  EXPECT_EQ(es_number_word(31, Gender::m, true), "treinta y un");
  EXPECT_EQ(es_number_word(31, Gender::f, true), "treinta y una");
  EXPECT_EQ(es_number_word(31, Gender::m, false), "treinta y uno");
  EXPECT_EQ(es_number_word(45, Gender::m, true), "cuarenta y cinco");
  EXPECT_EQ(es_number_word(99, Gender::m, true), "noventa y nueve");
  EXPECT_EQ(es_number_word(100, Gender::f, true), "cien");
  EXPECT_EQ(es_number_word(0, Gender::m, true), "");
}

TEST(Numbers, EveryValueUpTo100HasAWord) {
  for (int n = 1; n <= 100; ++n) {
    EXPECT_FALSE(en_number_word(n).empty()) << n;
    for (Gender g : {Gender::m, Gender::f, Gender::n, Gender::pl})
      for (HrCase c : {HrCase::nom, HrCase::acc}) EXPECT_FALSE(hr_number_word(n, g, c).empty()) << n;
    for (Gender g : {Gender::m, Gender::f})
      for (bool before : {true, false}) EXPECT_FALSE(es_number_word(n, g, before).empty()) << n;
  }
}

}  // namespace
}  // namespace cartlm
