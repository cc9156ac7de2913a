// The server over the real recognizer on a random-weight tiny model: every answer is
// schema-valid (constrained decoding), concurrent requests on several workers, and batched into
// shared forward passes, get exactly the answer a lone request gets, stop() with a batched request
// in flight still answers all of its texts, and input the recognizer refuses is a 400, not a crash.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "data/catalog.h"
#include "decode/random_intent_model.h"
#include "model/init.h"
#include "serve/backend.h"
#include "serve/server.h"

namespace cartlm::serve {
namespace {

using json = nlohmann::json;

class RecognizerServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = make_random_intent_model("serve_test", 7);
    ASSERT_TRUE(m.ok()) << m.message();
    fx_ = m->release();
    auto r = recognizer_create(*fx_->model, {});
    ASSERT_TRUE(r.ok()) << r.message();
    rec_ = r->release();
  }
  static void TearDownTestSuite() {
    delete rec_;
    delete fx_;
  }

  void start(int workers, size_t max_batch = 1) {
    ServeOptions opt;
    opt.port = 0;
    server_ = std::make_unique<Server>(opt);
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { (void)server_->run(); });
    RecognizerBackendOptions bo;
    bo.workers = workers;
    bo.max_batch = max_batch;
    ASSERT_TRUE(server_->attach(recognizer_backend(*rec_, "tiny", bo)).ok());
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  static std::vector<std::string> texts() {
    std::vector<std::string> t;
    const char* forms[] = {"Can you delet %d lip balms for me?", "Dodaj %d jabuke u košaricu",
                           "Quita %d cepillos de dientes", "please add %d bananas"};
    for (int i = 0; i < 24; ++i) {
      char buf[96];
      std::snprintf(buf, sizeof buf, forms[i % 4], i + 1);
      t.push_back(buf);
    }
    return t;
  }

  static RandomIntentModel* fx_;
  static Recognizer* rec_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

RandomIntentModel* RecognizerServerTest::fx_ = nullptr;
Recognizer* RecognizerServerTest::rec_ = nullptr;

// Reference: each text alone, in a fresh session.
std::vector<Label> lone_labels(const Recognizer& rec, const std::vector<std::string>& ts) {
  std::vector<Label> expected;
  for (const std::string& t : ts) {
    auto s = recognizer_session(rec);
    EXPECT_TRUE(s.ok());
    auto r = recognize(rec, **s, t);
    EXPECT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->valid);
    expected.push_back(r->label);
  }
  return expected;
}

// cartlm_batch_size's sum (texts run) and count (forward passes) in a /metrics body.
std::pair<double, double> batch_totals(const std::string& body) {
  auto value = [&](const std::string& name) {
    size_t at = body.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name;
    return at == std::string::npos ? 0.0 : std::atof(body.c_str() + at + name.size() + 2);
  };
  return {value("cartlm_batch_size_sum"), value("cartlm_batch_size_count")};
}

