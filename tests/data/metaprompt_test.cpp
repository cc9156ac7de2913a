// Tests of `cartlm data metaprompt` against a fake OpenAI-compatible server (cpp-httplib) that
// the test runs on 127.0.0.1. The fake server answers each prompt with a text derived from the
// planned example it belongs to, so the test knows exactly what every output line must hold.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/file_io.h"
#include "core/rng.h"
#include "core/strings.h"
#include "data/http_client.h"
#include "data/metaprompt.h"
#include "formats/dataset.h"

namespace cartlm {
namespace {

namespace fs = std::filesystem;

SurfaceForm form(FormKind kind, Gender gender, std::string sg, std::string pl,
                 std::string gen_sg = "", std::string acc_sg = "", std::string gen_pl = "",
                 std::string acc_pl = "", std::string paucal = "") {
  SurfaceForm f;
  f.kind = kind;
  f.gender = gender;
  f.sg = std::move(sg);
  f.pl = std::move(pl);
  f.gen_sg = std::move(gen_sg);
  f.acc_sg = std::move(acc_sg);
  f.gen_pl = std::move(gen_pl);
  f.acc_pl = std::move(acc_pl);
  f.paucal = std::move(paucal);
  return f;
}

// Three products with forms in every language; Lip Balm also has an English synonym and a
// held-out eval name that must never reach a prompt.
Catalog test_catalog() {
  using K = FormKind;
  using G = Gender;
  Catalog c;
  Product lip;
  lip.name = "Lip Balm";
  lip.forms[(int)Lang::en] = {form(K::main, G::none, "lip balm", "lip balms"),
                              form(K::syn, G::none, "chapstick", "chapsticks"),
                              form(K::eval, G::none, "lip salve", "lip salves")};
  lip.forms[(int)Lang::hr] = {form(K::main, G::m, "balzam za usne", "balzami za usne",
                                   "balzama za usne", "balzam za usne", "balzama za usne",
                                   "balzame za usne", "balzama za usne")};
  lip.forms[(int)Lang::es] = {form(K::main, G::m, "bálsamo labial", "bálsamos labiales")};
  Product brush;
  brush.name = "Toothbrush";
  brush.forms[(int)Lang::en] = {form(K::main, G::none, "toothbrush", "toothbrushes")};
  brush.forms[(int)Lang::hr] = {form(K::main, G::f, "četkica za zube", "četkice za zube",
                                     "četkice za zube", "četkicu za zube", "četkica za zube",
                                     "četkice za zube", "četkice za zube")};
  brush.forms[(int)Lang::es] = {form(K::main, G::m, "cepillo de dientes", "cepillos de dientes")};
  Product milk;
  milk.name = "Milk";
  milk.forms[(int)Lang::en] = {form(K::main, G::none, "milk", "milks")};
  milk.forms[(int)Lang::hr] = {form(K::main, G::n, "mlijeko", "mlijeka", "mlijeka", "mlijeko",
                                    "mlijeka", "mlijeka", "mlijeka")};
  milk.forms[(int)Lang::es] = {form(K::main, G::f, "leche", "leches")};
  c.products = {lip, brush, milk};
  return c;
}

json chat_response(const std::string& content, const std::string& finish = "stop") {
  return json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"choices", json::array({json{{"index", 0},
                                            {"message", {{"role", "assistant"}, {"content", content}}},
                                            {"finish_reason", finish}}})}};
}

// The text the fake server writes for a planned example: valid, and unique per example.
std::string good_text(const MetapromptItem& it) {
  return strformat("%s %d %s pls (ref %zu)", it.truth.label.action.c_str(),
                   it.truth.label.quantity, it.product_sg.c_str(), it.index);
}

struct Seen {
  size_t index;
  int nth;  // 1 for the first request with this prompt
  json body;
  std::string authorization;
};

// handler(seen, res): fills the response; by default the good text.
using Behaviour = std::function<void(const Seen&, httplib::Response&)>;

