#include "data/noise.h"

#include <gtest/gtest.h>

#include <set>

#include "core/strings.h"
#include "core/utf8.h"
#include "data/catalog.h"
#include "data/lang_pack.h"

namespace cartlm {
namespace {

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s)
    if (c >= '0' && c <= '9') d += c;
  return d;
}

// Maximal runs of ASCII digits.
std::vector<std::string> digit_runs(std::string_view s) {
  std::vector<std::string> runs;
  std::string cur;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      cur += c;
    } else if (!cur.empty()) {
      runs.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) runs.push_back(cur);
  return runs;
}

TEST(Typo, EachKindChangesLengthByAtMostOneAndKeepsDigits) {
  const char* words[] = {"remove", "towels", "x12", "3pcs", "dvije", "čaše", "añade", "champú",
                         "košaricu", "12ab34", "Please"};
  const TypoKind kinds[] = {TypoKind::swap, TypoKind::drop, TypoKind::repeat, TypoKind::neighbour};
  Rng rng(7);
  for (const char* w : words)
    for (TypoKind k : kinds)
      for (int rep = 0; rep < 50; ++rep) {
        std::string out = apply_typo(w, k, rep % 2 == 0, rng);
        long diff = (long)utf8_length(out) - (long)utf8_length(w);
        EXPECT_LE(std::labs(diff), 1) << w << " -> " << out;
        EXPECT_EQ(digits_of(out), digits_of(w)) << w << " -> " << out;
        EXPECT_TRUE(is_valid_utf8(out)) << w;
        if (k == TypoKind::swap || k == TypoKind::neighbour) {
          EXPECT_EQ(diff, 0) << w << " -> " << out;
        }
        if (k == TypoKind::drop && out != w) {
          EXPECT_EQ(diff, -1) << w << " -> " << out;
        }
        if (k == TypoKind::repeat) {
          EXPECT_EQ(diff, 1) << w << " -> " << out;
        }
      }
}

TEST(Typo, RandomTypoChangesWordsThatCanChange) {
  Rng rng(1);
  for (int rep = 0; rep < 200; ++rep) {
    std::string out = random_typo("delete", false, rng);
    EXPECT_NE(out, "delete");
    EXPECT_LE(std::labs((long)out.size() - 6), 1);
  }
  // Nothing to change: only digits.
  EXPECT_EQ(random_typo("2024", false, rng), "2024");
}

TEST(Typo, KeyboardNeighboursFollowTheLayout) {
  Rng rng(3);
  std::set<char> seen_a, seen_y_qwertz, seen_z_qwertz;
  for (int i = 0; i < 400; ++i) {
    seen_a.insert(keyboard_neighbour('a', false, rng));
    seen_y_qwertz.insert(keyboard_neighbour('y', true, rng));
    seen_z_qwertz.insert(keyboard_neighbour('z', true, rng));
  }
  EXPECT_EQ(seen_a, (std::set<char>{'q', 'w', 's', 'z'}));
  EXPECT_EQ(seen_y_qwertz, (std::set<char>{'a', 's', 'x'}));  // y sits bottom left on QWERTZ
  EXPECT_EQ(seen_z_qwertz, (std::set<char>{'t', 'u', 'g', 'h'}));
  EXPECT_EQ(keyboard_neighbour('7', false, rng), '7');
  char up = keyboard_neighbour('A', false, rng);
  EXPECT_TRUE(up == 'Q' || up == 'W' || up == 'S' || up == 'Z') << up;
}

// "please remove " "twelve" " " "wireless headphones" " from my cart"
Pieces remove_headphones() {
  return {text_piece("please remove "), qty_piece("twelve"), text_piece(" "),
          product_piece("wireless headphones"), text_piece(" from my cart")};
}