TEST_F(RecognizerServerTest, ConcurrentAnswersEqualLoneAnswers) {
  std::vector<std::string> ts = texts();
  std::vector<Label> expected = lone_labels(*rec_, ts);
  start(/*workers=*/3);
  std::vector<std::thread> clients;
  std::vector<std::string> problems(4);
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client cl("127.0.0.1", server_->port());
      cl.set_read_timeout(60, 0);
      for (int round = 0; round < 3; ++round) {
        for (size_t i = c; i < ts.size(); i += 2) {  // overlapping subsets, different orders
          size_t k = (round % 2) ? ts.size() - 1 - i : i;
          auto r = cl.Post("/v1/intent", json{{"text", ts[k]}}.dump(), "application/json");
          if (!r || r->status != 200) {
            problems[c] += "request failed for " + ts[k] + "\n";
            continue;
          }
          json j = json::parse(r->body);
          Label got{j["action"], j["product"], j["quantity"]};
          if (!(got == expected[k])) problems[c] += "mixed-up answer for " + ts[k] + "\n";
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  for (const std::string& p : problems) EXPECT_EQ(p, "");
  auto m = httplib::Client("127.0.0.1", server_->port()).Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("cartlm_workers 3"), std::string::npos);
  EXPECT_EQ(m->body.find("cartlm_generated_tokens_total 0\n"), std::string::npos) << m->body;
}

TEST_F(RecognizerServerTest, BatchedForwardPassesGiveTheLoneAnswers) {
  std::vector<std::string> ts = texts();
  std::vector<Label> expected = lone_labels(*rec_, ts);
  start(/*workers=*/1, /*max_batch=*/8);
  httplib::Client cl("127.0.0.1", server_->port());
  cl.set_read_timeout(60, 0);
  // One request with all texts: they queue at once, so the worker runs 8 at a time.
  auto r = cl.Post("/v1/intent", json{{"texts", ts}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_EQ(j["results"].size(), ts.size());
  for (size_t k = 0; k < ts.size(); ++k) {
    const json& a = j["results"][k];
    EXPECT_EQ((Label{a["action"], a["product"], a["quantity"]}), expected[k]) << ts[k];
  }
  // And concurrent single-text requests, joining each other's running batch.
  std::vector<std::thread> clients;
  std::vector<std::string> problems(6);
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client cc("127.0.0.1", server_->port());
      cc.set_read_timeout(60, 0);
      for (size_t k = c; k < ts.size(); k += 3) {
        auto rr = cc.Post("/v1/intent", json{{"text", ts[k]}}.dump(), "application/json");
        if (!rr || rr->status != 200) {
          problems[c] += "request failed for " + ts[k] + "\n";
          continue;
        }
        json a = json::parse(rr->body);
        if (!(Label{a["action"], a["product"], a["quantity"]} == expected[k]))
          problems[c] += "mixed-up answer for " + ts[k] + "\n";
      }
    });
  }
  for (auto& t : clients) t.join();
  for (const std::string& p : problems) EXPECT_EQ(p, "");
  server_->stop();  // joins the worker, so its last pass is in the metrics
  if (thread_.joinable()) thread_.join();
  auto [texts_run, passes] = batch_totals(server_->metrics().render());
  // 24 texts of ~a dozen passes each: far fewer passes than texts x passes, i.e. shared ones.
  EXPECT_GT(passes, 0);
  EXPECT_GT(texts_run / passes, 2.0) << texts_run << " texts in " << passes << " passes";
  EXPECT_LE(texts_run / passes, 8.0);
}

TEST_F(RecognizerServerTest, StopWhileTextsShareForwardPassesAnswersThemAll) {
  start(/*workers=*/2, /*max_batch=*/8);
  json batch = {{"texts", json::array()}};
  for (int i = 0; i < 64; ++i) batch["texts"].push_back("Dodaj " + std::to_string(i + 1) + " jabuka");
  int code = 0;
  size_t results = 0;
  std::thread t([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(120, 0);
    auto r = c.Post("/v1/intent", batch.dump(), "application/json");
    code = r ? r->status : -1;
    if (r && r->status == 200) results = json::parse(r->body)["results"].size();
  });
  // Stop once the request is in flight (its texts queued or in slots).
  httplib::Client m("127.0.0.1", server_->port());
  for (int i = 0; i < 2000; ++i) {
    auto r = m.Get("/metrics");
    if (r && r->body.find("cartlm_in_flight 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_->stop();
  t.join();
  EXPECT_EQ(code, 200);
  EXPECT_EQ(results, 64u);
}

TEST_F(RecognizerServerTest, BatchAndChatAnswersAreSchemaValid) {
  start(1);
  httplib::Client cl("127.0.0.1", server_->port());
  json req = {{"texts", texts()}};
  auto r = cl.Post("/v1/intent", req.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_EQ(j["results"].size(), texts().size());
  std::vector<std::string> names = default_catalog().names();
  for (const json& a : j["results"]) {
    EXPECT_TRUE(a["action"] == "add" || a["action"] == "remove") << a;
    EXPECT_NE(std::find(names.begin(), names.end(), a["product"].get<std::string>()), names.end());
    EXPECT_GE(a["quantity"].get<int>(), 1);
  }
  r = cl.Post("/v1/chat/completions",
              R"({"messages": [{"role": "user", "content": "Izbaci 2 šampona"}]})",
              "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json content = json::parse(json::parse(r->body)["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_EQ(content.size(), 3u);
  EXPECT_GT(json::parse(r->body)["usage"]["completion_tokens"].get<int>(), 0);
}

TEST_F(RecognizerServerTest, TextTheRecognizerRefusesIsA400) {
  start(1);
  httplib::Client cl("127.0.0.1", server_->port());
  // 1000 characters (the API limit) of 4-byte emoji: admitted by the API, but far over the
  // recognizer's token limit.
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "\xF0\x9F\x9B\x92";
  auto r = cl.Post("/v1/intent", json{{"text", text}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["error"]["code"], "invalid_text");
  r = cl.Post("/v1/intent", R"({"text": "add 1 soap"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace cartlm::serve