class FakeApi {
 public:
  FakeApi(const std::vector<MetapromptItem>& plan, Behaviour behaviour)
      : behaviour_(std::move(behaviour)) {
    for (const MetapromptItem& it : plan) by_prompt_[it.user] = &it;
    server_.set_keep_alive_timeout(1);
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req,
                                                httplib::Response& res) {
      ++requests;
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.contains("messages") || body["messages"].size() != 2) {
        res.status = 400;
        res.set_content(R"({"error":{"message":"bad request body"}})", "application/json");
        return;
      }
      auto it = by_prompt_.find(body["messages"][1]["content"].get<std::string>());
      if (it == by_prompt_.end()) {
        res.status = 400;
        res.set_content(R"({"error":{"message":"unknown prompt"}})", "application/json");
        return;
      }
      Seen seen{it->second->index, 0, body, req.get_header_value("Authorization")};
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen.nth = ++count_[seen.index];
        seen_.push_back(seen);
      }
      if (behaviour_) behaviour_(seen, res);
      if (res.status == -1 || res.body.empty()) {
        res.status = 200;
        res.set_content(chat_response(good_text(*it->second)).dump(), "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeApi() {
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::atomic<int> requests{0};

 private:
  Behaviour behaviour_;
  std::map<std::string, const MetapromptItem*> by_prompt_;
  std::mutex mu_;
  std::map<size_t, int> count_;
  std::vector<Seen> seen_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string temp_dir(const std::string& name) {
  std::string dir = (fs::temp_directory_path() /
                     ("cartlm_metaprompt_" + std::to_string(::getpid()) + "_" + name))
                        .string();
  fs::remove_all(dir);
  return dir;
}

struct Recorder {
  std::mutex mu;
  std::vector<double> waits;
  std::function<void(double)> fn() {
    return [this](double s) {
      std::lock_guard<std::mutex> lock(mu);
      waits.push_back(s);
    };
  }
};

MetapromptOptions base_options(const FakeApi& api, const std::string& dir, size_t size) {
  MetapromptOptions o;
  o.endpoint = api.endpoint();
  o.model = "fake-model";
  o.size = size;
  o.seed = 11;
  o.parallel = 2;
  o.timeout_s = 5;
  o.retries = 2;
  o.out_dir = dir;
  o.progress = false;
  o.sleep = [](double) {};  // back-off is checked through a Recorder where it matters
  return o;
}

std::vector<Example> read_all(const std::string& dir) {
  std::vector<Example> all;
  for (const char* name : {"train.jsonl", "val.jsonl"}) {
    Result<std::vector<Example>> part = read_dataset(join_path(dir, name));
    EXPECT_TRUE(part.ok()) << part.message();
    if (part.ok()) all.insert(all.end(), part->begin(), part->end());
  }
  std::sort(all.begin(), all.end(), [](const Example& a, const Example& b) { return a.id < b.id; });
  return all;
}

// ---------------------------------------------------------------- planning and prompts

TEST(MetapromptPlan, GroundTruthIsDrawnLikeTheGenerator) {
  Catalog cat = test_catalog();
  std::vector<MetapromptItem> plan = plan_metaprompt(cat, 5, 40, 0.1);
  Rng rng(5);
  for (size_t i = 0; i < plan.size(); ++i) {
    GroundTruth gt = draw_ground_truth(rng, cat, i, kAllLangs);
    EXPECT_EQ(plan[i].truth.label, gt.label) << i;
    EXPECT_EQ(plan[i].truth.lang, gt.lang) << i;
    EXPECT_EQ(plan[i].truth.lang, kAllLangs[i % 3]) << i;
  }
}

TEST(MetapromptPlan, DeterministicForASeedAndStableWhenSizeGrows) {
  Catalog cat = test_catalog();
  auto a = plan_metaprompt(cat, 7, 60, 0.1);
  auto b = plan_metaprompt(cat, 7, 60, 0.1);
  auto small = plan_metaprompt(cat, 7, 20, 0.1);
  auto other = plan_metaprompt(cat, 8, 60, 0.1);
  size_t differing = 0, n_val = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].system, b[i].system);
    EXPECT_EQ(a[i].user, b[i].user);
    EXPECT_EQ(a[i].prompt_hash, b[i].prompt_hash);
    EXPECT_EQ(a[i].val, b[i].val);
    if (i < small.size()) {
      EXPECT_EQ(a[i].user, small[i].user) << i;
      EXPECT_EQ(a[i].val, small[i].val) << i;
    }
    differing += a[i].user != other[i].user;
    n_val += a[i].val;
    EXPECT_EQ(a[i].prompt_hash.size(), 16u);
  }
  EXPECT_GT(differing, 40u);
  EXPECT_GT(n_val, 0u);
  EXPECT_LT(n_val, 20u);
}

