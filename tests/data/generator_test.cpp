#include "data/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "data/lang_pack.h"
#include "data/noise.h"
#include "data/numbers.h"

namespace cartlm {
namespace {

const Dataset& default_dataset() {
  static const Dataset ds = [] {
    auto r = generate_dataset(default_catalog(), GeneratorOptions{});
    CARTLM_CHECK(r.ok());
    return *r;
  }();
  return ds;
}

const Dataset& clean_dataset() {
  static const Dataset ds = [] {
    GeneratorOptions o;
    o.noise_scale = 0;
    auto r = generate_dataset(default_catalog(), o);
    CARTLM_CHECK(r.ok());
    return *r;
  }();
  return ds;
}

std::vector<const Example*> all_examples(const Dataset& ds) {
  std::vector<const Example*> v;
  for (const auto* split : {&ds.train, &ds.val, &ds.eval})
    for (const Example& ex : *split) v.push_back(&ex);
  return v;
}

std::string lines_of(const Dataset& ds) {
  std::string s;
  for (const Example* ex : all_examples(ds)) s += example_to_json_line(*ex) + "\n";
  return s;
}

std::string meta_str(const Example& ex, const char* key) { return ex.meta.at(key).get<std::string>(); }

bool has_digit_run(std::string_view text, int q) {
  std::string want = std::to_string(q), cur;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      cur += text[i];
    } else {
      if (cur == want) return true;
      cur.clear();
    }
  }
  return false;
}

// Every spelling of q a language pack may write (all genders, cases, apocope).
std::vector<std::string> number_words_for(int q, const std::string& lang) {
  std::vector<std::string> out;
  if (lang == "en") out.push_back(en_number_word(q));
  if (lang == "hr")
    for (Gender g : {Gender::m, Gender::f, Gender::n, Gender::pl})
      for (HrCase c : {HrCase::nom, HrCase::acc}) out.push_back(hr_number_word(q, g, c));
  if (lang == "es")
    for (Gender g : {Gender::m, Gender::f})
      for (bool b : {true, false}) out.push_back(es_number_word(q, g, b));
  return out;
}

bool mentions_number_word(const std::string& text, int q, const std::string& lang) {
  std::string low = to_lower(text);
  for (const std::string& w : number_words_for(q, lang))
    if (contains_word(low, w)) return true;
  return false;
}

// Smallest edit distance between `pattern` and any substring of `text` (Sellers), on code points
// after lower-casing and dropping diacritics.
size_t fuzzy_find(std::string_view text, std::string_view pattern) {
  auto cps = [](std::string_view s) {
    std::string n = strip_diacritics(to_lower(s));
    std::vector<uint32_t> v;
    size_t i = 0;
    while (i < n.size()) v.push_back(decode_utf8(n, i));
    return v;
  };
  std::vector<uint32_t> t = cps(text), p = cps(pattern);
  std::vector<size_t> prev(p.size() + 1), cur(p.size() + 1);
  for (size_t j = 0; j <= p.size(); ++j) prev[j] = j;
  size_t best = prev[p.size()];
  for (size_t i = 1; i <= t.size(); ++i) {
    cur[0] = 0;
    for (size_t j = 1; j <= p.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (t[i - 1] == p[j - 1] ? 0 : 1)});
    best = std::min(best, cur[p.size()]);
    std::swap(prev, cur);
  }
  return best;
}

bool digit_form(const std::string& f) { return f == "digits" || f == "x3" || f == "3x" || f == "unit"; }

TEST(Generator, DefaultSizesAndIds) {
  const Dataset& ds = default_dataset();
  EXPECT_EQ(ds.train.size(), 2700u);
  EXPECT_EQ(ds.val.size(), 300u);
  EXPECT_EQ(ds.eval.size(), 1000u);
  EXPECT_EQ(ds.train.front().id, "train-000001");
  EXPECT_EQ(ds.train.back().id, "train-002700");
  EXPECT_EQ(ds.val.front().id, "val-000001");
  EXPECT_EQ(ds.eval.back().id, "eval-001000");
  for (const Example& ex : ds.val) EXPECT_EQ(meta_str(ex, "split"), "val");
  for (const Example& ex : ds.eval) EXPECT_EQ(meta_str(ex, "split"), "eval");

  GeneratorOptions o;
  o.eval_size = 100;
  o.size = 300;
  auto small = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(small.ok()) << small.message();
  EXPECT_EQ(small->train.size(), 270u);
  EXPECT_EQ(small->val.size(), 30u);
  EXPECT_EQ(small->eval.size(), 100u);
}