TEST(Typo, AddProductTypoChangesOneProductWordOnly) {
  Rng rng(5);
  for (int rep = 0; rep < 200; ++rep) {
    Pieces pieces = remove_headphones();
    ASSERT_TRUE(add_product_typo(pieces, "wireless headphones", false, rng));
    EXPECT_EQ(pieces[0].text, "please remove ");
    EXPECT_EQ(pieces[1].text, "twelve");
    EXPECT_EQ(pieces[4].text, " from my cart");
    const std::string& prod = pieces[3].text;
    size_t sp = prod.find(' ');
    ASSERT_NE(sp, std::string::npos) << prod;
    int changed = (prod.substr(0, sp) != "wireless") + (prod.substr(sp + 1) != "headphones");
    EXPECT_EQ(changed, 1) << prod;
  }
  // A product already misspelt, or without a word of 4 letters, is left alone.
  Pieces done = {text_piece("add "), product_piece("wireles headphones")};
  EXPECT_FALSE(add_product_typo(done, "wireless headphones", false, rng));
  EXPECT_EQ(done[1].text, "wireles headphones");
  Pieces short_name = {text_piece("add "), product_piece("tea")};
  EXPECT_FALSE(add_product_typo(short_name, "tea", false, rng));
  EXPECT_EQ(short_name[1].text, "tea");
}

TEST(Typo, AddActionTypoMisspellsAVerb) {
  Rng rng(9);
  int remove_hits = 0;
  for (int rep = 0; rep < 200; ++rep) {
    Pieces pieces = remove_headphones();
    ASSERT_TRUE(add_action_typo(pieces, en_pack(), false, rng));
    EXPECT_EQ(pieces[1].text, "twelve");
    EXPECT_EQ(pieces[3].text, "wireless headphones");
    EXPECT_EQ(pieces[4].text, " from my cart");
    // "please" is not a verb of the pack: only "remove" changes.
    EXPECT_EQ(pieces[0].text.substr(0, 7), "please ");
    remove_hits += pieces[0].text != "please remove ";
  }
  EXPECT_EQ(remove_hits, 200);
  Pieces hr = {text_piece("Ej, ubaci "), qty_piece("dvije"), text_piece(" "),
               product_piece("čaše")};
  ASSERT_TRUE(add_action_typo(hr, hr_pack(), true, rng));
  EXPECT_NE(hr[0].text, "Ej, ubaci ");
  EXPECT_EQ(hr[0].text.substr(0, 4), "Ej, ");
  Pieces none = {text_piece("hello there "), product_piece("lip balm")};
  EXPECT_FALSE(add_action_typo(none, en_pack(), false, rng));
  EXPECT_EQ(none[0].text, "hello there ");
}

TEST(Typo, AddTyposNeverTouchesQuantityAndAtMostOnceTheProduct) {
  Rng rng(11);
  int product_hits = 0;
  for (int rep = 0; rep < 500; ++rep) {
    Pieces pieces = {text_piece("please remove "), qty_piece("twelve"), text_piece(" "),
                     product_piece("wireless headphones"), text_piece(" from my shopping cart")};
    int made = add_typos(pieces, 3, false, rng);
    EXPECT_GE(made, 1);
    EXPECT_EQ(pieces[1].text, "twelve");
    int changed_words = 0;
    std::string_view orig[] = {"wireless", "headphones"};
    std::string_view prod = pieces[3].text;
    for (std::string_view w : orig) changed_words += prod.find(w) == std::string_view::npos;
    EXPECT_LE(changed_words, 1) << prod;
    product_hits += changed_words;
  }
  // The product phrase is chosen rarely, but it is chosen.
  EXPECT_GT(product_hits, 0);
  EXPECT_LT(product_hits, 250);
}

TEST(Diacritics, StripWholeOrSomeWords) {
  Rng rng(5);
  EXPECT_EQ(strip_diacritics_some("Možeš li dodati dvije čaše u košaricu?", 1.0, rng),
            "Mozes li dodati dvije case u kosaricu?");
  EXPECT_EQ(strip_diacritics_some("Añade dos champús", 1.0, rng), "Anade dos champus");
  EXPECT_EQ(strip_diacritics_some("Đuro želi šećer", 1.0, rng), "Duro zeli secer");
  EXPECT_EQ(strip_diacritics_some("añade 3 champús", 0.0, rng), "añade 3 champús");
  std::set<std::string> outcomes;
  for (int i = 0; i < 200; ++i) outcomes.insert(strip_diacritics_some("añade champú", 0.5, rng));
  EXPECT_EQ(outcomes, (std::set<std::string>{"añade champú", "anade champú", "añade champu",
                                             "anade champu"}));
}