TEST(MetapromptPlan, PromptNamesLanguageLocalProductQuantityAndDirectives) {
  Catalog cat = test_catalog();
  auto plan = plan_metaprompt(cat, 3, 900, 0.1);
  const char* lang_names[] = {"English", "Croatian", "Spanish"};
  bool saw_hr_dvije = false, saw_brand = false, saw_code_switch = false, saw_emoji = false,
       saw_typos = false, saw_omitted = false, saw_syn = false;
  std::map<std::string, int> registers;
  for (const MetapromptItem& it : plan) {
    const std::string& u = it.user;
    const Label& l = it.truth.label;
    EXPECT_NE(u.find(std::string("Language: ") + lang_names[(int)it.truth.lang]), std::string::npos);
    EXPECT_NE(u.find("\"" + it.product_sg + "\""), std::string::npos) << u;
    EXPECT_NE(u.find(l.action == "add" ? "ADD" : "REMOVE"), std::string::npos);
    EXPECT_NE(u.find(strformat("Quantity: %d.", l.quantity)), std::string::npos) << u;
    EXPECT_EQ(u.find("lip salve"), std::string::npos) << "held-out eval name used";
    EXPECT_NE(it.system.find("one line"), std::string::npos);
    ++registers[it.style.register_name];
    if (it.truth.lang == Lang::hr && it.truth.label.product == "Lip Balm") {
      EXPECT_EQ(it.product_sg, "balzam za usne");
      EXPECT_NE(u.find("form after 2, 3, 4: \"balzama za usne\""), std::string::npos);
    }
    if (it.truth.lang == Lang::es && it.truth.label.product == "Toothbrush") {
      EXPECT_EQ(it.product_sg, "cepillo de dientes");
    }
    if (it.product_sg == "chapstick") saw_syn = true;
    if (it.style.quantity_style == "words" && it.truth.lang == Lang::hr && l.quantity == 2 &&
        l.product == "Toothbrush") {
      EXPECT_NE(u.find("\"dvije\""), std::string::npos) << u;  // feminine: dvije, not dva
      saw_hr_dvije = true;
    }
    if (it.style.quantity_style == "digits") {
      EXPECT_NE(u.find(strformat("in digits (\"%d\")", l.quantity)), std::string::npos);
    }
    if (it.style.quantity_style == "omitted") {
      EXPECT_EQ(l.quantity, 1);
      EXPECT_NE(u.find("Do not write any number"), std::string::npos);
      saw_omitted = true;
    }
    if (!it.style.brand.empty()) {
      EXPECT_NE(u.find("\"" + it.style.brand + "\""), std::string::npos);
      saw_brand = true;
    }
    if (!it.style.code_switch.empty()) {
      EXPECT_NE(it.truth.lang, Lang::en);
      EXPECT_NE(u.find("English phrase \"" + it.style.code_switch + "\""), std::string::npos);
      saw_code_switch = true;
    }
    EXPECT_EQ(it.style.emoji, u.find("emoji") != std::string::npos);
    EXPECT_EQ(it.style.typos, u.find("typos") != std::string::npos);
    EXPECT_EQ(it.style.slang, u.find("\"pls\"") != std::string::npos);
    EXPECT_EQ(it.style.greeting, u.find("greeting") != std::string::npos);
    saw_emoji |= it.style.emoji;
    saw_typos |= it.style.typos;
  }
  EXPECT_TRUE(saw_hr_dvije && saw_brand && saw_code_switch && saw_emoji && saw_typos &&
              saw_omitted && saw_syn);
  EXPECT_EQ(registers.size(), 6u);
}

// ---------------------------------------------------------------- reply checks

