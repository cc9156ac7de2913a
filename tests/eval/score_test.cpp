// Tests of the exact-match rule (check_output/judge), the Wilson interval, score() breakdowns, the
// predictions file and the two report formats.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/file_io.h"
#include "core/rng.h"
#include "core/strings.h"
#include "eval/score.h"

namespace cartlm {
namespace {

const Label kGold{"remove", "Lip Balm", 12};
const char* kRight = R"({"action": "remove", "product": "Lip Balm", "quantity": 12})";

// The reason an output fails against kGold ("" when it is correct).
std::string reason_of(std::string_view raw) { return judge(check_output(raw), kGold).reason; }

TEST(CheckOutput, ExactMatch) {
  OutputCheck c = check_output(kRight);
  EXPECT_TRUE(c.valid_json);
  EXPECT_TRUE(c.schema_ok);
  ASSERT_TRUE(c.parsed.has_value());
  EXPECT_EQ(*c.parsed, kGold);
  EXPECT_EQ(c.reason, "");
  Verdict v = judge(c, kGold);
  EXPECT_TRUE(v.correct);
  EXPECT_TRUE(v.action_ok && v.product_ok && v.quantity_ok);
  EXPECT_TRUE(exact_match(kRight, kGold));
  // Key order and spacing are free; escapes compare by the decoded string.
  EXPECT_TRUE(exact_match(R"({"quantity":12,"product":"Lip Balm","action":"remove"})", kGold));
  EXPECT_TRUE(exact_match(R"({"action": "remove", "product": "Lip \u0042alm", "quantity": 12})",
                          kGold));
  EXPECT_TRUE(exact_match("{\"action\":\"dodaj\",\"product\":\"Balzam \xc5\xbe\",\"quantity\":1}",
                          Label{"dodaj", "Balzam \xc5\xbe", 1}));
}

TEST(CheckOutput, SurroundingWhitespaceIsAllowed) {
  EXPECT_EQ(reason_of(std::string(" \n\t\r") + kRight + "\n\n  \t"), "");
  // Only JSON whitespace: a form feed or a no-break space is other text.
  EXPECT_EQ(reason_of(std::string(kRight) + "\f"), "trailing text");
  EXPECT_EQ(reason_of(std::string("\xc2\xa0") + kRight), "leading text");
  // nlohmann skips a byte-order mark; here it is text before the object.
  EXPECT_EQ(reason_of(std::string("\xef\xbb\xbf") + kRight), "leading text");
}

TEST(CheckOutput, TrailingText) {
  for (const char* tail : {" Done.", "\n```", "}", " // comment", ",", " 12"}) {
    OutputCheck c = check_output(std::string(kRight) + tail);
    EXPECT_FALSE(c.valid_json) << tail;
    EXPECT_FALSE(c.schema_ok) << tail;
    EXPECT_FALSE(c.parsed.has_value()) << tail;
    EXPECT_EQ(c.reason, "trailing text") << tail;
  }
  // A NUL byte is text too (the parser must not stop at it as at the end of a C string).
  EXPECT_EQ(reason_of(std::string(kRight) + std::string(1, '\0')), "trailing text");
  EXPECT_EQ(reason_of(std::string(kRight) + std::string(1, '\0') + "junk"), "trailing text");
  EXPECT_EQ(reason_of(std::string(1, '\0') + kRight), "leading text");
  EXPECT_EQ(reason_of(std::string(1, '\0')), "invalid JSON");
}

TEST(CheckOutput, LeadingText) {
  EXPECT_EQ(reason_of(std::string("Sure! ") + kRight), "leading text");
  EXPECT_EQ(reason_of(std::string("```json\n") + kRight + "\n```"), "leading text");
  EXPECT_EQ(reason_of(std::string("\"answer\": ") + kRight), "leading text");
  EXPECT_EQ(reason_of(std::string("[1] ") + kRight), "leading text");
  EXPECT_FALSE(check_output(std::string("Sure! ") + kRight).valid_json);
}

TEST(CheckOutput, TwoObjects) {
  EXPECT_EQ(reason_of(std::string(kRight) + kRight), "trailing text");
  EXPECT_EQ(reason_of(std::string(kRight) + "\n" + kRight), "trailing text");
  EXPECT_FALSE(check_output(std::string(kRight) + kRight).valid_json);
}

TEST(CheckOutput, ExtraKey) {
  OutputCheck c =
      check_output(R"({"action": "remove", "product": "Lip Balm", "quantity": 12, "note": "x"})");
  EXPECT_TRUE(c.valid_json);
  EXPECT_FALSE(c.schema_ok);
  EXPECT_FALSE(c.parsed.has_value());
  EXPECT_EQ(c.reason, "extra key \"note\"");
  // A long key is cut so reasons stay short.
  std::string long_key(100, 'k');
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": 12, ")" +
                      long_key + "\": 1}"),
            "extra key \"" + std::string(40, 'k') + "...\"");
}