TEST(Generator, DeterministicForASeedAndDifferentForAnother) {
  auto again = generate_dataset(default_catalog(), GeneratorOptions{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(lines_of(*again), lines_of(default_dataset()));

  GeneratorOptions o;
  o.seed = 43;
  auto other = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(lines_of(*other), lines_of(default_dataset()));
  size_t same_text = 0;
  for (size_t i = 0; i < other->train.size(); ++i)
    same_text += other->train[i].text == default_dataset().train[i].text;
  EXPECT_LT(same_text, 50u);

  // A different eval seed changes eval only.
  GeneratorOptions e;
  e.eval_seed = 7;
  auto eval7 = generate_dataset(default_catalog(), e);
  ASSERT_TRUE(eval7.ok());
  EXPECT_EQ(eval7->train.front().text, default_dataset().train.front().text);
  EXPECT_NE(eval7->eval.front().text + eval7->eval[1].text,
            default_dataset().eval.front().text + default_dataset().eval[1].text);
}

TEST(Generator, FilesAreByteIdenticalAcrossRuns) {
  std::string dir = ::testing::TempDir() + "/cartlm_gen_files";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(write_dataset_files(default_dataset(), dir + "/a", false).ok());
  auto again = generate_dataset(default_catalog(), GeneratorOptions{});
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(write_dataset_files(*again, dir + "/b", false).ok());
  for (const char* name : {"train.jsonl", "val.jsonl", "eval.jsonl"}) {
    auto a = read_file(dir + "/a/" + name), b = read_file(dir + "/b/" + name);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b) << name;
    EXPECT_FALSE(a->empty());
  }
  // Existing files are kept unless forced.
  Status st = write_dataset_files(*again, dir + "/a", false);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--force"), std::string::npos) << st.message();
  EXPECT_TRUE(write_dataset_files(*again, dir + "/a", true).ok());
  // The files read back as the same examples.
  auto train = read_dataset(dir + "/a/train.jsonl");
  ASSERT_TRUE(train.ok()) << train.message();
  ASSERT_EQ(train->size(), 2700u);
  EXPECT_EQ((*train)[5].text, again->train[5].text);
  EXPECT_EQ((*train)[5].label, again->train[5].label);
  std::filesystem::remove_all(dir);
}

TEST(Generator, LanguagesAreCycled) {
  const Dataset& ds = default_dataset();
  const char* cycle[] = {"en", "hr", "es"};
  std::map<std::string, int> count;
  for (const Example* ex : all_examples(ds)) {
    size_t index = ex->meta.at("index").get<size_t>();
    EXPECT_EQ(ex->lang, cycle[index % 3]) << ex->id;
    ++count[ex->lang + (ex->meta.at("split") == "eval" ? "/eval" : "/trainval")];
  }
  EXPECT_EQ(count["en/trainval"], 1000);
  EXPECT_EQ(count["hr/trainval"], 1000);
  EXPECT_EQ(count["es/trainval"], 1000);
  EXPECT_EQ(count["en/eval"], 334);
  EXPECT_EQ(count["es/eval"], 333);

  GeneratorOptions o;
  o.langs = {Lang::es, Lang::hr};
  o.size = 100;
  o.eval_size = 10;
  auto two = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(two.ok());
  for (const Example* ex : all_examples(*two)) {
    size_t index = ex->meta.at("index").get<size_t>();
    EXPECT_EQ(ex->lang, index % 2 == 0 ? "es" : "hr");
  }
}

TEST(Generator, CleanTextsStateTheLabel) {
  const Dataset& ds = clean_dataset();
  std::map<std::string, int> forms;
  for (const Example* ex : all_examples(ds)) {
    const std::string& t = ex->text;
    const int q = ex->label.quantity;
    const std::string qf = meta_str(*ex, "qty_form");
    ++forms[qf];
    EXPECT_TRUE(ex->meta.at("noise").empty()) << t;
    EXPECT_TRUE(is_valid_utf8(t)) << t;
    EXPECT_EQ(t.find("  "), std::string::npos) << t;
    EXPECT_EQ(t.find('{'), std::string::npos) << t;
    EXPECT_EQ(t.find('['), std::string::npos) << t;
    EXPECT_FALSE(t.empty());
    // The product's surface form is there, as written.
    const std::string form_text = meta_str(*ex, "form_text");
    ASSERT_FALSE(form_text.empty()) << t;
    EXPECT_NE(t.find(form_text), std::string::npos) << t << " | " << form_text;
    int p = default_catalog().find(ex->label.product);
    ASSERT_GE(p, 0);
    bool form_known = false;
    for (const SurfaceForm& f : default_catalog().products[p].in(*parse_lang(ex->lang)))
      form_known |= f.sg == meta_str(*ex, "form");
    EXPECT_TRUE(form_known) << t;
    // The quantity is there in digits or words, unless it is 1 or a dozen.
    if (digit_form(qf)) {
      EXPECT_TRUE(has_digit_run(t, q)) << t << " q=" << q;
    } else if (qf == "words") {
      EXPECT_TRUE(mentions_number_word(t, q, ex->lang)) << t << " q=" << q;
    } else if (qf == "dozen") {
      EXPECT_EQ(q, 12) << t;
      std::string low = to_lower(t);
      EXPECT_TRUE(low.find("dozen") != std::string::npos || low.find("docena") != std::string::npos ||
                  low.find("tucet") != std::string::npos)
          << t;
    } else if (qf == "half_dozen") {
      EXPECT_EQ(q, 6) << t;
      std::string low = to_lower(t);
      EXPECT_TRUE(low.find("half a dozen") != std::string::npos ||
                  low.find("media docena") != std::string::npos ||
                  low.find("pola tuceta") != std::string::npos)
          << t;
    } else if (qf == "couple") {
      EXPECT_EQ(q, 2) << t;
      std::string low = to_lower(t);
      EXPECT_TRUE(low.find("a couple") != std::string::npos || low.find("un par de") != std::string::npos)
          << t;
    } else {
      EXPECT_TRUE(qf == "article" || qf == "omitted") << qf;
      EXPECT_EQ(q, 1) << t;
    }
  }
  // All forms occur.
  for (const char* f : {"digits", "words", "article", "omitted", "dozen", "couple", "half_dozen", "x3",
                        "3x", "unit"})
    EXPECT_GT(forms[f], 0) << f;
}

TEST(Generator, NoisyTextsStillStateTheLabel) {
  const Dataset& ds = default_dataset();
  std::set<std::string> known(std::begin(kNoiseNames), std::end(kNoiseNames));
  size_t noisy = 0;
  for (const Example* ex : all_examples(ds)) {
    const std::string& t = ex->text;
    const std::string form_text = meta_str(*ex, "form_text");
    // At most one typo (at most 2 edits: a swap) in the product phrase.
    EXPECT_LE(fuzzy_find(t, form_text), 2u) << t << " | " << form_text;
    if (digit_form(meta_str(*ex, "qty_form"))) {
      EXPECT_TRUE(has_digit_run(t, ex->label.quantity)) << t << " q=" << ex->label.quantity;
    }
    for (const json& n : ex->meta.at("noise")) EXPECT_TRUE(known.count(n.get<std::string>())) << n;
    noisy += !ex->meta.at("noise").empty();
    EXPECT_TRUE(is_valid_utf8(t));
  }
  size_t total = all_examples(ds).size();
  EXPECT_GT(noisy, total / 2);  // the default mix leaves some clean messages but not most
  EXPECT_LT(noisy, total);
}

TEST(Generator, SplitsAreDisjoint) {
  for (const Dataset* ds : {&default_dataset(), &clean_dataset()}) {
    std::map<std::string, std::string> seen;  // normalized text -> id
    for (const Example* ex : all_examples(*ds)) {
      auto [it, fresh] = seen.emplace(normalize_for_overlap(ex->text), ex->id);
      EXPECT_TRUE(fresh) << ex->id << " repeats " << it->second << ": " << ex->text;
    }
    EXPECT_NE(dataset_summary(*ds).find("eval texts also in train/val: 0 (0.0%)"), std::string::npos);
  }
}

TEST(Generator, HeldOutTemplatesAndEvalFormsOnlyInEval) {
  const Dataset& ds = default_dataset();
  size_t heldout_eval = 0, eval_forms = 0;
  std::set<std::string> heldout_ids;
  for (const Example* ex : all_examples(ds)) {
    std::string tid = meta_str(*ex, "template");
    size_t id = std::stoul(tid.substr(tid.find(".t") + 2));
    bool held = ex->meta.at("heldout").get<bool>();
    EXPECT_EQ(held, is_heldout_template(id, 0.2)) << tid;
    bool eval_form = meta_str(*ex, "form_kind") == "eval";
    if (meta_str(*ex, "split") != "eval") {
      EXPECT_FALSE(held) << ex->id << " " << tid;
      EXPECT_FALSE(eval_form) << ex->id << " " << ex->text;
    } else {
      heldout_eval += held;
      eval_forms += eval_form;
      if (held) heldout_ids.insert(tid);
    }
  }
  EXPECT_GT(heldout_eval, 350u);  // about half of 1000
  EXPECT_LT(heldout_eval, 650u);
  EXPECT_GT(eval_forms, 50u);
  EXPECT_GT(heldout_ids.size(), 20u);  // many different held-out phrasings, all languages
  for (const char* l : {"en.", "hr.", "es."})
    EXPECT_TRUE(std::any_of(heldout_ids.begin(), heldout_ids.end(),
                            [&](const std::string& s) { return s.rfind(l, 0) == 0; }));
}

TEST(Generator, EveryProductAndLanguageInTrainAndEval) {
  const Dataset& ds = default_dataset();
  for (const auto* split : {&ds.train, &ds.eval}) {
    std::set<std::string> products, langs;
    std::set<std::pair<std::string, std::string>> lang_action;
    for (const Example& ex : *split) {
      products.insert(ex.label.product);
      langs.insert(ex.lang);
      lang_action.insert({ex.lang, ex.label.action});
    }
    EXPECT_EQ(products.size(), default_catalog().products.size());
    EXPECT_EQ(langs.size(), 3u);
    EXPECT_EQ(lang_action.size(), 6u);
  }
}

TEST(Generator, HeldOutTemplateRule) {
  std::vector<size_t> held;
  for (size_t id = 0; id < 20; ++id)
    if (is_heldout_template(id, 0.2)) held.push_back(id);
  EXPECT_EQ(held, (std::vector<size_t>{4, 9, 14, 19}));
  EXPECT_FALSE(is_heldout_template(4, 0.0));
  size_t n = 0;
  for (size_t id = 0; id < 100; ++id) n += is_heldout_template(id, 0.3);
  EXPECT_EQ(n, 30u);
}

// Counts the slots that name the quantity and product together.
int quantity_slots(std::string_view t) {
  int n = 0;
  for (const char* s : {"{qp}", "{qpn}", "{qpm}", "{qpmn}", "{pq}", "{qn}"})
    for (size_t at = t.find(s); at != std::string_view::npos; at = t.find(s, at + 1)) ++n;
  return n;
}

TEST(LanguagePacks, EnoughTemplatesForBothActionsAndSplits) {
  for (Lang l : kAllLangs) {
    const LangPack& pack = lang_pack(l);
    EXPECT_GE(pack.templates.size(), 50u) << lang_code(l);
    for (Act act : {Act::add, Act::remove}) {
      size_t train = 0, held = 0;
      for (size_t id = 0; id < pack.templates.size(); ++id) {
        const TemplateDef& t = pack.templates[id];
        if (t.act != Act::both && t.act != act) continue;
        (is_heldout_template(id, 0.2) ? held : train)++;
      }
      EXPECT_GE(train, 20u) << lang_code(l);
      EXPECT_GE(held, 5u) << lang_code(l);
    }
    for (const TemplateDef& t : pack.templates)
      EXPECT_EQ(quantity_slots(t.text), 1) << lang_code(l) << ": " << t.text;
    EXPECT_GE(pack.verbs[0].size(), 7u);
    EXPECT_GE(pack.verbs[1].size(), 7u);
  }
}

// Renders every template with every surface form of every product and several quantities, clean:
// each message must contain the product as written and the quantity.
TEST(LanguagePacks, EveryTemplateRendersEveryForm) {
  Rng rng(123);
  for (Lang l : kAllLangs) {
    const LangPack& pack = lang_pack(l);
    for (size_t id = 0; id < pack.templates.size(); ++id) {
      const TemplateDef& t = pack.templates[id];
      for (const Product& p : default_catalog().products)
        for (const SurfaceForm& f : p.in(l))
          for (int q : {1, 2, 5, 12, 21, 23, 100}) {
            SlotContext ctx;
            ctx.quantity = q;
            ctx.remove = t.act == Act::remove || (t.act == Act::both && rng.bernoulli(0.5));
            ctx.form = &f;
            Pieces pieces = render_template(pack, t, ctx, rng);
            std::string text = join_pieces(pieces);
            ASSERT_FALSE(ctx.form_text.empty()) << text;
            // hr/es product pieces record which field they hold, for agreeing adjectives.
            if (l != Lang::en)
              for (const Piece& piece : pieces)
                if (piece.role == PieceRole::product) {
                  ASSERT_NE(piece.slot, FormSlot::none) << text;
                  EXPECT_EQ(*f.all_forms()[(size_t)piece.slot], piece.text) << text;
                  EXPECT_EQ(piece.gender, f.gender) << text;
                }
            EXPECT_NE(text.find(ctx.form_text), std::string::npos) << text;
            ASSERT_FALSE(ctx.qty_form.empty()) << text;
            if (digit_form(ctx.qty_form)) {
              EXPECT_TRUE(has_digit_run(text, q)) << text;
            }
            if (ctx.qty_form == "words") {
              EXPECT_TRUE(mentions_number_word(text, q, lang_code(l))) << text;
            }
            EXPECT_EQ(text.find("  "), std::string::npos) << text;
          }
    }
  }
}

std::set<std::string> render_many(const LangPack& pack, const char* slot, const SurfaceForm& f, int q,
                                  const char* qty_form) {
  std::set<std::string> out;
  Rng rng(q);
  for (int i = 0; i < 400; ++i) {
    SlotContext ctx;
    ctx.quantity = q;
    ctx.form = &f;
    Pieces pieces;
    EXPECT_TRUE(pack.render_slot(slot, ctx, rng, pieces));
    if (ctx.qty_form == qty_form) out.insert(join_pieces(pieces));
  }
  return out;
}

SurfaceForm hr_form(Gender g, std::vector<std::string> f) {
  SurfaceForm s;
  s.gender = g;
  s.sg = f[0], s.gen_sg = f[1], s.acc_sg = f[2], s.pl = f[3], s.gen_pl = f[4], s.acc_pl = f[5];
  s.paucal = f[6];
  return s;
}

TEST(LanguagePacks, CroatianAgreement) {
  SurfaceForm casa = hr_form(Gender::f, {"čaša", "čaše", "čašu", "čaše", "čaša", "čaše", "čaše"});
  SurfaceForm sampon =
      hr_form(Gender::m, {"šampon", "šampona", "šampon", "šamponi", "šampona", "šampone", "šampona"});
  SurfaceForm ulje = hr_form(Gender::n, {"ulje", "ulja", "ulje", "ulja", "ulja", "ulja", "ulja"});
  SurfaceForm traperice = hr_form(
      Gender::pl, {"traperice", "traperica", "traperice", "traperice", "traperica", "traperice", "traperice"});
  const LangPack& hr = hr_pack();
  using S = std::set<std::string>;
  EXPECT_EQ(render_many(hr, "qp", casa, 1, "words"), S{"jednu čašu"});
  EXPECT_EQ(render_many(hr, "qpn", casa, 1, "words"), S{"jedna čaša"});
  EXPECT_EQ(render_many(hr, "qp", casa, 1, "omitted"), S{"čašu"});
  EXPECT_EQ(render_many(hr, "qp", casa, 2, "words"), S{"dvije čaše"});
  EXPECT_EQ(render_many(hr, "qp", casa, 2, "digits"), S{"2 čaše"});
  EXPECT_EQ(render_many(hr, "qp", casa, 5, "words"), S{"pet čaša"});
  EXPECT_EQ(render_many(hr, "qp", casa, 12, "digits"), S{"12 čaša"});
  EXPECT_EQ(render_many(hr, "qp", casa, 12, "dozen"), S{"tucet čaša"});
  EXPECT_EQ(render_many(hr, "qp", casa, 6, "half_dozen"), S{"pola tuceta čaša"});
  EXPECT_EQ(render_many(hr, "qp", casa, 21, "words"), S{"dvadeset i jednu čašu"});
  EXPECT_EQ(render_many(hr, "qp", casa, 22, "digits"), S{"22 čaše"});
  EXPECT_EQ(render_many(hr, "qp", sampon, 2, "words"), S{"dva šampona"});
  EXPECT_EQ(render_many(hr, "qp", sampon, 1, "words"), S{"jedan šampon"});
  EXPECT_EQ(render_many(hr, "qp", sampon, 3, "unit"), S{"šampone 3 kom"});
  EXPECT_EQ(render_many(hr, "qp", ulje, 1, "words"), S{"jedno ulje"});
  EXPECT_EQ(render_many(hr, "qp", ulje, 4, "words"), S{"četiri ulja"});
  EXPECT_EQ(render_many(hr, "qp", traperice, 1, "words"), (S{"jedne traperice", "jedan par traperica"}));
  EXPECT_EQ(render_many(hr, "qp", traperice, 2, "words"), S{"dva para traperica"});
  EXPECT_EQ(render_many(hr, "qp", traperice, 5, "words"), S{"pet pari traperica"});
  EXPECT_EQ(render_many(hr, "qp", traperice, 3, "digits"), (S{"3 traperice", "3 para traperica"}));
  EXPECT_EQ(render_many(hr, "qn", casa, 2, "words"), S{"dvije"});
  EXPECT_EQ(render_many(hr, "qn", casa, 1, "words"), S{"jednu"});
  EXPECT_EQ(render_many(hr, "qpm", casa, 1, "words"), S{"još jednu čašu"});
  EXPECT_EQ(render_many(hr, "qpmn", casa, 1, "words"), S{"još jedna čaša"});
}

TEST(LanguagePacks, CroatianVerbAgreesWithSubject) {
  SurfaceForm casa = hr_form(Gender::f, {"čaša", "čaše", "čašu", "čaše", "čaša", "čaše", "čaše"});
  const LangPack& hr = hr_pack();
  const TemplateDef t{Act::add, "{treba} mi {qpn}"};
  Rng rng(4);
  std::set<std::string> seen;
  for (int q : {1, 2, 5, 21, 22}) {
    for (int i = 0; i < 200; ++i) {
      SlotContext ctx;
      ctx.quantity = q;
      ctx.form = &casa;
      std::string s = join_pieces(render_template(hr, t, ctx, rng));
      if (ctx.qty_form == "words" || ctx.qty_form == "digits") seen.insert(s);
    }
  }
  EXPECT_TRUE(seen.count("treba mi jedna čaša"));
  EXPECT_TRUE(seen.count("trebaju mi dvije čaše"));
  EXPECT_TRUE(seen.count("trebaju mi 2 čaše"));
  EXPECT_TRUE(seen.count("treba mi pet čaša"));
  EXPECT_TRUE(seen.count("treba mi dvadeset i jedna čaša"));
  EXPECT_TRUE(seen.count("trebaju mi 22 čaše"));
  EXPECT_FALSE(seen.count("treba mi dvije čaše"));
  EXPECT_FALSE(seen.count("trebaju mi pet čaša"));
}

TEST(LanguagePacks, SpanishAndEnglishAgreement) {
  SurfaceForm crema;
  crema.gender = Gender::f, crema.sg = "crema", crema.pl = "cremas";
  SurfaceForm cepillo;
  cepillo.gender = Gender::m, cepillo.sg = "cepillo", cepillo.pl = "cepillos";
  SurfaceForm cascos;
  cascos.gender = Gender::m, cascos.sg = "auriculares", cascos.pl = "auriculares";
  using S = std::set<std::string>;
  const LangPack& es = es_pack();
  EXPECT_EQ(render_many(es, "qp", crema, 1, "article"), S{"una crema"});
  EXPECT_EQ(render_many(es, "qp", cepillo, 1, "article"), S{"un cepillo"});
  EXPECT_EQ(render_many(es, "qp", crema, 21, "words"), S{"veintiuna cremas"});
  EXPECT_EQ(render_many(es, "qp", cepillo, 21, "words"), S{"veintiún cepillos"});
  EXPECT_EQ(render_many(es, "qp", cepillo, 12, "dozen"), S{"una docena de cepillos"});
  EXPECT_EQ(render_many(es, "qp", cepillo, 6, "half_dozen"), S{"media docena de cepillos"});
  EXPECT_EQ(render_many(es, "qp", cepillo, 2, "couple"), S{"un par de cepillos"});
  EXPECT_EQ(render_many(es, "qn", cepillo, 1, "words"), S{"uno"});
  EXPECT_EQ(render_many(es, "qp", cascos, 1, "article"), (S{"unos auriculares", "un par de auriculares"}));
  EXPECT_EQ(render_many(es, "qpm", crema, 2, "words"), S{"dos cremas más"});

  SurfaceForm apple, balm, milk, jeans, eggs;
  apple.sg = "apple", apple.pl = "apples";
  balm.sg = "lip balm", balm.pl = "lip balms";
  milk.sg = milk.pl = "milk";
  jeans.sg = jeans.pl = "jeans";
  eggs.sg = "egg", eggs.pl = "eggs";
  const LangPack& en = en_pack();
  EXPECT_EQ(render_many(en, "qp", apple, 1, "article"), S{"an apple"});
  EXPECT_EQ(render_many(en, "qp", balm, 1, "article"), S{"a lip balm"});
  EXPECT_EQ(render_many(en, "qp", balm, 12, "digits"), S{"12 lip balms"});
  EXPECT_EQ(render_many(en, "qp", balm, 1, "words"), S{"one lip balm"});
  EXPECT_EQ(render_many(en, "qp", eggs, 12, "dozen"), S{"a dozen eggs"});
  EXPECT_EQ(render_many(en, "qp", eggs, 6, "half_dozen"), S{"half a dozen eggs"});
  EXPECT_EQ(render_many(en, "qp", balm, 2, "couple"), (S{"a couple lip balms", "a couple of lip balms"}));
  EXPECT_EQ(render_many(en, "qpm", balm, 2, "couple"), S{"a couple more lip balms"});
  EXPECT_TRUE(render_many(en, "qp", milk, 2, "couple").empty());
  EXPECT_TRUE(render_many(en, "qp", jeans, 2, "couple").empty());  // pairs: "2 pairs of jeans"
  EXPECT_EQ(render_many(en, "qp", balm, 3, "3x"), S{"3x lip balm"});
  EXPECT_EQ(render_many(en, "qp", balm, 3, "x3"), S{"lip balm x3"});
  EXPECT_TRUE(render_many(en, "qp", milk, 1, "article").empty());  // never "a milk"
  EXPECT_TRUE(render_many(en, "qp", milk, 12, "dozen").empty());
  EXPECT_EQ(render_many(en, "qp", jeans, 1, "article"), S{"a pair of jeans"});
  EXPECT_EQ(render_many(en, "qpm", balm, 1, "article"), S{"another lip balm"});
  EXPECT_EQ(render_many(en, "qpm", balm, 3, "digits"), S{"3 more lip balms"});
}

TEST(LanguagePacks, EnglishPronounGoesBeforeTheParticle) {
  SurfaceForm balm;
  balm.sg = "lip balm", balm.pl = "lip balms";
  const TemplateDef t{Act::remove, "I added {qp} by mistake, please {vp}."};
  Rng rng(8);
  size_t split_phrasal = 0;
  for (int i = 0; i < 400; ++i) {
    SlotContext ctx;
    ctx.quantity = 1 + i % 3;
    ctx.remove = true;
    ctx.form = &balm;
    std::string s = join_pieces(render_template(en_pack(), t, ctx, rng));
    for (const char* bad : {" out it", " out them", " up it", " up them"})
      EXPECT_EQ(s.find(bad), std::string::npos) << s;
    std::string want = ctx.quantity == 1 ? "it." : "them.";
    bool ends_with_pronoun = ends_with(s, " " + want);
    EXPECT_TRUE(ends_with_pronoun ||
                s.find(ctx.quantity == 1 ? " it out." : " them out.") != std::string::npos)
        << s;
    split_phrasal += s.find(" out.") != std::string::npos;
  }
  EXPECT_GT(split_phrasal, 0u);  // "take it out", "throw them out"
}

TEST(Generator, RejectsBadOptions) {
  const Catalog& cat = default_catalog();
  auto bad = [&](auto tweak, const char* needle) {
    GeneratorOptions o;
    o.size = 30;
    o.eval_size = 10;
    tweak(o);
    auto r = generate_dataset(cat, o);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
    EXPECT_EQ(r.message().find('\n'), std::string::npos);
  };
  bad([](GeneratorOptions& o) { o.val_fraction = 1.0; }, "--val-fraction");
  bad([](GeneratorOptions& o) { o.val_fraction = -0.1; }, "--val-fraction");
  bad([](GeneratorOptions& o) { o.heldout_share = 1.0; }, "--heldout-share");
  bad([](GeneratorOptions& o) { o.langs.clear(); }, "--langs");
  bad([](GeneratorOptions& o) { o.noise.typo = 1.5; }, "--typo-rate");
  bad([](GeneratorOptions& o) { o.noise_scale = -1; }, "--noise-scale");
  bad([](GeneratorOptions& o) { o.size = 0; }, "--size");
}

TEST(Generator, WorksWithAPlainNameCatalog) {
  auto cat = parse_catalog("Lip Balm\nShampoo\nTowel\n", "names.txt");
  ASSERT_TRUE(cat.ok()) << cat.message();
  GeneratorOptions o;
  o.size = 300;
  o.eval_size = 60;
  auto ds = generate_dataset(*cat, o);
  ASSERT_TRUE(ds.ok()) << ds.message();
  EXPECT_EQ(ds->train.size() + ds->val.size(), 300u);
  for (const Example* ex : all_examples(*ds)) EXPECT_GE(cat->find(ex->label.product), 0);
}

// Share of the examples whose meta.noise lists `kind`.
double noise_share(const std::vector<Example>& examples, const std::string& kind) {
  size_t n = 0;
  for (const Example& ex : examples)
    for (const auto& k : ex.meta.at("noise")) n += k.get<std::string>() == kind;
  return examples.empty() ? 0.0 : (double)n / (double)examples.size();
}

// Big enough splits to compare shares between train and val/eval, small enough to be quick.
GeneratorOptions split_test_options() {
  GeneratorOptions o;
  o.size = 1200;
  o.val_fraction = 0.25;
  o.eval_size = 300;
  return o;
}

TEST(Generator, TrainRatesChangeOnlyTheTrainSplit) {
  GeneratorOptions o = split_test_options();
  auto base = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(base.ok());
  o.train_noise = o.noise;
  ASSERT_TRUE(set_noise_rate(*o.train_noise, "distractor=1").ok());
  ASSERT_TRUE(set_noise_rate(*o.train_noise, "typo=0").ok());
  auto boosted = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(boosted.ok());
  EXPECT_EQ(noise_share(boosted->train, "distractor"), 1.0);
  EXPECT_EQ(noise_share(boosted->train, "typo"), 0.0);
  EXPECT_LT(noise_share(base->train, "distractor"), 0.15);
  EXPECT_GT(noise_share(base->train, "typo"), 0.1);
  // Val and eval are drawn at the default rates from the same streams: the same messages.
  auto texts = [](const std::vector<Example>& v) {
    std::vector<std::string> t;
    for (const Example& ex : v) t.push_back(ex.text);
    return t;
  };
  EXPECT_EQ(texts(boosted->val), texts(base->val));
  EXPECT_EQ(texts(boosted->eval), texts(base->eval));
  EXPECT_NE(texts(boosted->train), texts(base->train));
}

TEST(Generator, TrainTailShareChangesOnlyTrainQuantities) {
  GeneratorOptions o = split_test_options();
  auto base = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(base.ok());
  o.train_tail_share = 0.5;
  auto tail = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(tail.ok());
  auto tail_share = [](const std::vector<Example>& v) {
    size_t n = 0;
    for (const Example& ex : v) n += ex.label.quantity >= 11 && ex.label.quantity <= 99;
    return (double)n / (double)v.size();
  };
  // The default weights put about 9% of quantities in 11..99 (12, 15, 20, ... and the uniform
  // bucket); half the train examples now draw from the bucket alone.
  EXPECT_LT(tail_share(base->train), 0.15);
  EXPECT_GT(tail_share(tail->train), 0.45);
  EXPECT_LT(tail_share(tail->val), 0.15);
  EXPECT_LT(tail_share(tail->eval), 0.15);
  std::set<int> distinct;
  for (const Example& ex : tail->train) distinct.insert(ex.label.quantity);
  EXPECT_GT(distinct.size(), 80u) << "the bucket is uniform over 11..99";
  for (const Example& ex : tail->train) EXPECT_TRUE(ex.label.quantity >= 1 && ex.label.quantity <= 100);
  GeneratorOptions bad;
  bad.train_tail_share = 1.5;
  EXPECT_NE(generate_dataset(default_catalog(), bad).status().message().find("--train-tail-share"),
            std::string::npos);
}

TEST(Generator, TrainMainFormShareChangesOnlyTheTrainSplit) {
  GeneratorOptions o = split_test_options();
  auto main_share = [](const std::vector<Example>& v) {
    size_t n = 0;
    for (const Example& ex : v) n += ex.meta["form_kind"] == "main";
    return (double)n / (double)v.size();
  };
  auto base = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(base.ok());
  o.train_main_form_share = 0.0;
  auto syn = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(syn.ok());
  EXPECT_GT(main_share(base->train), 0.5);
  // Only products without a synonym in that language still use their main form.
  EXPECT_LT(main_share(syn->train), 0.2);
  EXPECT_GT(main_share(syn->val), 0.5);
  o.train_main_form_share = 1.0;
  auto all_main = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(all_main.ok());
  EXPECT_EQ(main_share(all_main->train), 1.0);
  o.train_main_form_share = -0.5;
  EXPECT_NE(generate_dataset(default_catalog(), o).status().message().find("--train-main-form-share"),
            std::string::npos);
}

TEST(Generator, ProductTypoRateMisspellsTheProduct) {
  GeneratorOptions o;
  o.size = 800;
  o.val_fraction = 0.25;
  o.eval_size = 100;
  o.langs = {Lang::en};
  for (const NoiseRateField& f : kNoiseRateFields) o.noise.*f.rate = 0;  // nothing else
  o.train_noise = o.noise;
  ASSERT_TRUE(set_noise_rate(*o.train_noise, "product_typo=1").ok());
  auto ds = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(ds.ok());
  // form_text is the product as the template wrote it, before noise.
  auto misspelt = [](const std::vector<Example>& v) {
    size_t n = 0;
    for (const Example& ex : v)
      n += ex.text.find(ex.meta["form_text"].get<std::string>()) == std::string::npos;
    return (double)n / (double)v.size();
  };
  // Every product phrase with a word of 4+ letters gets one (nearly all of them); a doubled
  // last letter ("lip balmm") still contains the phrase, so fewer look misspelt than are.
  EXPECT_GT(noise_share(ds->train, "typo"), 0.95);
  EXPECT_GT(misspelt(ds->train), 0.85);
  EXPECT_EQ(misspelt(ds->val), 0.0);
  EXPECT_EQ(misspelt(ds->eval), 0.0);
  EXPECT_EQ(noise_share(ds->val, "typo"), 0.0);
}

TEST(NoiseRates, SetByName) {
  NoiseRates r;
  ASSERT_TRUE(set_noise_rate(r, "typo=0.5").ok());
  EXPECT_EQ(r.typo, 0.5);
  ASSERT_TRUE(set_noise_rate(r, "distractor=0").ok());
  EXPECT_EQ(r.distractor, 0.0);
  Status unknown = set_noise_rate(r, "typos=0.5");
  EXPECT_NE(unknown.message().find("unknown noise kind 'typos'"), std::string::npos);
  EXPECT_NE(unknown.message().find("distractor"), std::string::npos) << "lists the known kinds";
  EXPECT_NE(set_noise_rate(r, "typo").message().find("KIND=RATE"), std::string::npos);
  for (const char* bad : {"typo=1.5", "typo=-0.1", "typo=abc", "typo=", "typo=0.2x"})
    EXPECT_NE(set_noise_rate(r, bad).message().find("between 0 and 1"), std::string::npos) << bad;
  EXPECT_EQ(r.typo, 0.5) << "a rejected value leaves the rate alone";
  // Every member has a name; the names are distinct.
  std::set<std::string> names;
  for (const NoiseRateField& f : kNoiseRateFields) names.insert(f.name);
  EXPECT_EQ(names.size(), std::size(kNoiseRateFields));
  EXPECT_EQ(sizeof(NoiseRates), std::size(kNoiseRateFields) * sizeof(double));
}

TEST(Generator, NoiseScaleZeroMeansNoNoiseAndScaleRaisesIt) {
  auto count_noise = [](const Dataset& ds) {
    size_t n = 0;
    for (const Example* ex : all_examples(ds)) n += ex->meta.at("noise").size();
    return n;
  };
  EXPECT_EQ(count_noise(clean_dataset()), 0u);
  GeneratorOptions o;
  o.noise_scale = 2;
  o.size = 600;
  o.eval_size = 100;
  auto loud = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(loud.ok());
  o.noise_scale = 1;
  auto normal = generate_dataset(default_catalog(), o);
  ASSERT_TRUE(normal.ok());
  EXPECT_GT(count_noise(*loud), count_noise(*normal) * 3 / 2);
}

}  // namespace
}  // namespace cartlm