TEST(JoinPieces, TidiesSpacesBeforePunctuation) {
  Pieces p = {text_piece("  hi ,  add "), qty_piece("3"), text_piece(" "),
              product_piece("towels"), text_piece(" ( order #123 ) ! ")};
  EXPECT_EQ(join_pieces(p), "hi, add 3 towels ( order #123)!");
}

TEST(ContainsWord, RespectsWordBoundaries) {
  EXPECT_TRUE(contains_word("from nivea please", "nivea"));
  EXPECT_FALSE(contains_word("from great value", "eat"));
  EXPECT_TRUE(contains_word("čaša, šampon", "šampon"));
  EXPECT_FALSE(contains_word("šamponi", "šampon"));
  EXPECT_FALSE(contains_word("anything", ""));
}

Pieces sample_message(Lang lang) {
  switch (lang) {
    case Lang::en:
      return {text_piece("Please remove "), qty_piece("5"), text_piece(" "),
              product_piece("lip balms"), text_piece(" from my cart, thank you.")};
    case Lang::hr:
      return {text_piece("Molim te, makni "), qty_piece("5"), text_piece(" "),
              product_piece("čaša"), text_piece(" iz košarice.")};
    case Lang::es:
      return {text_piece("¿Puedes quitar "), qty_piece("5"), text_piece(" "),
              product_piece("champús"), text_piece(" del carrito, por favor?")};
  }
  return {};
}

TEST(ApplyNoise, ZeroRatesChangeNothing) {
  NoiseRates zero = NoiseRates().scaled(0);
  for (Lang lang : kAllLangs) {
    Rng rng(9);
    Pieces p = sample_message(lang);
    std::string before = join_pieces(p);
    NoiseContext ctx{&lang_pack(lang), 5, nullptr};
    EXPECT_TRUE(apply_noise(p, zero, ctx, rng).empty());
    EXPECT_EQ(join_pieces(p), before);
  }
}

TEST(ApplyNoise, EveryKindFiresAtRateOneAndKeepsTheQuantity) {
  NoiseRates all = NoiseRates().scaled(100);  // every rate capped at 1
  all.context = 1;                             // 0 by default, so scaling leaves it off
  for (Lang lang : kAllLangs) {
    std::set<std::string> fired;
    for (uint64_t seed = 0; seed < 300; ++seed) {
      Rng rng(seed);
      Pieces p = sample_message(lang);
      NoiseContext ctx{&lang_pack(lang), 5, nullptr};
      for (const std::string& n : apply_noise(p, all, ctx, rng)) fired.insert(n);
      std::string text = join_pieces(p);
      // The quantity piece is intact and no other number in the message is 5.
      int qty_pieces = 0;
      for (const Piece& piece : p)
        if (piece.role == PieceRole::qty) {
          ++qty_pieces;
          EXPECT_EQ(piece.text, "5");
        }
      EXPECT_EQ(qty_pieces, 1);
      int fives = 0;
      for (const std::string& run : digit_runs(text)) fives += run == "5";
      EXPECT_EQ(fives, 1) << text;
    }
    for (const char* kind : {"brand", "detail", "distractor", "context", "slang", "greeting",
                             "signoff", "punct", "typo", "lowercase", "uppercase", "sentence_case",
                             "emoji"})
      EXPECT_TRUE(fired.count(kind)) << lang_code(lang) << " never applied " << kind;
    if (lang != Lang::en) {
      EXPECT_TRUE(fired.count("codeswitch")) << lang_code(lang);
      EXPECT_TRUE(fired.count("no_diacritics")) << lang_code(lang);
    } else {
      EXPECT_FALSE(fired.count("codeswitch"));
      EXPECT_FALSE(fired.count("no_diacritics"));
    }
  }
}