TEST(CheckOutput, MissingKey) {
  OutputCheck c = check_output(R"({"action": "remove", "product": "Lip Balm"})");
  EXPECT_TRUE(c.valid_json);
  EXPECT_FALSE(c.schema_ok);
  EXPECT_EQ(c.reason, "missing key quantity");
  EXPECT_EQ(reason_of(R"({"product": "Lip Balm", "quantity": 12})"), "missing key action");
  EXPECT_EQ(reason_of("{}"), "missing key action");
  // Keys are case-sensitive.
  EXPECT_EQ(reason_of(R"({"Action": "remove", "product": "Lip Balm", "quantity": 12})"),
            "missing key action");
}

TEST(CheckOutput, DuplicatedKeySameValue) {
  OutputCheck c = check_output(
      R"({"action": "remove", "action": "remove", "product": "Lip Balm", "quantity": 12})");
  EXPECT_TRUE(c.valid_json);
  EXPECT_FALSE(c.schema_ok);
  EXPECT_EQ(c.reason, "duplicate key action");
}

TEST(CheckOutput, DuplicatedKeyDifferentValue) {
  // The last value equals gold, so a plain DOM parse (which keeps the last duplicate) would call
  // this correct.
  const char* raw = R"({"action": "add", "product": "Lip Balm", "quantity": 12, "action": "remove"})";
  json dom = json::parse(raw, nullptr, false);
  ASSERT_FALSE(dom.is_discarded());
  ASSERT_EQ(dom["action"], "remove");
  EXPECT_FALSE(exact_match(raw, kGold));
  EXPECT_EQ(reason_of(raw), "duplicate key action");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": 1, "quantity": 12})"),
            "duplicate key quantity");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": 12, "x": 1, "x": 2})"),
            "duplicate key \"x\"");
  // A repeated key inside a nested value is not a top-level duplicate; the nested value is simply
  // the wrong type.
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": {"a": 1, "a": 2}, "quantity": 12})"),
            "wrong type for product");
}

TEST(CheckOutput, QuantityMustBeAnInteger) {
  for (const char* q : {"12.0", "\"12\"", "12.5", "1.2e1", "1E1", "null", "true", "[12]", "{}"}) {
    std::string raw = std::string(R"({"action": "remove", "product": "Lip Balm", "quantity": )") +
                      q + "}";
    OutputCheck c = check_output(raw);
    EXPECT_TRUE(c.valid_json) << q;
    EXPECT_FALSE(c.schema_ok) << q;
    EXPECT_EQ(c.reason, "wrong type for quantity") << q;
  }
}

TEST(CheckOutput, NegativeAndHugeQuantities) {
  // A negative integer has the right type; it is simply the wrong value.
  OutputCheck neg =
      check_output(R"({"action": "remove", "product": "Lip Balm", "quantity": -12})");
  EXPECT_TRUE(neg.schema_ok);
  ASSERT_TRUE(neg.parsed.has_value());
  EXPECT_EQ(neg.parsed->quantity, -12);
  EXPECT_EQ(judge(neg, kGold).reason, "wrong quantity");
  EXPECT_TRUE(judge(neg, kGold).action_ok);
  EXPECT_FALSE(judge(neg, kGold).quantity_ok);
  EXPECT_TRUE(exact_match(R"({"action": "remove", "product": "Lip Balm", "quantity": -0})",
                          Label{"remove", "Lip Balm", 0}));
  for (const char* q : {"3000000000", "-3000000000", "99999999999999999999",
                        "-99999999999999999999"}) {
    std::string raw = std::string(R"({"action": "remove", "product": "Lip Balm", "quantity": )") +
                      q + "}";
    EXPECT_EQ(reason_of(raw), "quantity out of range") << q;
    EXPECT_FALSE(check_output(raw).schema_ok) << q;
  }
  EXPECT_TRUE(check_output(R"({"action": "add", "product": "x", "quantity": 2147483647})").schema_ok);
}

