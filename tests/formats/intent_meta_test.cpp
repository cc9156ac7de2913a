#include "formats/intent_meta.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/file_io.h"

namespace cartlm {
namespace {

TEST(IntentMeta, RenderPutsTextIntoTheSlot) {
  IntentMeta m;
  m.prompt_template = "A {text} B";
  EXPECT_EQ(render_prompt(m, "hi"), "A hi B");
  EXPECT_EQ(prompt_prefix(m), "A ");
  IntentMeta d;  // the default template
  EXPECT_EQ(render_prompt(d, "add 2 soaps"), "Shopper: add 2 soaps\nCart: ");
}

TEST(IntentMeta, FoldNormalizationLowersCaseAndDropsDiacritics) {
  IntentMeta m;
  EXPECT_EQ(render_prompt(m, "PONME 3 BUFANDAS"), "Shopper: PONME 3 BUFANDAS\nCart: ");
  m.text_normalization = TextNormalization::fold;
  EXPECT_EQ(render_prompt(m, "PONME 3 BUFANDAS"), "Shopper: ponme 3 bufandas\nCart: ");
  EXPECT_EQ(render_prompt(m, "ŽELIM 2 ČAJA, Añade Ñandú"),
            "Shopper: zelim 2 caja, anade nandu\nCart: ");
  // The template itself is not touched, and bytes that are not UTF-8 pass through.
  EXPECT_EQ(prompt_prefix(m), "Shopper: ");
  EXPECT_EQ(normalize_text(TextNormalization::fold, std::string("A\xff", 2)),
            std::string("a\xff", 2));
  EXPECT_EQ(text_normalization_name(TextNormalization::fold), std::string("fold"));
  EXPECT_EQ(*parse_text_normalization("none"), TextNormalization::none);
  EXPECT_NE(parse_text_normalization("lower").message().find("expected none or fold"),
            std::string::npos);
}

TEST(IntentMeta, ValidationNamesTheProblem) {
  IntentMeta m;
  m.prompt_template = "no slot";
  EXPECT_NE(validate_intent_meta(m).message().find("no {text} slot"), std::string::npos);
  m.prompt_template = "{text}{text}";
  EXPECT_NE(validate_intent_meta(m).message().find("more than one"), std::string::npos);
  m.prompt_template = "{text}";
  m.products = {"Soap", "Soap"};
  EXPECT_NE(validate_intent_meta(m).message().find("duplicate"), std::string::npos);
  m.products = {"Soap", "Bad \"name\""};
  EXPECT_NE(validate_intent_meta(m).message().find("products[1]"), std::string::npos);
  m.products = {"Soap", ""};
  EXPECT_NE(validate_intent_meta(m).message().find("empty"), std::string::npos);
  m.products = {"Soap", std::string("\xff", 1)};
  EXPECT_NE(validate_intent_meta(m).message().find("UTF-8"), std::string::npos);
  m.products = {"Soap", "Lip Balm", "Čokolada"};
  EXPECT_TRUE(validate_intent_meta(m).ok());
}

TEST(IntentMeta, JsonRoundTripAndErrors) {
  IntentMeta m;
  m.products = {"Lip Balm", "Soap"};
  auto back = intent_meta_from_json_text(intent_meta_to_json_text(m), "x.json");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(*back, m);
  auto bad = intent_meta_from_json_text("{\"products\": []}", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("x.json: missing key prompt_template"), std::string::npos);
  bad = intent_meta_from_json_text("{\"prompt_template\": \"{text}\", \"products\": [1]}", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("array of strings"), std::string::npos);
  EXPECT_FALSE(intent_meta_from_json_text("[1,", "x.json").ok());
  // text_normalization: round trip, absent means none, bad values are named.
  m.text_normalization = TextNormalization::fold;
  back = intent_meta_from_json_text(intent_meta_to_json_text(m), "x.json");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->text_normalization, TextNormalization::fold);
  back = intent_meta_from_json_text("{\"prompt_template\": \"{text}\"}", "x.json");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->text_normalization, TextNormalization::none);
  bad = intent_meta_from_json_text(
      "{\"prompt_template\": \"{text}\", \"text_normalization\": \"upper\"}", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("x.json: text_normalization"), std::string::npos);
}

TEST(IntentMeta, SaveAndLoadDirectory) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / "cartlm_intent_meta_test").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  EXPECT_FALSE(has_intent_meta(dir));
  IntentMeta m;
  m.prompt_template = "Q: {text}\nA: ";
  m.products = {"Soap"};
  ASSERT_TRUE(save_intent_meta(dir, m).ok());
  EXPECT_TRUE(has_intent_meta(dir));
  auto back = load_intent_meta(dir);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(*back, m);
  m.prompt_template = "broken";
  EXPECT_FALSE(save_intent_meta(dir, m).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cartlm