TEST(ApplyNoise, SlangReplacesWholeWords) {
  NoiseRates r = NoiseRates().scaled(0);
  r.slang = 1;
  std::set<std::string> outs;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Rng rng(seed);
    Pieces p = {text_piece("Please add "), qty_piece("2"), text_piece(" "),
                product_piece("towels"), text_piece(" to your cart")};
    NoiseContext ctx{&en_pack(), 2, nullptr};
    EXPECT_EQ(apply_noise(p, r, ctx, rng), std::vector<std::string>{"slang"});
    outs.insert(join_pieces(p));
  }
  EXPECT_TRUE(outs.count("Pls add 2 towels to your cart"));
  EXPECT_TRUE(outs.count("Please add 2 towels to ur cart"));
}

TEST(ApplyNoise, BrandsNeverNameAProduct) {
  NoiseRates r = NoiseRates().scaled(0);
  r.brand = 1;
  std::vector<std::string> products = {"nivea", "samsung", "philips", "bosch"};
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    Pieces p = sample_message(Lang::en);
    NoiseContext ctx{&en_pack(), 5, &products};
    apply_noise(p, r, ctx, rng);
    std::string low = to_lower(join_pieces(p));
    for (const std::string& w : products) EXPECT_FALSE(contains_word(low, w)) << low;
  }
}

TEST(ApplyNoise, BrandNextToTheNounGoesBeforeItInEnglishAfterItElsewhereNeverAfterAnArticle) {
  NoiseRates r = NoiseRates().scaled(0);
  r.brand = 1;
  size_t before = 0, after = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(seed);
    Pieces p = {text_piece("Add "), qty_piece("a"), text_piece(" "), product_piece("towel")};
    NoiseContext ctx{&en_pack(), 1, nullptr};
    EXPECT_EQ(apply_noise(p, r, ctx, rng), std::vector<std::string>{"brand"});
    EXPECT_EQ(join_pieces(p).rfind("Add a towel", 0), 0u) << join_pieces(p);  // "a Nivea towel" would need the brand's sound
    Pieces q = {text_piece("Add "), qty_piece("3"), text_piece(" "), product_piece("towels")};
    apply_noise(q, r, ctx, rng);
    for (const char* b : en_pack().brands) before += join_pieces(q) == std::string("Add 3 ") + b + " towels";
    Pieces h = {text_piece("Dodaj "), qty_piece("3"), text_piece(" "), product_piece("ručnika")};
    NoiseContext hctx{&hr_pack(), 3, nullptr};
    apply_noise(h, r, hctx, rng);
    for (const char* b : hr_pack().brands) after += join_pieces(h) == std::string("Dodaj 3 ručnika ") + b;
  }
  // kBrandNextToNoun = 0.35 of 300: both placements are common, the clauses stay the majority.
  EXPECT_GT(before, 60u);
  EXPECT_LT(before, 150u);
  EXPECT_GT(after, 60u);
  EXPECT_LT(after, 150u);
}

TEST(ApplyNoise, DetailsGoAroundTheProductAndNeverAfterAn) {
  NoiseRates r = NoiseRates().scaled(0);
  r.detail = 1;
  std::set<std::string> outs;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    Pieces p = {text_piece("Add "), qty_piece("an"), text_piece(" "), product_piece("apple"),
                text_piece(" to my cart")};
    NoiseContext ctx{&en_pack(), 1, nullptr};
    EXPECT_EQ(apply_noise(p, r, ctx, rng), std::vector<std::string>{"detail"});
    std::string text = join_pieces(p);
    EXPECT_EQ(text.rfind("Add an apple", 0), 0u) << text;  // nothing between "an" and "apple"
    outs.insert(text);
    Pieces q = {text_piece("Add "), qty_piece("3"), text_piece(" "), product_piece("towels")};
    apply_noise(q, r, ctx, rng);
    outs.insert(join_pieces(q));
  }
  EXPECT_TRUE(outs.count("Add 3 small towels")) << *outs.begin();
  EXPECT_TRUE(outs.count("Add an apple on sale to my cart"));
}