TEST(CheckOutput, ProductCaseDiffers) {
  OutputCheck c = check_output(R"({"action": "remove", "product": "lip balm", "quantity": 12})");
  EXPECT_TRUE(c.schema_ok);
  Verdict v = judge(c, kGold);
  EXPECT_FALSE(v.correct);
  EXPECT_TRUE(v.action_ok);
  EXPECT_FALSE(v.product_ok);
  EXPECT_TRUE(v.quantity_ok);
  EXPECT_EQ(v.reason, "wrong product");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm ", "quantity": 12})"),
            "wrong product");
}

TEST(CheckOutput, ActionWrong) {
  EXPECT_EQ(reason_of(R"({"action": "add", "product": "Lip Balm", "quantity": 12})"),
            "wrong action");
  EXPECT_EQ(reason_of(R"({"action": "Remove", "product": "Lip Balm", "quantity": 12})"),
            "wrong action");
  EXPECT_EQ(reason_of(R"({"action": "add", "product": "Lip Balm", "quantity": 3})"),
            "wrong action, quantity");
  EXPECT_EQ(reason_of(R"({"action": 1, "product": "Lip Balm", "quantity": 12})"),
            "wrong type for action");
}

TEST(CheckOutput, NestedJunk) {
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": {"name": "Lip Balm"}, "quantity": 12})"),
            "wrong type for product");
  EXPECT_EQ(reason_of(R"({"action": ["remove"], "product": "Lip Balm", "quantity": 12})"),
            "wrong type for action");
  EXPECT_EQ(reason_of(R"({"intent": {"action": "remove", "product": "Lip Balm", "quantity": 12}})"),
            "missing key action");
  // Very deep nesting must neither crash nor overflow the stack.
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(reason_of(deep), "not a JSON object");
  std::string deep_obj = "{\"action\": " + std::string(200000, '[') + std::string(200000, ']') +
                         ", \"product\": \"Lip Balm\", \"quantity\": 12}";
  EXPECT_EQ(reason_of(deep_obj), "wrong type for action");
  EXPECT_EQ(reason_of(std::string(100000, '{')), "invalid JSON");
  EXPECT_EQ(reason_of(std::string(100000, '[')), "invalid JSON");
}

TEST(CheckOutput, EmptyOutput) {
  for (const char* raw : {"", " ", "\n\n", "\t\r\n "}) {
    OutputCheck c = check_output(raw);
    EXPECT_FALSE(c.valid_json);
    EXPECT_FALSE(c.schema_ok);
    EXPECT_EQ(c.reason, "empty output");
  }
}

TEST(CheckOutput, InvalidUtf8) {
  for (std::string bad : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"}) {
    std::string raw = R"({"action": "remove", "product": "Lip Balm)" + bad + R"(", "quantity": 12})";
    OutputCheck c = check_output(raw);
    EXPECT_FALSE(c.valid_json);
    EXPECT_FALSE(c.schema_ok);
    EXPECT_EQ(c.reason, "invalid UTF-8");
    EXPECT_EQ(reason_of(std::string(kRight) + bad), "invalid UTF-8");
  }
  // A lone surrogate written as an escape is not valid JSON text either.
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip \ud800", "quantity": 12})"),
            "invalid JSON");
}

TEST(CheckOutput, NotAnObject) {
  EXPECT_EQ(reason_of(std::string("[") + kRight + "]"), "not a JSON object");
  EXPECT_EQ(reason_of("\"remove Lip Balm 12\""), "not a JSON object");
  EXPECT_EQ(reason_of("12"), "not a JSON object");
  EXPECT_EQ(reason_of("null"), "not a JSON object");
  EXPECT_FALSE(check_output("[]").valid_json);
}

TEST(CheckOutput, InvalidAndTruncatedJson) {
  EXPECT_EQ(reason_of(R"({action: "remove", product: "Lip Balm", quantity: 12})"), "invalid JSON");
  EXPECT_EQ(reason_of(R"({'action': 'remove', 'product': 'Lip Balm', 'quantity': 12})"),
            "invalid JSON");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": NaN})"),
            "invalid JSON");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": 12,})"),
            "invalid JSON");
  EXPECT_EQ(reason_of("remove Lip Balm 12"), "invalid JSON");
  // Cut off by a token limit: the parse fails at the very end.
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip)"), "truncated JSON");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": 12)"),
            "truncated JSON");
  EXPECT_EQ(reason_of(R"({"action": "remove", "product": "Lip Balm", "quantity": 12 )"),
            "truncated JSON");
  EXPECT_EQ(reason_of("{"), "truncated JSON");
}