TEST(MetapromptCheck, NumberWordsAndQuantityMentions) {
  EXPECT_TRUE(mentions_quantity("Can you delet 12 lip balms for me?", 12, Lang::en));
  EXPECT_FALSE(mentions_quantity("remove 120 lip balms", 12, Lang::en));
  EXPECT_FALSE(mentions_quantity("remove 112 lip balms", 12, Lang::en));
  EXPECT_TRUE(mentions_quantity("add a dozen eggs", 12, Lang::en));
  EXPECT_TRUE(mentions_quantity("Dodaj DVIJE četkice za zube", 2, Lang::hr));
  EXPECT_TRUE(mentions_quantity("makni cetiri balzama", 4, Lang::hr));  // no diacritics
  EXPECT_TRUE(mentions_quantity("dodaj tucet jaja", 12, Lang::hr));
  EXPECT_TRUE(mentions_quantity("quita dieciseis leches", 16, Lang::es));
  EXPECT_TRUE(mentions_quantity("añade una docena de huevos", 12, Lang::es));
  EXPECT_FALSE(mentions_quantity("add some lip balms", 3, Lang::en));
  EXPECT_FALSE(mentions_quantity("dodaj tri balzama", 3, Lang::es));  // hr word, es message
  EXPECT_FALSE(mentions_quantity("often", 10, Lang::en));             // "ten" inside a word
  EXPECT_EQ(number_words(2, Lang::hr)[0], "dva");
  EXPECT_TRUE(number_words(21, Lang::en).empty());
  for (Lang l : kAllLangs)
    for (int n = 1; n <= 20; ++n) EXPECT_FALSE(number_words(n, l).empty()) << n;
}

TEST(MetapromptCheck, RejectsBadMessagesAndCleansGoodOnes) {
  auto check = [](std::string_view s, int q = 3, Lang l = Lang::en) {
    return check_shopper_message(s, q, l);
  };
  EXPECT_EQ(*check("  add 3 lip balms pls \n"), "add 3 lip balms pls");
  EXPECT_EQ(*check("\"add 3 lip balms\""), "add 3 lip balms");
  EXPECT_EQ(*check("\u201cdodaj 3 balzama\u201d", 3, Lang::hr), "dodaj 3 balzama");
  EXPECT_EQ(*check("\"Lip balm\" x3 and \"fast\""), "\"Lip balm\" x3 and \"fast\"");
  auto rejected = [&](std::string_view s, const char* reason, int q = 3) {
    Result<std::string> r = check(s, q);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_TRUE(starts_with(r.message(), reason)) << r.message();
  };
  rejected("", "empty");
  rejected("   \n ", "empty");
  rejected("\"\"", "empty");
  rejected("add 3 lip balms\nthanks", "multi-line");
  rejected("add 3 lip balms\r\nthanks", "multi-line");
  rejected(std::string(401, 'a') + " 3", "too long");
  rejected("{\"action\": \"add\", \"product\": \"Lip Balm\", \"quantity\": 3}", "json leakage");
  rejected("action: add, product: lip balm, quantity: 3", "json leakage");
  rejected("add some lip balms", "no quantity");
  rejected("As an AI language model, I cannot help with 3 lip balms", "refusal");
  EXPECT_TRUE(check("please add a lip balm", 1).ok());  // quantity 1 may be left out
  EXPECT_TRUE(check(std::string(390, 'a') + " 3").ok());
}