TEST(ApplyNoise, CroatianAdjectivesAgreeInGenderCaseAndNumber) {
  const LangPack& hr = hr_pack();
  ASSERT_NE(hr.inflect_adjective, nullptr);
  auto adj = [&](const char* stem, Gender g, FormSlot s) {
    return hr.inflect_adjective(stem, g, s);
  };
  // crveni ručnik, crvenog ručnika, dva crvena ručnika, pet crvenih ručnika, crvene ručnike
  EXPECT_EQ(adj("crven", Gender::m, FormSlot::sg), "crveni");
  EXPECT_EQ(adj("crven", Gender::m, FormSlot::gen_sg), "crvenog");
  EXPECT_EQ(adj("crven", Gender::m, FormSlot::acc_sg), "crveni");
  EXPECT_EQ(adj("crven", Gender::m, FormSlot::paucal), "crvena");
  EXPECT_EQ(adj("crven", Gender::m, FormSlot::gen_pl), "crvenih");
  EXPECT_EQ(adj("crven", Gender::m, FormSlot::acc_pl), "crvene");
  // crvena čaša, crvenu čašu, dvije crvene čaše
  EXPECT_EQ(adj("crven", Gender::f, FormSlot::sg), "crvena");
  EXPECT_EQ(adj("crven", Gender::f, FormSlot::acc_sg), "crvenu");
  EXPECT_EQ(adj("crven", Gender::f, FormSlot::paucal), "crvene");
  // crveno jaje, crvenog jajeta, crvena jaja; soft stems: smeđe jaje, smeđeg jajeta
  EXPECT_EQ(adj("crven", Gender::n, FormSlot::acc_sg), "crveno");
  EXPECT_EQ(adj("crven", Gender::n, FormSlot::pl), "crvena");
  EXPECT_EQ(adj("smeđ", Gender::n, FormSlot::sg), "smeđe");
  EXPECT_EQ(adj("smeđ", Gender::m, FormSlot::gen_sg), "smeđeg");
  EXPECT_EQ(adj("dječj", Gender::n, FormSlot::gen_sg), "dječjeg");
  // plural-only nouns: crvene traperice, crvenih traperica
  EXPECT_EQ(adj("crven", Gender::pl, FormSlot::acc_sg), "crvene");
  EXPECT_EQ(adj("crven", Gender::pl, FormSlot::gen_pl), "crvenih");
}

TEST(ApplyNoise, SpanishAdjectivesAgreeInGenderAndNumber) {
  const LangPack& es = es_pack();
  ASSERT_NE(es.inflect_adjective, nullptr);
  auto adj = [&](const char* lemma, Gender g, FormSlot s) {
    return es.inflect_adjective(lemma, g, s);
  };
  EXPECT_EQ(adj("blanco", Gender::m, FormSlot::sg), "blanco");
  EXPECT_EQ(adj("blanco", Gender::f, FormSlot::sg), "blanca");
  EXPECT_EQ(adj("blanco", Gender::f, FormSlot::pl), "blancas");
  EXPECT_EQ(adj("grande", Gender::f, FormSlot::pl), "grandes");
  EXPECT_EQ(adj("gris", Gender::m, FormSlot::pl), "grises");
  EXPECT_EQ(adj("infantil", Gender::f, FormSlot::sg), "infantil");
}