// Random edits of correct outputs (byte flips, insertions, deletions, cuts, duplicated spans):
// whatever check_output says must agree with nlohmann's DOM parser where the two can be compared.
TEST(CheckOutput, RandomEditsAgreeWithDomParser) {
  const std::vector<std::string> seeds = {
      kRight, R"({"action":"add","product":"Balzam za usne","quantity":3})",
      "{\"action\": \"remove\", \"product\": \"Jab\xc3\xb3n\", \"quantity\": 100}"};
  const char alphabet[] = "{}[]\":,. \n0123456789-eE+tfnul\\\x01\xc3\xa9\xff";
  Rng rng(20240611);
  size_t schema_ok = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string raw = rng.pick(seeds);
    int edits = (int)rng.range(1, 3);
    for (int e = 0; e < edits && !raw.empty(); ++e) {
      size_t pos = rng.uniform(raw.size());
      switch (rng.uniform(5)) {
        case 0: raw[pos] = alphabet[rng.uniform(sizeof(alphabet) - 1)]; break;
        case 1: raw.insert(raw.begin() + pos, alphabet[rng.uniform(sizeof(alphabet) - 1)]); break;
        case 2: raw.erase(pos, 1); break;
        case 3: raw.resize(pos); break;
        default: raw.insert(pos, raw.substr(pos, rng.uniform(12))); break;
      }
    }
    OutputCheck c = check_output(raw);
    EXPECT_EQ(c.schema_ok, c.parsed.has_value()) << raw;
    EXPECT_EQ(c.schema_ok, c.reason.empty()) << raw;
    if (c.schema_ok) {
      EXPECT_TRUE(c.valid_json) << raw;
    }
    json dom = json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (dom.is_discarded() || !dom.is_object()) {
      EXPECT_FALSE(c.valid_json) << raw;
      ++rejected;
    }
    if (c.valid_json) {
      ASSERT_TRUE(dom.is_object()) << raw;
    }
    if (c.schema_ok) {
      ++schema_ok;
      ASSERT_EQ(dom.size(), 3u) << raw;
      EXPECT_EQ(dom["action"], c.parsed->action) << raw;
      EXPECT_EQ(dom["product"], c.parsed->product) << raw;
      EXPECT_TRUE(dom["quantity"].is_number_integer()) << raw;
      EXPECT_EQ(dom["quantity"].get<long long>(), c.parsed->quantity) << raw;
    }
  }
  // The edits must exercise both sides.
  EXPECT_GT(schema_ok, 500u);
  EXPECT_GT(rejected, 5000u);
}

// --- Wilson interval -------------------------------------------------------------------------

TEST(Wilson, KnownValues) {
  struct Case {
    size_t k, n;
    double lo, hi;
  };
  // Reference values from the closed form (z = 1.959964), rounded to 4 places.
  for (const Case& c : {Case{99, 100, 0.9455, 0.9982}, Case{50, 100, 0.4038, 0.5962},
                        Case{0, 10, 0.0, 0.2775}, Case{10, 10, 0.7225, 1.0},
                        Case{1, 1, 0.2065, 1.0}, Case{89, 100, 0.8137, 0.9375}}) {
    Interval ci = wilson_interval(c.k, c.n);
    EXPECT_NEAR(ci.lo, c.lo, 6e-5) << c.k << "/" << c.n;
    EXPECT_NEAR(ci.hi, c.hi, 6e-5) << c.k << "/" << c.n;
  }
  Interval empty = wilson_interval(0, 0);
  EXPECT_EQ(empty.lo, 0.0);
  EXPECT_EQ(empty.hi, 1.0);
  EXPECT_EQ(wilson_interval(0, 7).lo, 0.0);
  EXPECT_EQ(wilson_interval(7, 7).hi, 1.0);
}

