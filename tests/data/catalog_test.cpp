// Tests of the catalog parser (TSV and the plain-text fallback) and of the default catalog
// data/catalog.tsv that is compiled into the binary.
#include "data/catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace cartlm {
namespace {

// The canonical list of /work/shared/catalog.txt, copied here so the test does not depend on
// files outside the repository.
const std::vector<std::string> kNames = {
    "Lip Balm",       "Shampoo",        "Conditioner",       "Toothpaste",   "Toothbrush",
    "Sunscreen",      "Hand Cream",     "Deodorant",         "Shower Gel",   "Face Mask",
    "Razor Blades",   "Cotton Pads",    "Apples",            "Bananas",      "Milk",
    "Eggs",           "Bread",          "Coffee Beans",      "Green Tea",    "Olive Oil",
    "Pasta",          "Rice",           "Orange Juice",      "Dark Chocolate", "Mineral Water",
    "Honey",          "Phone Charger",  "USB-C Cable",       "Wireless Mouse", "Keyboard",
    "Headphones",     "Bluetooth Speaker", "Power Bank",     "HDMI Cable",   "Memory Card",
    "AA Batteries",   "Laptop Stand",   "Phone Case",        "T-Shirt",      "Socks",
    "Running Shoes",  "Jeans",          "Hoodie",            "Baseball Cap", "Scarf",
    "Gloves",         "Candle",         "Towel",             "Pillow",       "Coffee Mug",
    "Water Bottle",   "Notebook",       "Pen",               "Backpack",     "Umbrella",
    "Light Bulb",     "Dish Soap",      "Trash Bags",        "Paper Towels", "Laundry Detergent",
};

// A minimal valid block for one product (forms derived from the name, so blocks never clash);
// tests append broken lines to it. "A" gives en "a | as", hr "aka | ake | ...", es "ao | aos".
std::string block(const std::string& name) {
  std::string n = to_lower(name);
  return name + "\ten\tmain\t-\t" + n + " | " + n + "s\n" +
         name + "\thr\tmain\tf\t" + n + "ka | " + n + "ke | " + n + "ku | " + n + "ke | " + n +
         "ka | " + n + "ke | " + n + "ke\n" +
         name + "\tes\tmain\tf\t" + n + "o | " + n + "os\n";
}

// Expects parsing to fail with a message that starts with "t.tsv:<line>:" and contains `what`.
void expect_error(const std::string& text, int line, const std::string& what) {
  Result<Catalog> r = parse_catalog(text, "t.tsv");
  ASSERT_FALSE(r.ok()) << "accepted:\n" << text;
  std::string prefix = "t.tsv:" + std::to_string(line) + ":";
  EXPECT_TRUE(starts_with(r.message(), prefix)) << r.message() << " (wanted " << prefix << ")";
  EXPECT_NE(r.message().find(what), std::string::npos) << r.message() << " (wanted '" << what << "')";
  EXPECT_EQ(r.message().find('\n'), std::string::npos) << "message must be one line";
}

std::vector<std::string> all_strings(const SurfaceForm& f) {
  return {f.sg, f.pl, f.gen_sg, f.acc_sg, f.gen_pl, f.acc_pl, f.paucal};
}

// ---- default catalog ----

TEST(DefaultCatalog, HasTheCanonicalNamesInOrder) {
  const Catalog& cat = default_catalog();
  EXPECT_EQ(cat.names(), kNames);
}

TEST(DefaultCatalog, MatchesSharedListWhenPresent) {
  // CI keeps shared/ beside the repository; the copy above must not drift from it.
  std::string path = std::string(CARTLM_SOURCE_DIR) + "/../shared/catalog.txt";
  if (!file_exists(path)) GTEST_SKIP() << path << " not present";
  Result<Catalog> shared = load_catalog(path);
  ASSERT_TRUE(shared.ok()) << shared.message();
  EXPECT_EQ(shared->names(), kNames);
}

TEST(DefaultCatalog, SourceFileParsesToTheEmbeddedCatalog) {
  Result<Catalog> disk = load_catalog(std::string(CARTLM_SOURCE_DIR) + "/data/catalog.tsv");
  ASSERT_TRUE(disk.ok()) << disk.message();
  const Catalog& cat = default_catalog();
  ASSERT_EQ(disk->products.size(), cat.products.size());
  for (size_t i = 0; i < cat.products.size(); ++i)
    for (Lang l : kAllLangs) {
      ASSERT_EQ(disk->products[i].in(l).size(), cat.products[i].in(l).size()) << cat.products[i].name;
      for (size_t j = 0; j < cat.products[i].in(l).size(); ++j)
        EXPECT_EQ(disk->products[i].in(l)[j].sg, cat.products[i].in(l)[j].sg);
    }
}

TEST(DefaultCatalog, EveryProductHasExactlyOneMainRowPerLanguage) {
  for (const Product& p : default_catalog().products)
    for (Lang l : kAllLangs) {
      int mains = 0;
      for (const SurfaceForm& f : p.in(l)) mains += f.kind == FormKind::main;
      EXPECT_EQ(mains, 1) << p.name << " " << lang_code(l);
      EXPECT_EQ(p.in(l).front().kind, FormKind::main) << p.name << " " << lang_code(l);
    }
}

TEST(DefaultCatalog, EnglishMainFormIsTheLowerCaseName) {
  for (const Product& p : default_catalog().products) {
    const SurfaceForm& m = p.in(Lang::en).front();
    std::string want = to_lower(p.name);
    EXPECT_TRUE(m.sg == want || m.pl == want) << p.name << ": " << m.sg << " | " << m.pl;
  }
}

TEST(DefaultCatalog, FormsAreCompleteValidAndDigitFree) {
  for (const Product& p : default_catalog().products)
    for (Lang l : kAllLangs)
      for (const SurfaceForm& f : p.in(l)) {
        std::string where = p.name + " " + lang_code(l) + " '" + f.sg + "'";
        std::vector<std::string> forms = all_strings(f);
        size_t filled = l == Lang::hr ? 7 : 2;
        for (size_t i = 0; i < forms.size(); ++i) {
          if (i >= filled && l != Lang::hr) {
            EXPECT_TRUE(forms[i].empty()) << where;
            continue;
          }
          EXPECT_FALSE(forms[i].empty()) << where << " form " << i;
          EXPECT_TRUE(is_valid_utf8(forms[i])) << where;
          EXPECT_EQ(forms[i], std::string(trim(forms[i]))) << where;
          // A digit inside a product phrase would read as a quantity.
          EXPECT_EQ(forms[i].find_first_of("0123456789"), std::string::npos) << where;
        }
        if (l == Lang::en) {
          EXPECT_EQ(f.gender, Gender::none) << where;
        } else if (l == Lang::es) {
          EXPECT_TRUE(f.gender == Gender::m || f.gender == Gender::f) << where;
        } else {
          EXPECT_NE(f.gender, Gender::none) << where;
        }
      }
}

TEST(DefaultCatalog, EvalRowsAreFewAndShareAWordWithATrainForm) {
  // Words too common to count as a shared anchor.
  const std::set<std::string> stop = {"of", "for", "my", "the", "a", "de", "para", "la", "el",
                                      "con", "en", "za", "s", "sa", "u", "od"};
  auto words = [&](const SurfaceForm& f) {
    std::set<std::string> out;
    for (const std::string& s : {f.sg, f.pl})
      for (const std::string& w : split(to_lower(s), ' '))
        if (!w.empty() && !stop.count(w)) out.insert(w);
    return out;
  };
  int total = 0;
  for (const Product& p : default_catalog().products) {
    int evals = 0;
    for (Lang l : kAllLangs) {
      std::set<std::string> train;
      for (const SurfaceForm& f : p.in(l))
        if (f.kind != FormKind::eval)
          for (const std::string& w : words(f)) train.insert(w);
      for (const SurfaceForm& f : p.in(l)) {
        if (f.kind != FormKind::eval) continue;
        ++evals;
        bool shared = false;
        for (const std::string& w : words(f)) shared |= train.count(w) > 0;
        EXPECT_TRUE(shared) << p.name << " " << lang_code(l) << " eval '" << f.sg << "'";
      }
    }
    EXPECT_GE(evals, 1) << p.name;
    EXPECT_LE(evals, 2) << p.name;
    total += evals;
  }
  EXPECT_GE(total, 60);
  EXPECT_LE(total, 90);
}

TEST(DefaultCatalog, EveryProductHasSynonymsInEveryLanguage) {
  for (const Product& p : default_catalog().products)
    for (Lang l : kAllLangs) {
      int syns = 0;
      for (const SurfaceForm& f : p.in(l)) syns += f.kind == FormKind::syn;
      EXPECT_GE(syns, 2) << p.name << " " << lang_code(l);
    }
}

TEST(DefaultCatalog, CroatianCaseFormsLandInTheRightFields) {
  const Catalog& cat = default_catalog();
  int mouse = cat.find("Wireless Mouse");
  ASSERT_GE(mouse, 0);
  const SurfaceForm& m = cat.products[mouse].in(Lang::hr).front();
  EXPECT_EQ(m.gender, Gender::m);
  EXPECT_EQ(m.sg, "bežični miš");
  EXPECT_EQ(m.gen_sg, "bežičnog miša");
  EXPECT_EQ(m.acc_sg, "bežični miš");
  EXPECT_EQ(m.pl, "bežični miševi");
  EXPECT_EQ(m.gen_pl, "bežičnih miševa");
  EXPECT_EQ(m.acc_pl, "bežične miševe");
  EXPECT_EQ(m.paucal, "bežična miša");

  int water = cat.find("Mineral Water");
  ASSERT_GE(water, 0);
  const SurfaceForm& w = cat.products[water].in(Lang::hr).front();
  EXPECT_EQ(w.gender, Gender::f);
  // all_strings order: sg, pl, gen_sg, acc_sg, gen_pl, acc_pl, paucal.
  EXPECT_EQ(all_strings(w), (std::vector<std::string>{"mineralna voda", "mineralne vode",
                                                      "mineralne vode", "mineralnu vodu",
                                                      "mineralnih voda", "mineralne vode",
                                                      "mineralne vode"}));

  int jeans = cat.find("Jeans");
  ASSERT_GE(jeans, 0);
  EXPECT_EQ(cat.products[jeans].in(Lang::hr).front().gender, Gender::pl);
  EXPECT_EQ(cat.products[jeans].in(Lang::hr).front().sg, "traperice");
}

TEST(DefaultCatalog, SpanishPluralsAndGender) {
  const Catalog& cat = default_catalog();
  const SurfaceForm& brush = cat.products[cat.find("Toothbrush")].in(Lang::es).front();
  EXPECT_EQ(brush.sg, "cepillo de dientes");
  EXPECT_EQ(brush.pl, "cepillos de dientes");
  EXPECT_EQ(brush.gender, Gender::m);
  const SurfaceForm& cream = cat.products[cat.find("Hand Cream")].in(Lang::es).front();
  EXPECT_EQ(cream.sg, "crema de manos");
  EXPECT_EQ(cream.pl, "cremas de manos");
  EXPECT_EQ(cream.gender, Gender::f);
}

TEST(DefaultCatalog, LoadOrDefaultWithEmptyPathIsTheDefault) {
  Result<Catalog> c = load_catalog_or_default("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->names(), kNames);
}

// ---- find / names ----

TEST(Catalog, FindAndNames) {
  Result<Catalog> c = parse_catalog(block("Lip Balm") + block("Hand Cream"), "t.tsv");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->find("Lip Balm"), 0);
  EXPECT_EQ(c->find("Hand Cream"), 1);
  EXPECT_EQ(c->find("lip balm"), -1);  // labels are exact
  EXPECT_EQ(c->find(""), -1);
  EXPECT_EQ(c->names(), (std::vector<std::string>{"Lip Balm", "Hand Cream"}));
  EXPECT_EQ(Catalog{}.find("x"), -1);
  EXPECT_TRUE(Catalog{}.names().empty());
}

// ---- TSV parsing ----

TEST(ParseTsv, FillsEveryField) {
  std::string text =
      "# comment\n"
      "\n"
      "Lip Balm\ten\tmain\t-\tlip balm | lip balms\n"
      "Lip Balm\ten\tsyn\t-\tchapstick|chapsticks\n"
      "Lip Balm\ten\teval\t-\tlip balm stick | lip balm sticks\n"
      "Lip Balm\thr\tmain\tm\tbalzam za usne | balzama za usne | balzam za usne | balzami za usne | "
      "balzama za usne | balzame za usne | balzama za usne\n"
      "Lip Balm\tes\tmain\tm\tbálsamo labial | bálsamos labiales\n";
  Result<Catalog> c = parse_catalog(text, "t.tsv");
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_EQ(c->products.size(), 1u);
  const Product& p = c->products[0];
  EXPECT_EQ(p.name, "Lip Balm");
  ASSERT_EQ(p.in(Lang::en).size(), 3u);
  EXPECT_EQ(p.in(Lang::en)[1].kind, FormKind::syn);
  EXPECT_EQ(p.in(Lang::en)[1].sg, "chapstick");  // spaces around '|' are optional
  EXPECT_EQ(p.in(Lang::en)[1].pl, "chapsticks");
  EXPECT_EQ(p.in(Lang::en)[2].kind, FormKind::eval);
  const SurfaceForm& hr = p.in(Lang::hr)[0];
  EXPECT_EQ(hr.gender, Gender::m);
  EXPECT_EQ(hr.sg, "balzam za usne");
  EXPECT_EQ(hr.gen_sg, "balzama za usne");
  EXPECT_EQ(hr.pl, "balzami za usne");
  EXPECT_EQ(hr.acc_pl, "balzame za usne");
  EXPECT_EQ(hr.paucal, "balzama za usne");
  EXPECT_EQ(p.in(Lang::es)[0].pl, "bálsamos labiales");
  EXPECT_TRUE(p.in(Lang::es)[0].gen_sg.empty());
}

TEST(ParseTsv, AcceptsCrlfBomAndNoFinalNewline) {
  std::string text = "\xEF\xBB\xBF" + replace_all(block("Pen"), "\n", "\r\n");
  text.resize(text.size() - 2);  // drop the final CRLF
  Result<Catalog> c = parse_catalog(text, "t.tsv");
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_EQ(c->products.size(), 1u);
  EXPECT_EQ(c->products[0].name, "Pen");
  EXPECT_EQ(c->products[0].in(Lang::es)[0].pl, "penos");
  EXPECT_EQ(c->products[0].in(Lang::hr)[0].paucal, "penke");
}

TEST(ParseTsv, WrongColumnCount) {
  expect_error(block("A") + "A\ten\tsyn\t-\n", 4, "expected 5 tab-separated columns");
  expect_error("A\ten\tmain\t-\tx | xs\textra\n", 1, "got 6");
}

TEST(ParseTsv, UnknownLanguageKindGender) {
  expect_error(block("A") + "A\tde\tsyn\t-\tx | xs\n", 4, "unknown language 'de'");
  expect_error(block("A") + "A\ten\tsynonym\t-\tx | xs\n", 4, "unknown kind 'synonym'");
  expect_error(block("A") + "A\tes\tsyn\tn\tx | xs\n", 4, "unknown gender 'n' for es");
  expect_error(block("A") + "A\thr\tsyn\tx\ta | b | c | d | e | f | g\n", 4, "unknown gender 'x' for hr");
  expect_error(block("A") + "A\ten\tsyn\tm\tx | xs\n", 4, "gender for en");
}

TEST(ParseTsv, WrongNumberOfForms) {
  expect_error(block("A") + "A\thr\tsyn\tm\ta | b | c | d | e | f\n", 4, "expected 7 forms for hr");
  expect_error(block("A") + "A\tes\tsyn\tm\ta | b | c\n", 4, "expected 2 forms for es");
  expect_error(block("A") + "A\ten\tsyn\t-\tone\n", 4, "expected 2 forms for en");
}

TEST(ParseTsv, EmptyFormOrBadCharacters) {
  expect_error(block("A") + "A\ten\tsyn\t-\tx | \n", 4, "empty form");
  expect_error(block("A") + "A\thr\tsyn\tm\ta | b | | d | e | f | g\n", 4, "empty form");
  expect_error(block("A") + "A\ten\tsyn\t-\tx\x01y | xs\n", 4, "control character");
  expect_error(block("A") + "A\ten\tsyn\t-\tx\xC3 | xs\n", 4, "invalid UTF-8");
}

TEST(ParseTsv, ImplausibleProductNames) {
  std::string long_name(65, 'x');
  expect_error(long_name + "\ten\tmain\t-\tx | xs\n", 1, "longer than 64 bytes");
  expect_error("A\x02" "B\ten\tmain\t-\tx | xs\n", 1, "control character");
  expect_error("12\" Pizza\ten\tmain\t-\tx | xs\n", 1, "must not contain");
  expect_error("\ten\tmain\t-\tx | xs\n", 1, "empty product name");
  // 64 bytes is still fine.
  EXPECT_TRUE(parse_catalog(block(std::string(64, 'x')), "t.tsv").ok());
}

TEST(ParseTsv, DuplicateProductsAndForms) {
  expect_error(block("A") + block("B") + "A\ten\tsyn\t-\tx | xs\n", 7,
               "duplicate product 'A' (its rows start at line 1");
  expect_error(block("A") + "A\ten\tmain\t-\tother | others\n", 4, "second 'main' row");
  expect_error(block("A") + "A\ten\tsyn\t-\tA | other\n", 4, "duplicate form 'A' for 'A' in en");
  expect_error(block("A") + "B\ten\tmain\t-\ta | bs\n", 4, "form 'a' (en) already names 'A' at line 1");
  expect_error(block("A") + "B\ten\tmain\t-\tbox | AS\n", 4, "form 'AS' (en) already names 'A'");
  // The same word in another language is no clash, sg == pl on one row is fine, and a
  // product's own plural may come back with another singular ("hoody | hoodies").
  Result<Catalog> ok = parse_catalog(block("A") + "A\ten\tsyn\t-\taa | as\n" +
                                         "B\ten\tmain\t-\tao | ao\n" +
                                         "B\thr\tmain\tm\tb | b | b | b | b | b | b\nB\tes\tmain\tm\tbo | bos\n",
                                     "t.tsv");
  EXPECT_TRUE(ok.ok()) << ok.message();
}

TEST(ParseTsv, MissingMainRowNamesTheProductLine) {
  std::string a = block("A");
  std::string b = "B\ten\tmain\t-\tbee | bees\nB\tes\tmain\tf\tabeja | abejas\n"
                  "B\thr\tsyn\tf\tp | c | e | l | a | x | y\n";
  expect_error(a + b, 4, "'B' has no 'main' row for hr");
}

// ---- plain-text fallback ----

TEST(ParseTxt, DerivesEnglishFormsAndReusesTheName) {
  std::string text =
      "# my shop\n"
      "Lip Balm\r\n"
      "\n"
      "  Toothbrush  \n"
      "Box\n"
      "Watch\n"
      "Quiz\n"
      "Dish\n"
      "Battery\n"
      "Toy\n"
      "Jeans\n"
      "AA Batteries\n"
      "USB-C Cable\n"
      "Café";
  Result<Catalog> c = parse_catalog(text, "shop.txt");
  ASSERT_TRUE(c.ok()) << c.message();
  std::vector<std::pair<std::string, std::string>> want = {
      {"lip balm", "lip balms"}, {"toothbrush", "toothbrushes"}, {"box", "boxes"},
      {"watch", "watches"},      {"quiz", "quizes"},             {"dish", "dishes"},
      {"battery", "batteries"},  {"toy", "toys"},                {"jeans", "jeans"},
      {"aa batteries", "aa batteries"}, {"usb-c cable", "usb-c cables"}, {"café", "cafés"}};
  ASSERT_EQ(c->products.size(), want.size());
  EXPECT_EQ(c->products[1].name, "Toothbrush");  // trimmed
  for (size_t i = 0; i < want.size(); ++i) {
    const Product& p = c->products[i];
    ASSERT_EQ(p.in(Lang::en).size(), 1u);
    EXPECT_EQ(p.in(Lang::en)[0].kind, FormKind::main);
    EXPECT_EQ(p.in(Lang::en)[0].sg, want[i].first) << p.name;
    EXPECT_EQ(p.in(Lang::en)[0].pl, want[i].second) << p.name;
    for (Lang l : {Lang::hr, Lang::es}) {
      ASSERT_EQ(p.in(l).size(), 1u);
      const SurfaceForm& f = p.in(l)[0];
      EXPECT_EQ(f.kind, FormKind::main);
      EXPECT_EQ(f.gender, Gender::m);
      EXPECT_EQ(f.sg, p.name);
      EXPECT_EQ(f.pl, p.name);
    }
    for (const std::string& s : all_strings(p.in(Lang::hr)[0])) EXPECT_EQ(s, p.name);
  }
}

TEST(ParseTxt, Errors) {
  Result<Catalog> dup = parse_catalog("Pen\nPaper\nPen\n", "shop.txt");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.message(), "shop.txt:3: duplicate product 'Pen'");
  Result<Catalog> bad = parse_catalog("Pen\n\xFF\xFE\n", "shop.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(starts_with(bad.message(), "shop.txt:2: invalid UTF-8")) << bad.message();
  Result<Catalog> long_name = parse_catalog(std::string(80, 'n'), "shop.txt");
  ASSERT_FALSE(long_name.ok());
  EXPECT_TRUE(starts_with(long_name.message(), "shop.txt:1: ")) << long_name.message();
  Result<Catalog> ctrl = parse_catalog("Pen\x7f\n", "shop.txt");
  ASSERT_FALSE(ctrl.ok());
  EXPECT_NE(ctrl.message().find("control character"), std::string::npos) << ctrl.message();
}

TEST(ParseTxt, EmptyInputs) {
  for (const std::string& text : {std::string(), std::string("\n\n  \n"), std::string("# just\n# notes\n"),
                                  std::string("\xEF\xBB\xBF"),
                                  std::string("# a comment\twith a tab\n \t \n")}) {
    Result<Catalog> c = parse_catalog(text, "shop.txt");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.message(), "shop.txt: the catalog has no products");
  }
}