TEST(MetapromptCheck, ParsesChatReplies) {
  EXPECT_EQ(*parse_chat_reply(chat_response("add 2 milks").dump()), "add 2 milks");
  auto rejected = [](std::string_view body, const char* reason) {
    Result<std::string> r = parse_chat_reply(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_TRUE(starts_with(r.message(), reason)) << r.message();
  };
  rejected("{not json", "bad json");
  rejected("[1,2]", "bad shape");
  rejected(R"({"object":"chat.completion"})", "bad shape");
  rejected(R"({"choices":[]})", "bad shape");
  rejected(R"({"choices":[{"message":{"role":"assistant","content":null}}]})", "bad shape");
  rejected(R"({"choices":[{"message":{"role":"assistant","content":7}}]})", "bad shape");
  rejected(R"({"error":{"message":"model overloaded"}})", "api error");
  rejected(chat_response("add 2", "length").dump(), "truncated");
  rejected(R"({"choices":[{"message":{"content":"","refusal":"I can't"}}]})", "refusal");
}

TEST(MetapromptCheck, EndpointUrlAndRetryAfter) {
  EXPECT_EQ(*chat_completions_url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1/chat/completions");
  EXPECT_EQ(*chat_completions_url("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1/chat/completions");
  EXPECT_EQ(*chat_completions_url("https://x.test/v1/chat/completions"),
            "https://x.test/v1/chat/completions");
  EXPECT_FALSE(chat_completions_url("127.0.0.1:8080/v1").ok());
  EXPECT_FALSE(chat_completions_url("ftp://x/v1").ok());
  EXPECT_EQ(parse_retry_after("2"), 2.0);
  EXPECT_EQ(parse_retry_after(" 0.5 "), 0.5);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0.0);  // in the past
  EXPECT_EQ(parse_retry_after("soon"), -1.0);
  EXPECT_EQ(parse_retry_after("5s"), -1.0);
}

// ---------------------------------------------------------------- end to end

TEST(MetapromptRun, HappyPathWritesLabelsFromThePlanAndServedTexts) {
  Catalog cat = test_catalog();
  const size_t n = 12;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  FakeApi api(plan, nullptr);
  std::string dir = temp_dir("happy");
  MetapromptOptions o = base_options(api, dir, n);
  o.api_key = "sk-test";
  o.temperature = 0.7;
  Result<MetapromptSummary> sum = run_metaprompt(cat, o);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_EQ(sum->generated, n);
  EXPECT_EQ(sum->failed, 0u);
  EXPECT_EQ(sum->requests, n);
  EXPECT_FALSE(sum->too_many_failed);
  EXPECT_EQ(sum->train + sum->val, n);
  EXPECT_EQ(api.requests.load(), (int)n);

  std::vector<Example> all = read_all(dir);
  ASSERT_EQ(all.size(), n);
  for (size_t i = 0; i < n; ++i) {
    const Example& ex = all[i];
    EXPECT_EQ(ex.id, strformat("mp-%06zu", i));
    EXPECT_EQ(ex.label, plan[i].truth.label);
    EXPECT_EQ(ex.lang, lang_code(plan[i].truth.lang));
    EXPECT_EQ(ex.text, good_text(plan[i]));
    EXPECT_EQ(ex.meta["model"], "fake-model");
    EXPECT_EQ(ex.meta["attempts"], 1);
    EXPECT_EQ(ex.meta["register"], plan[i].style.register_name);
    EXPECT_EQ(ex.meta["quantity_style"], plan[i].style.quantity_style);
  }
  // Which file each example went to follows the plan.
  Result<std::vector<Example>> val = read_dataset(join_path(dir, "val.jsonl"));
  ASSERT_TRUE(val.ok());
  for (const Example& ex : *val) EXPECT_TRUE(plan[std::stoul(ex.id.substr(3))].val) << ex.id;

  for (const Seen& s : api.seen()) {
    EXPECT_EQ(s.authorization, "Bearer sk-test");
    EXPECT_EQ(s.body["model"], "fake-model");
    EXPECT_EQ(s.body["temperature"], 0.7);
    EXPECT_EQ(s.body["messages"][0]["role"], "system");
    EXPECT_EQ(s.body["messages"][0]["content"], plan[s.index].system);
    EXPECT_EQ(s.body["messages"][1]["role"], "user");
  }
  EXPECT_FALSE(file_exists(join_path(dir, "metaprompt.failures.jsonl")));
  fs::remove_all(dir);
}

TEST(MetapromptRun, NoAuthorizationHeaderWithoutKey) {
  Catalog cat = test_catalog();
  auto plan = plan_metaprompt(cat, 11, 3, 0.1);
  FakeApi api(plan, nullptr);
  std::string dir = temp_dir("nokey");
  Result<MetapromptSummary> sum = run_metaprompt(cat, base_options(api, dir, 3));
  ASSERT_TRUE(sum.ok()) << sum.message();
  ASSERT_EQ(api.seen().size(), 3u);
  for (const Seen& s : api.seen()) EXPECT_EQ(s.authorization, "");
  fs::remove_all(dir);
}

TEST(MetapromptRun, RetriesServerErrorsWithBackoff) {
  Catalog cat = test_catalog();
  const size_t n = 6;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  FakeApi api(plan, [](const Seen& s, httplib::Response& res) {
    if (s.nth == 1) {
      res.status = 500;
      res.set_content(R"({"error":{"message":"boom"}})", "application/json");
    }
  });
  std::string dir = temp_dir("500");
  Recorder rec;
  MetapromptOptions o = base_options(api, dir, n);
  o.backoff_base_s = 0.2;
  o.sleep = rec.fn();
  Result<MetapromptSummary> sum = run_metaprompt(cat, o);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_EQ(sum->generated, n);
  EXPECT_EQ(sum->requests, 2 * n);
  EXPECT_EQ(sum->reject_reasons["http 500"], n);
  ASSERT_EQ(rec.waits.size(), n);
  for (double w : rec.waits) {  // first back-off: base 0.2 s with +-50% jitter
    EXPECT_GE(w, 0.1);
    EXPECT_LE(w, 0.3);
  }
  for (const Example& ex : read_all(dir)) EXPECT_EQ(ex.meta["attempts"], 2);
  // A retry is sampled with another seed.
  std::map<size_t, std::set<int64_t>> seeds;
  for (const Seen& s : api.seen()) seeds[s.index].insert(s.body["seed"].get<int64_t>());
  ASSERT_EQ(seeds.size(), n);
  for (const auto& [index, set] : seeds) EXPECT_EQ(set.size(), 2u) << index;
  fs::remove_all(dir);
}

TEST(MetapromptRun, HonoursRetryAfterOn429And503) {
  Catalog cat = test_catalog();
  const size_t n = 4;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  FakeApi api(plan, [](const Seen& s, httplib::Response& res) {
    if (s.nth == 1) {
      res.status = s.index % 2 ? 503 : 429;
      res.set_header("Retry-After", s.index % 2 ? "2" : "1");
      res.set_content(R"({"error":{"message":"slow down"}})", "application/json");
    }
  });
  std::string dir = temp_dir("429");
  Recorder rec;
  MetapromptOptions o = base_options(api, dir, n);
  o.sleep = rec.fn();
  Result<MetapromptSummary> sum = run_metaprompt(cat, o);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_EQ(sum->generated, n);
  EXPECT_EQ(sum->reject_reasons["http 429"], 2u);
  EXPECT_EQ(sum->reject_reasons["http 503"], 2u);
  std::sort(rec.waits.begin(), rec.waits.end());
  EXPECT_EQ(rec.waits, (std::vector<double>{1.0, 1.0, 2.0, 2.0}));
  fs::remove_all(dir);
}

TEST(MetapromptRun, TimeoutsAreRetriedThenCountedAsFailed) {
  Catalog cat = test_catalog();
  const size_t n = 4;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  FakeApi api(plan, [](const Seen& s, httplib::Response& res) {
    if (s.index == 2) std::this_thread::sleep_for(std::chrono::milliseconds(700));
  });
  std::string dir = temp_dir("timeout");
  MetapromptOptions o = base_options(api, dir, n);
  o.timeout_s = 0.3;
  o.retries = 1;
  o.max_failed = 0.25;
  Result<MetapromptSummary> sum = run_metaprompt(cat, o);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_EQ(sum->failed, 1u);
  EXPECT_EQ(sum->generated, n - 1);
  EXPECT_EQ(sum->reject_reasons["timeout"], 2u);  // both attempts
  EXPECT_FALSE(sum->too_many_failed);
  ASSERT_EQ(sum->failures.size(), 1u);
  EXPECT_NE(sum->failures[0].find("example 2"), std::string::npos);
  EXPECT_NE(sum->to_text().find("1 failed"), std::string::npos);
  std::vector<Example> all = read_all(dir);
  ASSERT_EQ(all.size(), n - 1);
  for (const Example& ex : all) EXPECT_NE(ex.id, "mp-000002");
  Result<std::string> failures = read_file(join_path(dir, "metaprompt.failures.jsonl"));
  ASSERT_TRUE(failures.ok());
  EXPECT_NE(failures->find("\"index\":2"), std::string::npos) << *failures;
  fs::remove_all(dir);
}

TEST(MetapromptRun, BadRepliesAreRejectedAndRetried) {
  Catalog cat = test_catalog();
  const size_t n = 8;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  // Every example first gets one kind of bad reply, then a good one. The reply without a quantity
  // goes to an example whose quantity is not 1 (1 may be left out).
  enum Kind { empty, multi_line, leak, no_quantity, not_json, no_choices, null_content, quoted };
  std::vector<Kind> kind_of(n);
  size_t nq = n;
  for (size_t i = 0; i < n && nq == n; ++i)
    if (plan[i].truth.label.quantity != 1) nq = i;
  ASSERT_LT(nq, n);
  const Kind others[] = {empty, multi_line, leak, not_json, no_choices, null_content, quoted};
  for (size_t i = 0, k = 0; i < n; ++i) kind_of[i] = i == nq ? no_quantity : others[k++];
  FakeApi api(plan, [&](const Seen& s, httplib::Response& res) {
    if (s.nth > 1) return;
    const MetapromptItem& it = plan[s.index];
    std::string body;
    switch (kind_of[s.index]) {
      case empty: body = chat_response("   ").dump(); break;
      case multi_line: body = chat_response(good_text(it) + "\nthanks").dump(); break;
      case leak: body = chat_response(label_to_json_text(it.truth.label)).dump(); break;
      case no_quantity: body = chat_response("add some of these please").dump(); break;
      case not_json: body = "{\"choices\": ["; break;
      case no_choices: body = R"({"object":"chat.completion"})"; break;
      case null_content: body = R"({"choices":[{"message":{"content":null}}]})"; break;
      case quoted: body = chat_response("\"" + good_text(it) + "\"").dump(); break;
    }
    res.status = 200;
    res.set_content(body, "application/json");
  });
  std::string dir = temp_dir("bad");
  MetapromptOptions o = base_options(api, dir, n);
  Result<MetapromptSummary> sum = run_metaprompt(cat, o);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_EQ(sum->generated, n);
  EXPECT_EQ(sum->failed, 0u);
  EXPECT_EQ(sum->requests, 2 * n - 1);  // the quoted reply is accepted at once
  EXPECT_EQ(sum->rejected, n - 1);
  EXPECT_EQ(sum->reject_reasons["empty"], 1u);
  EXPECT_EQ(sum->reject_reasons["multi-line"], 1u);
  EXPECT_EQ(sum->reject_reasons["json leakage"], 1u);
  EXPECT_EQ(sum->reject_reasons["no quantity"], 1u);
  EXPECT_EQ(sum->reject_reasons["bad json"], 1u);
  EXPECT_EQ(sum->reject_reasons["bad shape"], 2u);
  std::vector<Example> all = read_all(dir);
  ASSERT_EQ(all.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(all[i].text, good_text(plan[i])) << i;  // quotes stripped from the quoted one
    EXPECT_EQ(all[i].meta["attempts"], kind_of[i] == quoted ? 1 : 2) << i;
  }
  fs::remove_all(dir);
}

TEST(MetapromptRun, RerunResumesFromTheCacheWithoutRequests) {
  Catalog cat = test_catalog();
  const size_t n = 9;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  std::string dir = temp_dir("cache");
  std::string train1, val1;
  {
    FakeApi api(plan, nullptr);
    Result<MetapromptSummary> sum = run_metaprompt(cat, base_options(api, dir, n));
    ASSERT_TRUE(sum.ok()) << sum.message();
    EXPECT_EQ(api.requests.load(), (int)n);
    train1 = *read_file(join_path(dir, "train.jsonl"));
    val1 = *read_file(join_path(dir, "val.jsonl"));
  }
  {
    FakeApi api(plan, nullptr);
    Result<MetapromptSummary> sum = run_metaprompt(cat, base_options(api, dir, n));
    ASSERT_TRUE(sum.ok()) << sum.message();
    EXPECT_EQ(api.requests.load(), 0);
    EXPECT_EQ(sum->cached, n);
    EXPECT_EQ(sum->requests, 0u);
    EXPECT_EQ(*read_file(join_path(dir, "train.jsonl")), train1);
    EXPECT_EQ(*read_file(join_path(dir, "val.jsonl")), val1);
  }
  // A crash in the middle of a line: that line is skipped and only its example is asked again.
  std::string cache_path = join_path(dir, "metaprompt.cache.jsonl");
  std::string cache = *read_file(cache_path);
  ASSERT_EQ(std::count(cache.begin(), cache.end(), '\n'), (long)n);
  std::string cut = cache.substr(0, cache.size() - 10);
  ASSERT_TRUE(write_file_atomic(cache_path, cut).ok());
  {
    FakeApi api(plan, nullptr);
    Result<MetapromptSummary> sum = run_metaprompt(cat, base_options(api, dir, n));
    ASSERT_TRUE(sum.ok()) << sum.message();
    EXPECT_EQ(api.requests.load(), 1);
    EXPECT_EQ(sum->cached, n - 1);
    EXPECT_EQ(sum->cache_lines_skipped, 1u);
    EXPECT_EQ(*read_file(join_path(dir, "train.jsonl")), train1);
    EXPECT_EQ(*read_file(join_path(dir, "val.jsonl")), val1);
  }
  // Another model does not reuse the cached replies.
  {
    FakeApi api(plan, nullptr);
    MetapromptOptions o = base_options(api, dir, n);
    o.model = "other-model";
    Result<MetapromptSummary> sum = run_metaprompt(cat, o);
    ASSERT_TRUE(sum.ok()) << sum.message();
    EXPECT_EQ(api.requests.load(), (int)n);
  }
  fs::remove_all(dir);
}

TEST(MetapromptRun, ParallelGivesTheSameFilesAsSerial) {
  Catalog cat = test_catalog();
  const size_t n = 24;
  auto plan = plan_metaprompt(cat, 11, n, 0.1);
  std::string files[2][2];
  for (int k = 0; k < 2; ++k) {
    // Some first attempts fail, so attempts in meta are checked too.
    FakeApi api(plan, [](const Seen& s, httplib::Response& res) {
      if (s.index % 5 == 0 && s.nth == 1) {
        res.status = 502;
        res.set_content("bad gateway", "text/plain");
      }
    });
    std::string dir = temp_dir(k ? "par4" : "par1");
    MetapromptOptions o = base_options(api, dir, n);
    o.parallel = k ? 4 : 1;
    Result<MetapromptSummary> sum = run_metaprompt(cat, o);
    ASSERT_TRUE(sum.ok()) << sum.message();
    EXPECT_EQ(sum->generated, n);
    files[k][0] = *read_file(join_path(dir, "train.jsonl"));
    files[k][1] = *read_file(join_path(dir, "val.jsonl"));
    fs::remove_all(dir);
  }
  EXPECT_EQ(files[0][0], files[1][0]);
  EXPECT_EQ(files[0][1], files[1][1]);
  EXPECT_FALSE(files[0][0].empty());
}

TEST(MetapromptRun, UnreachableEndpointFailsWithSummary) {
  Catalog cat = test_catalog();
  std::string endpoint;
  {
    // Take a free loopback port and close it without listening: connections are refused.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ASSERT_EQ(::bind(fd, (sockaddr*)&addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, (sockaddr*)&addr, &len), 0);
    ::close(fd);
    endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  }
  std::string dir = temp_dir("unreachable");
  MetapromptOptions o;
  o.endpoint = endpoint;
  o.model = "m";
  o.size = 20;
  o.retries = 1;
  o.parallel = 2;
  o.timeout_s = 2;
  o.out_dir = dir;
  o.progress = false;
  o.sleep = [](double) {};
  Result<MetapromptSummary> sum = run_metaprompt(cat, o);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_TRUE(sum->too_many_failed);
  EXPECT_GE(sum->failed, 2u);
  EXPECT_EQ(sum->failed + sum->not_attempted, 20u);
  EXPECT_GT(sum->not_attempted, 0u);  // stopped early instead of trying all 20
  EXPECT_GE(sum->reject_reasons["connect"], 2u);
  EXPECT_FALSE(file_exists(join_path(dir, "train.jsonl")));
  EXPECT_NE(sum->to_text().find("not written"), std::string::npos);
  fs::remove_all(dir);
}

TEST(MetapromptRun, SetupErrorsAreOneLine) {
  Catalog cat = test_catalog();
  auto plan = plan_metaprompt(cat, 11, 3, 0.1);
  FakeApi api(plan, [](const Seen&, httplib::Response& res) {
    res.status = 401;
    res.set_content(R"({"error":{"message":"Incorrect API key provided"}})", "application/json");
  });
  std::string dir = temp_dir("setup");
  Result<MetapromptSummary> sum = run_metaprompt(cat, base_options(api, dir, 3));
  ASSERT_FALSE(sum.ok());
  EXPECT_NE(sum.message().find("401"), std::string::npos) << sum.message();
  EXPECT_NE(sum.message().find("Incorrect API key"), std::string::npos) << sum.message();
  EXPECT_LE(api.requests.load(), 2);  // stops at the first 401 (the 2nd worker may be in flight)

  // --out under a regular file cannot be created.
  std::string file = join_path(dir, "plain_file");
  ASSERT_TRUE(write_file_atomic(file, "x").ok());
  MetapromptOptions o = base_options(api, join_path(file, "sub"), 3);
  sum = run_metaprompt(cat, o);
  ASSERT_FALSE(sum.ok());
  EXPECT_TRUE(starts_with(sum.message(), "--out")) << sum.message();

  o = base_options(api, dir, 3);
  o.endpoint = "localhost:8080";
  EXPECT_FALSE(run_metaprompt(cat, o).ok());
  o = base_options(api, dir, 3);
  o.model = "";
  EXPECT_TRUE(starts_with(run_metaprompt(cat, o).message(), "--model"));
  for (const Status& st : {run_metaprompt(cat, o).status()})
    EXPECT_EQ(st.message().find('\n'), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cartlm