TEST(Wilson, ContainsTheEstimateAndShrinksWithN) {
  for (size_t n = 1; n <= 60; ++n) {
    for (size_t k = 0; k <= n; ++k) {
      Interval ci = wilson_interval(k, n);
      double p = (double)k / (double)n;
      EXPECT_LE(ci.lo, p + 1e-12);
      EXPECT_GE(ci.hi, p - 1e-12);
      EXPECT_GE(ci.lo, 0.0);
      EXPECT_LE(ci.hi, 1.0);
    }
    Interval a = wilson_interval(n, 2 * n), b = wilson_interval(2 * n, 4 * n);
    EXPECT_LT(b.hi - b.lo, a.hi - a.lo);
  }
}

// --- score() -----------------------------------------------------------------------------------

Example ex(std::string id, std::string lang, std::string action, std::string product, int q) {
  Example e;
  e.id = std::move(id);
  e.lang = std::move(lang);
  e.text = "text of " + e.id;
  e.label = Label{std::move(action), std::move(product), q};
  return e;
}

Prediction pred(std::string id, std::string output) {
  Prediction p;
  p.id = std::move(id);
  p.output = std::move(output);
  return p;
}

std::vector<Example> six_gold() {
  return {ex("e1", "en", "add", "Lip Balm", 1),   ex("e2", "en", "remove", "Soap", 2),
          ex("h1", "hr", "add", "Soap", 3),       ex("h2", "hr", "remove", "Lip Balm", 4),
          ex("s1", "es", "add", "Lip Balm", 5),   ex("s2", "es", "remove", "Soap", 6)};
}

const Tally* find(const std::vector<std::pair<std::string, Tally>>& v, const std::string& k) {
  for (const auto& kv : v)
    if (kv.first == k) return &kv.second;
  return nullptr;
}

TEST(Score, BreakdownsByLanguageActionAndField) {
  std::vector<Prediction> preds = {
      pred("e1", R"({"action": "add", "product": "Lip Balm", "quantity": 1})"),        // ok
      pred("e2", R"({"action": "remove", "product": "soap", "quantity": 2})"),         // product
      pred("h1", R"({"action": "add", "product": "Soap", "quantity": 3})"),            // ok
      pred("h2", R"({"action": "remove", "product": "Lip Balm", "quantity": "4"})"),   // type
      pred("s1", R"(Sure: {"action": "add", "product": "Lip Balm", "quantity": 5})"),  // leading
      // s2 missing; x9 not in gold
      pred("x9", R"({"action": "add", "product": "Soap", "quantity": 1})"),
  };
  Result<ScoreReport> res = score(six_gold(), preds);
  ASSERT_TRUE(res.ok()) << res.message();
  const ScoreReport& r = *res;
  EXPECT_EQ(r.overall.total, 6u);
  EXPECT_EQ(r.overall.correct, 2u);
  EXPECT_EQ(r.valid, 3u);         // e1, e2, h1
  EXPECT_EQ(r.json_objects, 4u);  // + h2
  EXPECT_EQ(r.missing, 1u);
  EXPECT_EQ(r.extra_ids, std::vector<std::string>{"x9"});

  ASSERT_EQ(r.by_lang.size(), 3u);
  EXPECT_EQ(r.by_lang[0].first, "en");
  EXPECT_EQ(r.by_lang[1].first, "hr");
  EXPECT_EQ(r.by_lang[2].first, "es");
  EXPECT_EQ(find(r.by_lang, "en")->correct, 1u);
  EXPECT_EQ(find(r.by_lang, "en")->total, 2u);
  EXPECT_EQ(find(r.by_lang, "hr")->correct, 1u);
  EXPECT_EQ(find(r.by_lang, "es")->correct, 0u);
  EXPECT_EQ(find(r.by_lang, "es")->total, 2u);
  ASSERT_EQ(r.by_action.size(), 2u);
  EXPECT_EQ(r.by_action[0].first, "add");
  EXPECT_EQ(find(r.by_action, "add")->total, 3u);
  EXPECT_EQ(find(r.by_action, "add")->correct, 2u);
  EXPECT_EQ(find(r.by_action, "remove")->total, 3u);
  EXPECT_EQ(find(r.by_action, "remove")->correct, 0u);

  ASSERT_EQ(r.field_correct.size(), 3u);
  EXPECT_EQ(r.field_correct[0], (std::pair<std::string, size_t>{"action", 3}));
  EXPECT_EQ(r.field_correct[1], (std::pair<std::string, size_t>{"product", 2}));
  EXPECT_EQ(r.field_correct[2], (std::pair<std::string, size_t>{"quantity", 3}));

  ASSERT_EQ(r.failures.size(), 4u);
  EXPECT_EQ(r.failures[0].id, "e2");
  EXPECT_EQ(r.failures[0].reason, "wrong product");
  EXPECT_EQ(r.failures[1].reason, "wrong type for quantity");
  EXPECT_EQ(r.failures[2].reason, "leading text");
  EXPECT_EQ(r.failures[3].id, "s2");
  EXPECT_EQ(r.failures[3].reason, "missing prediction");
  EXPECT_FALSE(r.failures[3].output.has_value());
  EXPECT_EQ(r.failures[3].lang, "es");
  EXPECT_EQ(r.failures[3].gold, (Label{"remove", "Soap", 6}));
  EXPECT_EQ(r.reasons.size(), 4u);
}