TEST(ParseCatalog, TabOnlyInCommentsMeansText) {
  Result<Catalog> c = parse_catalog("#\tnot a row\nPen\n", "x");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->products[0].in(Lang::en)[0].pl, "pens");
}

// ---- files ----

TEST(LoadCatalog, ReadsFilesAndReportsMissingOnes) {
  std::string dir = "/tmp/cartlm_catalog_test_" + std::to_string(getpid());
  ASSERT_TRUE(ensure_dir(dir).ok());
  std::string tsv = join_path(dir, "c.tsv"), txt = join_path(dir, "c.txt");
  ASSERT_TRUE(write_file_atomic(tsv, block("Mug") + "Mug\ten\tsyn\t-\tcup | cups\n").ok());
  ASSERT_TRUE(write_file_atomic(txt, "Mug\nPen\n").ok());
  Result<Catalog> a = load_catalog(tsv);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->products[0].in(Lang::en).size(), 2u);
  Result<Catalog> b = load_catalog_or_default(txt);
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(b->names(), (std::vector<std::string>{"Mug", "Pen"}));

  ASSERT_TRUE(write_file_atomic(tsv, block("Mug") + "Mug\thr\tsyn\tm\ta | b\n").ok());
  Result<Catalog> broken = load_catalog(tsv);
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(starts_with(broken.message(), tsv + ":4: expected 7 forms")) << broken.message();

  Result<Catalog> missing = load_catalog(join_path(dir, "nope.tsv"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope.tsv"), std::string::npos) << missing.message();
  EXPECT_FALSE(load_catalog_or_default(join_path(dir, "nope.tsv")).ok());
  std::remove(tsv.c_str());
  std::remove(txt.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace cartlm