// hr puts the agreeing adjective in front of the noun, es after it; the rest stays as it was.
TEST(ApplyNoise, AgreeingDetailsGoNextToTheNoun) {
  NoiseRates r = NoiseRates().scaled(0);
  r.detail = 1;
  SurfaceForm rucnik;
  rucnik.gender = Gender::m;
  rucnik.sg = rucnik.acc_sg = "ručnik", rucnik.gen_sg = rucnik.gen_pl = rucnik.paucal = "ručnika";
  rucnik.pl = "ručnici", rucnik.acc_pl = "ručnike";
  SurfaceForm toalla;
  toalla.gender = Gender::f;
  toalla.sg = "toalla", toalla.pl = "toallas";
  std::set<std::string> hr_adj, es_adj;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(seed);
    Pieces h = {text_piece("Dodaj "), qty_piece("3"), text_piece(" "),
                form_piece(rucnik, rucnik.paucal)};
    NoiseContext hctx{&hr_pack(), 3, nullptr};
    ASSERT_EQ(apply_noise(h, r, hctx, rng), std::vector<std::string>{"detail"});
    std::string text = join_pieces(h);
    for (const char* stem : hr_pack().detail_adjectives) {
      std::string a = hr_pack().inflect_adjective(stem, Gender::m, FormSlot::paucal);
      if (text == "Dodaj 3 " + a + " ručnika") hr_adj.insert(a);
    }
    EXPECT_EQ(text.rfind("Dodaj 3 ", 0), 0u) << text;
    Pieces e = {text_piece("Añade "), qty_piece("dos"), text_piece(" "),
                form_piece(toalla, toalla.pl), text_piece(" al carrito")};
    NoiseContext ectx{&es_pack(), 2, nullptr};
    ASSERT_EQ(apply_noise(e, r, ectx, rng), std::vector<std::string>{"detail"});
    text = join_pieces(e);
    for (const char* lemma : es_pack().detail_adjectives) {
      std::string a = es_pack().inflect_adjective(lemma, Gender::f, FormSlot::pl);
      if (text == "Añade dos toallas " + a + " al carrito") es_adj.insert(a);
    }
    EXPECT_EQ(text.rfind("Añade dos toallas", 0), 0u) << text;
  }
  // About half of the details are agreeing adjectives, the rest phrases after the noun.
  EXPECT_GE(hr_adj.size(), 15u);
  EXPECT_GE(es_adj.size(), 12u);
  EXPECT_TRUE(hr_adj.count("crvena") || hr_adj.count("bijela")) << *hr_adj.begin();
  EXPECT_TRUE(es_adj.count("blancas") || es_adj.count("rojas")) << *es_adj.begin();
}

// Detail phrases and context clauses must not teach the eval-only surface forms: no word of 5+
// letters of one occurs in an eval-only form of the same language.
TEST(ApplyNoise, DetailPhrasesShareNoWordWithEvalOnlyForms) {
  for (Lang lang : kAllLangs) {
    const LangPack& pack = lang_pack(lang);
    std::set<std::string> eval_words;
    for (const Product& prod : default_catalog().products)
      for (const SurfaceForm& f : prod.in(lang))
        if (f.kind == FormKind::eval)
          for (const std::string* s : f.all_forms())
            for (const std::string& w : split(to_lower(*s), ' ')) eval_words.insert(w);
    ASSERT_FALSE(eval_words.empty()) << lang_code(lang);
    std::vector<const char*> phrases = pack.detail_before;
    phrases.insert(phrases.end(), pack.detail_after.begin(), pack.detail_after.end());
    phrases.insert(phrases.end(), pack.context_clauses.begin(), pack.context_clauses.end());
    std::vector<std::string> adjectives;  // every form of every agreeing adjective
    for (const char* lemma : pack.detail_adjectives)
      for (Gender g : {Gender::m, Gender::f, Gender::n, Gender::pl})
        for (int slot = 0; slot < 7; ++slot)
          adjectives.push_back(pack.inflect_adjective(lemma, g, (FormSlot)slot));
    for (const std::string& a : adjectives) phrases.push_back(a.c_str());
    ASSERT_FALSE(phrases.empty());
    for (const char* phrase : phrases) {
      std::string word;
      for (char c : to_lower(phrase) + " ") {
        if (c == ' ' || c == ',' || c == '(' || c == ')' || c == '-') {
          if (utf8_length(word) >= 5) {
            EXPECT_FALSE(eval_words.count(word)) << phrase;
          }
          word.clear();
        } else {
          word += c;
        }
      }
    }
  }
}