TEST(Score, ReasonsSortedByCount) {
  std::vector<Example> gold = six_gold();
  std::vector<Prediction> preds = {pred("e1", "nope"), pred("e2", "nope"), pred("h1", "")};
  Result<ScoreReport> r = score(gold, preds);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->reasons.size(), 3u);
  EXPECT_EQ(r->reasons[0], (std::pair<std::string, size_t>{"missing prediction", 3}));
  EXPECT_EQ(r->reasons[1], (std::pair<std::string, size_t>{"invalid JSON", 2}));
  EXPECT_EQ(r->reasons[2], (std::pair<std::string, size_t>{"empty output", 1}));
  EXPECT_EQ(r->overall.correct, 0u);
  EXPECT_EQ(r->missing, 3u);
}

TEST(Score, MissingPredictionsCountAsFailures) {
  Result<ScoreReport> r = score(six_gold(), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->overall.total, 6u);
  EXPECT_EQ(r->overall.correct, 0u);
  EXPECT_EQ(r->missing, 6u);
  EXPECT_EQ(r->failures.size(), 6u);
  for (const Failure& f : r->failures) EXPECT_EQ(f.reason, "missing prediction");
}

TEST(Score, BadInputIsAnError) {
  EXPECT_FALSE(score({}, {}).ok());
  std::vector<Example> dup = six_gold();
  dup[3].id = "e1";
  Result<ScoreReport> a = score(dup, {});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.message().find("duplicate gold id \"e1\""), std::string::npos) << a.message();
  Result<ScoreReport> b = score(six_gold(), {pred("h1", kRight), pred("h1", kRight)});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.message().find("duplicate prediction id \"h1\""), std::string::npos) << b.message();
  std::vector<Example> no_id = six_gold();
  no_id[0].id = "";
  EXPECT_FALSE(score(no_id, {}).ok());
}

// --- files and reports -------------------------------------------------------------------------

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cartlm_score_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
  }
  std::string dir_;
};

using PredictionsFile = TempDir;

TEST_F(PredictionsFile, RoundTrip) {
  std::vector<Prediction> preds = {pred("a", kRight), pred("b", "Sure!\n{\"x\": 1}"),
                                   pred("c", "ni\xc5\xa1ta")};
  preds[0].latency_ms = 12.5;
  ASSERT_TRUE(write_predictions(path("p.jsonl"), preds).ok());
  Result<std::vector<json>> lines = read_jsonl(path("p.jsonl"));
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0]["parsed"], label_to_json(kGold));
  EXPECT_EQ((*lines)[0]["latency_ms"], 12.5);
  EXPECT_TRUE((*lines)[1]["parsed"].is_null());
  EXPECT_TRUE((*lines)[1]["latency_ms"].is_null());
  Result<std::string> text = read_file(path("p.jsonl"));
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(starts_with(*text, R"({"id":"a","output":)")) << *text;

  Result<std::vector<Prediction>> back = read_predictions(path("p.jsonl"));
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*back)[i].id, preds[i].id);
    EXPECT_EQ((*back)[i].output, preds[i].output);
    EXPECT_EQ((*back)[i].latency_ms, preds[i].latency_ms);
  }
}

