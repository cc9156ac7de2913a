// End-to-end tests of `cartlm score`: the built binary (CARTLM_BIN) on small temp files.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli_test_util.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "formats/jsonl.h"

namespace cartlm {
namespace {

class ScoreCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    write("gold.jsonl",
          "{\"id\": \"a\", \"lang\": \"en\", \"text\": \"Can you delet 12 lip balms for me?\", "
          "\"label\": {\"action\": \"remove\", \"product\": \"Lip Balm\", \"quantity\": 12}}\n"
          "{\"id\": \"b\", \"lang\": \"hr\", \"text\": \"Dodaj 2 sapuna\", "
          "\"label\": {\"action\": \"add\", \"product\": \"Soap\", \"quantity\": 2}}\n"
          "{\"id\": \"c\", \"lang\": \"es\", \"text\": \"A\\u00f1ade 3 jabones\", "
          "\"label\": {\"action\": \"add\", \"product\": \"Soap\", \"quantity\": 3}}\n"
          "{\"id\": \"d\", \"lang\": \"es\", \"text\": \"Quita un jab\\u00f3n\", "
          "\"label\": {\"action\": \"remove\", \"product\": \"Soap\", \"quantity\": 1}}\n");
    // a: correct; b: trailing text; c: correct although "parsed" is wrong; d: missing.
    write("pred.jsonl",
          line("a", R"({"action": "remove", "product": "Lip Balm", "quantity": 12})") +
              line("b", "{\"action\": \"add\", \"product\": \"Soap\", \"quantity\": 2}\nThanks!") +
              "{\"id\": \"c\", \"output\": \"{\\\"action\\\": \\\"add\\\", \\\"product\\\": "
              "\\\"Soap\\\", \\\"quantity\\\": 3}\", \"parsed\": null, \"latency_ms\": 4.5}\n");
  }

  static std::string line(const std::string& id, const std::string& output) {
    return dump_json_line(json{{"id", id}, {"output", output}, {"parsed", nullptr}}) + "\n";
  }
  std::string files() const { return "--gold '" + path("gold.jsonl") + "' --pred '" + path("pred.jsonl") + "'"; }
};

TEST_F(ScoreCli, TextReport) {
  RunResult r = run("score " + files());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("exact match"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.5000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(2/4)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing predictions: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trailing text"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1. b [hr]: trailing text"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2. d [es]: missing prediction"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Quita un jab\xc3\xb3n"), std::string::npos) << r.out;

  RunResult limited = run("score " + files() + " --max-failures 1");
  ASSERT_EQ(limited.code, 0) << limited.err;
  EXPECT_NE(limited.out.find("1. b [hr]"), std::string::npos) << limited.out;
  EXPECT_EQ(limited.out.find("2. d [es]"), std::string::npos) << limited.out;
}

TEST_F(ScoreCli, JsonReportAndOutFile) {
  RunResult r = run("score " + files() + " --json --out '" + path("report.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["n"], 4);
  EXPECT_EQ(j["correct"], 2);
  EXPECT_EQ(j["accuracy"], 0.5);
  ASSERT_EQ(j["ci95"].size(), 2u);
  EXPECT_LT(j["ci95"][0].get<double>(), 0.5);
  EXPECT_GT(j["ci95"][1].get<double>(), 0.5);
  EXPECT_EQ(j["missing_predictions"], 1);
  EXPECT_EQ(j["valid"], 2);
  EXPECT_EQ(j["json_objects"], 2);
  EXPECT_EQ(j["by_lang"]["es"]["n"], 2);
  EXPECT_EQ(j["by_lang"]["es"]["correct"], 1);
  EXPECT_EQ(j["by_action"]["add"]["correct"], 1);
  EXPECT_EQ(j["reasons"]["trailing text"], 1);
  EXPECT_EQ(j["reasons"]["missing prediction"], 1);
  ASSERT_EQ(j["failures"].size(), 2u);
  EXPECT_EQ(j["failures"][0]["output"],
            "{\"action\": \"add\", \"product\": \"Soap\", \"quantity\": 2}\nThanks!");
  EXPECT_TRUE(j["failures"][1]["output"].is_null());
  // --out holds the same report.
  Result<std::string> saved = read_file(path("report.json"));
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(json::parse(*saved, nullptr, false), j);
  // --out alone still prints the text report.
  RunResult text = run("score " + files() + " --out '" + path("r2.json") + "'");
  ASSERT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("exact match"), std::string::npos);
  EXPECT_TRUE(file_exists(path("r2.json")));
}

TEST_F(ScoreCli, MalformedPredictionLineIsOneLineError) {
  write("pred.jsonl", line("a", "x") + "{\"id\": \"b\", \"output\": \n" + line("c", "y"));
  RunResult r = run("score " + files());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(starts_with(r.err, "cartlm: error: " + path("pred.jsonl") + ":2: ")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  write("pred.jsonl", line("a", "x") + "{\"id\": \"b\"}\n");
  r = run("score " + files());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(path("pred.jsonl") + ":2: missing field 'output'"), std::string::npos)
      << r.err;

  write("pred.jsonl", line("a", "x") + line("b", "y") + line("a", "z"));
  r = run("score " + files());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(path("pred.jsonl") + ":3: duplicate id \"a\""), std::string::npos) << r.err;
}

TEST_F(ScoreCli, BadGoldAndFlags) {
  RunResult missing_file = run("score --gold '" + path("nope.jsonl") + "' --pred '" +
                               path("pred.jsonl") + "'");
  EXPECT_EQ(missing_file.code, 1);
  EXPECT_TRUE(starts_with(missing_file.err, "cartlm: error: ")) << missing_file.err;
  EXPECT_NE(missing_file.err.find("nope.jsonl"), std::string::npos) << missing_file.err;

  write("gold.jsonl", "{\"id\": \"a\", \"text\": \"t\", \"label\": {\"action\": \"add\"}}\n");
  RunResult bad_gold = run("score " + files());
  EXPECT_EQ(bad_gold.code, 1);
  EXPECT_TRUE(starts_with(bad_gold.err, "cartlm: error: " + path("gold.jsonl") + ":1: "))
      << bad_gold.err;

  RunResult no_pred = run("score --gold '" + path("gold.jsonl") + "'");
  EXPECT_EQ(no_pred.code, 1);
  EXPECT_NE(no_pred.err.find("--pred is required"), std::string::npos) << no_pred.err;
}

TEST_F(ScoreCli, UnknownPredictionIdsWarn) {
  write("pred.jsonl", line("a", R"({"action": "remove", "product": "Lip Balm", "quantity": 12})") +
                          line("zzz", "{}"));
  RunResult r = run("score " + files() + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(starts_with(r.err, "cartlm: warning: 1 prediction(s)")) << r.err;
  EXPECT_NE(r.err.find("\"zzz\""), std::string::npos) << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["extra_prediction_ids"], json::array({"zzz"}));
  EXPECT_EQ(j["correct"], 1);
  EXPECT_EQ(j["missing_predictions"], 3);
}

}  // namespace
}  // namespace cartlm