// A context clause must not carry the action or name a product: no digit, no verb or
// first-person phrase of either action, no word of any surface form of the language.
TEST(ApplyNoise, ContextClausesSayNothingAboutTheAction) {
  // Words inside product names that are not about the product ("mascarilla para la cara").
  const std::set<std::string> kFunctionWords = {"for",  "with", "the", "and", "para",
                                                "con", "los",  "las", "del"};
  for (Lang lang : kAllLangs) {
    const LangPack& pack = lang_pack(lang);
    ASSERT_GE(pack.context_clauses.size(), 20u) << lang_code(lang);
    std::set<std::string> banned;
    for (int a = 0; a < 2; ++a) {
      for (const Verb& v : pack.verbs[a])
        for (const char* s : {v.imp, v.formal, v.inf, v.subj})
          if (*s) banned.insert(to_lower(s));
      for (const char* w : pack.want[a]) banned.insert(to_lower(w));
    }
    for (const Product& prod : default_catalog().products)
      for (const SurfaceForm& f : prod.in(lang))
        for (const std::string* s : f.all_forms())
          for (const std::string& w : split(to_lower(*s), ' '))
            if (utf8_length(w) >= 3 && !kFunctionWords.count(w)) banned.insert(w);
    for (const char* clause : pack.context_clauses) {
      const std::string low = to_lower(clause);
      EXPECT_EQ(low.find_first_of("0123456789"), std::string::npos) << clause;
      for (const std::string& b : banned)
        EXPECT_FALSE(contains_word(low, b)) << clause << " / " << b;
    }
  }
}

TEST(ApplyNoise, ContextGoesBeforeOrAfterTheRequestAndLeavesItWhole) {
  NoiseRates r = NoiseRates().scaled(0);
  r.context = 1;
  size_t before = 0, after = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    Pieces p = {text_piece("Add "), qty_piece("3"), text_piece(" "), product_piece("towels"),
                text_piece(" to my cart.")};
    NoiseContext ctx{&en_pack(), 3, nullptr};
    EXPECT_EQ(apply_noise(p, r, ctx, rng), std::vector<std::string>{"context"});
    const std::string text = join_pieces(p);
    const size_t at = to_lower(text).find("add 3 towels to my cart");
    ASSERT_NE(at, std::string::npos) << text;
    before += at > 0;
    after += at == 0;
    EXPECT_GT(text.size(), std::string("Add 3 towels to my cart.").size() + 3) << text;
  }
  EXPECT_GT(before, 60u);
  EXPECT_GT(after, 60u);
}

TEST(ApplyNoise, PrefixesLowerTheFirstWordButNotI) {
  NoiseRates r = NoiseRates().scaled(0);
  r.greeting = 1;
  std::set<std::string> outs;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    Pieces p = {text_piece("Želim dodati "), qty_piece("2"), text_piece(" "), product_piece("čaše")};
    NoiseContext ctx{&hr_pack(), 2, nullptr};
    apply_noise(p, r, ctx, rng);
    std::string t = join_pieces(p);
    outs.insert(t);
    // After ", " or " " the sentence goes on in lower case; after "! " or ". " it starts anew.
    EXPECT_EQ(t.find(", Želim"), std::string::npos) << t;
    EXPECT_TRUE(t.find("želim") != std::string::npos || t.find("! Želim") != std::string::npos ||
                t.find(". Želim") != std::string::npos || t.find("? Želim") != std::string::npos)
        << t;
  }
  EXPECT_GT(outs.size(), 10u);
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Rng rng(seed);
    Pieces p = {text_piece("I need "), qty_piece("2"), text_piece(" "), product_piece("towels")};
    NoiseContext ctx{&en_pack(), 2, nullptr};
    apply_noise(p, r, ctx, rng);
    EXPECT_NE(join_pieces(p).find("I need"), std::string::npos) << join_pieces(p);
  }
}

}  // namespace
}  // namespace cartlm