TEST_F(PredictionsFile, IgnoresParsedAndAcceptsIntegerIds) {
  // "parsed" claims a label the output does not contain; scoring must use the output.
  write("p.jsonl", "{\"id\": 7, \"output\": \"garbage\", \"parsed\": "
                   "{\"action\": \"remove\", \"product\": \"Lip Balm\", \"quantity\": 12}}\n\n");
  Result<std::vector<Prediction>> p = read_predictions(path("p.jsonl"));
  ASSERT_TRUE(p.ok()) << p.message();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].id, "7");
  std::vector<Example> gold = {ex("7", "en", "remove", "Lip Balm", 12)};
  Result<ScoreReport> r = score(gold, *p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->overall.correct, 0u);
  EXPECT_EQ(r->failures[0].reason, "invalid JSON");
}

TEST_F(PredictionsFile, MalformedLinesNameFileAndLine) {
  struct Case {
    std::string second_line, expect;
  };
  for (const Case& c : {Case{"{\"id\": \"b\"}", "missing field 'output'"},
                        Case{"{\"id\": \"b\", \"output\": 5}", "field 'output' must be a string"},
                        Case{"{\"output\": \"x\"}", "missing field 'id'"},
                        Case{"{\"id\": \"\", \"output\": \"x\"}", "field 'id' is empty"},
                        Case{"{\"id\": \"b\", \"output\": \"x\", \"latency_ms\": \"3\"}",
                             "latency_ms"},
                        Case{"{\"id\": \"b\", \"output\": ", "not valid JSON"},
                        Case{"[1, 2]", "expected a JSON object"},
                        Case{"{\"id\": \"a\", \"output\": \"x\"}",
                             "duplicate id \"a\" (first on line 1)"}}) {
    write("p.jsonl", "{\"id\": \"a\", \"output\": \"x\"}\n" + c.second_line + "\n");
    Result<std::vector<Prediction>> p = read_predictions(path("p.jsonl"));
    ASSERT_FALSE(p.ok()) << c.second_line;
    EXPECT_TRUE(starts_with(p.message(), path("p.jsonl") + ":2: ")) << p.message();
    EXPECT_NE(p.message().find(c.expect), std::string::npos) << p.message();
    EXPECT_EQ(p.message().find('\n'), std::string::npos) << p.message();
  }
  Result<std::vector<Prediction>> none = read_predictions(path("does-not-exist.jsonl"));
  EXPECT_FALSE(none.ok());
}

TEST_F(PredictionsFile, GoldIdsMustBeUnique) {
  std::string line = example_to_json_line(ex("a", "en", "add", "Soap", 1));
  write("g.jsonl", line + "\n" + example_to_json_line(ex("b", "en", "add", "Soap", 1)) + "\n" +
                       line + "\n");
  Result<std::vector<Example>> g = read_gold(path("g.jsonl"));
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(starts_with(g.message(), path("g.jsonl") + ":3: duplicate id \"a\" (first on line 1)"))
      << g.message();
  write("empty.jsonl", "\n");
  EXPECT_FALSE(read_gold(path("empty.jsonl")).ok());
  write("g2.jsonl", line + "\n");
  Result<std::vector<Example>> ok = read_gold(path("g2.jsonl"));
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->size(), 1u);
}

ScoreReport sample_report() {
  std::vector<Prediction> preds = {
      pred("e1", R"({"action": "add", "product": "Lip Balm", "quantity": 1})"),
      pred("e2", "{\"action\": \"remove\",\n\"product\": \"Soap\", \"quantity\": 2} ok\xff"),
      pred("h1", R"({"action": "add", "product": "Soap", "quantity": 3})"),
      pred("h2", R"({"action": "add", "product": "Lip Balm", "quantity": 4})"),
      pred("s1", R"({"action": "add", "product": "Lip Balm", "quantity": 5})"),
      pred("s2", R"({"action": "remove", "product": "Soap", "quantity": 6})")};
  Result<ScoreReport> r = score(six_gold(), preds);
  CARTLM_CHECK(r.ok());
  return *r;
}

TEST(Report, JsonKeysAndValues) {
  ScoreReport r = sample_report();
  json j = report_to_json(r);
  EXPECT_EQ(j["n"], 6);
  EXPECT_EQ(j["correct"], 4);
  EXPECT_NEAR(j["accuracy"].get<double>(), 4.0 / 6.0, 1e-12);
  Interval ci = wilson_interval(4, 6);
  EXPECT_EQ(j["ci95"], json::array({ci.lo, ci.hi}));
  EXPECT_EQ(j["valid"], 5);
  EXPECT_EQ(j["json_objects"], 5);
  EXPECT_NEAR(j["valid_rate"].get<double>(), 5.0 / 6.0, 1e-12);
  EXPECT_EQ(j["missing_predictions"], 0);
  EXPECT_EQ(j["extra_prediction_ids"], json::array());
  EXPECT_EQ(j["by_lang"]["hr"]["n"], 2);
  EXPECT_EQ(j["by_lang"]["hr"]["correct"], 1);
  EXPECT_EQ(j["by_lang"]["es"]["correct"], 2);
  EXPECT_EQ(j["by_action"]["remove"]["n"], 3);
  EXPECT_EQ(j["by_action"]["remove"]["correct"], 1);
  EXPECT_EQ(j["fields"]["action"]["correct"], 4);
  EXPECT_NEAR(j["fields"]["action"]["accuracy_valid"].get<double>(), 4.0 / 5.0, 1e-12);
  EXPECT_NEAR(j["fields"]["product"]["accuracy"].get<double>(), 5.0 / 6.0, 1e-12);
  EXPECT_EQ(j["reasons"]["wrong action"], 1);
  EXPECT_EQ(j["reasons"]["invalid UTF-8"], 1);
  ASSERT_EQ(j["failures"].size(), 2u);
  EXPECT_EQ(j["failures"][0]["id"], "e2");
  EXPECT_EQ(j["failures"][0]["gold"], label_to_json(Label{"remove", "Soap", 2}));
  EXPECT_EQ(j["failures"][1]["reason"], "wrong action");
  // The invalid byte in an output must not make dumping throw.
  std::string dumped = j.dump(2, ' ', false, json::error_handler_t::replace);
  EXPECT_NE(dumped.find("\"failures\""), std::string::npos);
  // A missing prediction shows as output null.
  Result<ScoreReport> missing = score(six_gold(), {});
  ASSERT_TRUE(missing.ok());
  json jm = report_to_json(*missing);
  EXPECT_TRUE(jm["failures"][0]["output"].is_null());
  EXPECT_TRUE(jm["fields"]["action"]["accuracy_valid"].is_null());  // no valid outputs
}

TEST(Report, TextIsAlignedAndLimitsFailures) {
  ScoreReport r = sample_report();
  std::string text = format_report_text(r, 1);
  EXPECT_NE(text.find("exact match"), std::string::npos);
  EXPECT_NE(text.find("0.6667"), std::string::npos);
  EXPECT_NE(text.find("(4/6)"), std::string::npos);
  // The language table: a header and one line per language, all of the same width.
  std::vector<std::string> lines = split(text, '\n');
  size_t header = 0;
  while (header < lines.size() && !starts_with(lines[header], "language")) ++header;
  ASSERT_LT(header + 3, lines.size()) << text;
  size_t ci_col = lines[header].find("95% CI");
  size_t acc_end = lines[header].find("accuracy") + 8;
  ASSERT_NE(ci_col, std::string::npos);
  for (size_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(lines[header + i].find('['), ci_col) << text;  // CI column left-aligned
    EXPECT_EQ(lines[header + i].find_last_of("0123456789", ci_col - 1) + 1, acc_end) << text;
    EXPECT_EQ(lines[header + i].size(), lines[header + 1].size()) << text;
  }
  EXPECT_TRUE(starts_with(lines[header + 1], "en ")) << text;
  EXPECT_NE(lines[header + 1].find("0.5000"), std::string::npos) << text;
  EXPECT_NE(lines[header + 3].find("1.0000"), std::string::npos) << text;
  // Only one failure listed; the output's newline and invalid byte are escaped.
  EXPECT_NE(text.find("failures (1 of 2 shown"), std::string::npos) << text;
  EXPECT_NE(text.find("1. e2 [en]: invalid UTF-8"), std::string::npos) << text;
  EXPECT_NE(text.find("\"remove\",\\n\"product\""), std::string::npos) << text;
  EXPECT_NE(text.find("ok\\xff"), std::string::npos) << text;
  EXPECT_EQ(text.find("2. "), std::string::npos) << text;
  std::string all = format_report_text(r, 100);
  EXPECT_NE(all.find("2. h2 [hr]: wrong action"), std::string::npos) << all;
  EXPECT_EQ(format_report_text(r, 0).find("1. "), std::string::npos);
}

}  // namespace
}  // namespace cartlm
