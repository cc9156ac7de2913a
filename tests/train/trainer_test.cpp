#include "train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "core/file_io.h"
#include "core/thread_pool.h"
#include "model/load.h"

namespace cartlm {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() /
               ("cartlm_trainer_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

Tokenizer tiny_tok() {
  std::vector<std::string> texts = {"add two lip balms", "remove the soap please"};
  BpeTrainOptions bo;
  bo.vocab_size = 280;
  bo.special_tokens = {"<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"};
  bo.pad_token = "<|pad|>";
  bo.bos_token = "<|begin_of_text|>";
  bo.eos_token = "<|end_of_text|>";
  bo.specials_first = true;
  auto t = train_bpe(texts, bo);
  EXPECT_TRUE(t.ok()) << t.message();
  return *t;
}

Config small_config(int32_t vocab) {
  Config c = *preset_config("tiny");
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 0;
  c.max_position_embeddings = 64;
  auto st = finalize_config(c, "test");
  EXPECT_TRUE(st.ok()) << st.message();
  return c;
}

// A copy task: bos, 3 ids, then the same 3 ids and eos as the completion.
std::vector<TokenizedExample> copy_task(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenizedExample> out(n);
  for (TokenizedExample& ex : out) {
    const size_t k = 2 + rng.uniform(3);
    ex.tokens = {1};
    for (size_t i = 0; i < k; ++i) ex.tokens.push_back((int32_t)(3 + rng.uniform(12)));
    ex.prompt_len = (int32_t)ex.tokens.size();
    for (size_t i = 0; i < k; ++i) ex.tokens.push_back(ex.tokens[1 + i]);
    ex.tokens.push_back(2);
  }
  return out;
}

TrainModel<float> make_model(const Config& c, uint64_t seed) {
  TrainOptions to;
  to.max_batch = 8;
  to.max_seq = 16;
  auto m = train_model_create<float>(c, to);
  EXPECT_TRUE(m.ok()) << m.message();
  Rng rng(seed);
  train_model_init_random(*m, rng);
  return std::move(*m);
}

TrainerOptions base_options(const std::string& out) {
  TrainerOptions o;
  o.epochs = 3;
  o.batch = 8;
  o.lr = 1e-2;
  o.warmup = 2;
  o.adam.weight_decay = 0.01;
  o.out_dir = out;
  o.progress = false;
  o.handle_sigint = false;
  return o;
}

bool same_params(const TrainModel<float>& a, const TrainModel<float>& b) {
  return a.num_trainable() == b.num_trainable() &&
         std::memcmp(a.trainable(), b.trainable(), a.num_trainable() * sizeof(float)) == 0;
}

TEST(Trainer, LearnsACopyTaskAndWritesLossCsv) {
  const std::string out = temp_dir("learn");
  Config c = small_config(64);
  TrainModel<float> m = make_model(c, 3);
  auto train = copy_task(96, 1), val = copy_task(24, 2);
  ThreadPool pool(2);
  const double before = evaluate_loss(m, val, 8, 0, &pool);
  TrainerOptions o = base_options(out);
  o.epochs = 6;
  auto r = run_training(m, train, val, 0, o, &pool);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->steps_done, 6 * 12);
  EXPECT_EQ(r->total_steps, 6 * 12);
  ASSERT_EQ(r->val_loss.size(), 6u);
  EXPECT_LT(r->val_loss.back(), 0.6 * before) << "before " << before;
  EXPECT_GT(r->tokens, 0u);
  auto csv = read_file(join_path(out, "loss.csv"));
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->rfind("step,epoch,lr,train_loss,grad_norm,val_loss\n", 0), 0u);
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 1 + 6 * 12);
  fs::remove_all(out);
}

TEST(Trainer, GradAccumulationCutsTheStepCount) {
  const std::string out = temp_dir("accum");
  TrainModel<float> m = make_model(small_config(64), 3);
  TrainerOptions o = base_options(out);
  o.epochs = 1;
  o.grad_accum = 3;
  auto r = run_training(m, copy_task(80, 1), {}, 0, o, nullptr);  // 10 micro-batches
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->steps_done, 4);
  fs::remove_all(out);
}

TEST(Trainer, DeterministicAcrossThreadCounts) {
  Config c = small_config(64);
  auto train = copy_task(40, 1);
  const std::string out1 = temp_dir("det1"), out2 = temp_dir("det2");
  TrainModel<float> a = make_model(c, 3), b = make_model(c, 3);
  ThreadPool p1(1), p2(2);
  TrainerOptions o = base_options(out1);
  ASSERT_TRUE(run_training(a, train, {}, 0, o, &p1).ok());
  o.out_dir = out2;
  ASSERT_TRUE(run_training(b, train, {}, 0, o, &p2).ok());
  EXPECT_TRUE(same_params(a, b));
  fs::remove_all(out1);
  fs::remove_all(out2);
}

TEST(Trainer, ResumeFromAnOlderCheckpointIsBitExact) {
  Config c = small_config(64);
  auto train = copy_task(56, 1), val = copy_task(8, 2);
  ThreadPool pool(2);
  const std::string ref_dir = temp_dir("ref"), crash_dir = temp_dir("crash");
  TrainModel<float> ref = make_model(c, 3);
  TrainerOptions o = base_options(ref_dir);
  auto full = run_training(ref, train, val, 0, o, &pool);
  ASSERT_TRUE(full.ok()) << full.message();

  // The interrupted run: a checkpoint every 3 steps, and the process "dies" after step 10 (the
  // hook records the state there, so training past the checkpoint at 9 is lost).
  TrainModel<float> first = make_model(c, 3);
  TrainerOptions oc = base_options(crash_dir);
  oc.checkpoint_every = 3;
  oc.max_steps = 10;
  std::string step9;
  oc.on_step = [&](int64_t step) {
    if (step == 9) step9 = *read_file(checkpoint_path(crash_dir));
  };
  ASSERT_TRUE(run_training(first, train, val, 0, oc, &pool).ok());
  ASSERT_FALSE(step9.empty());
  ASSERT_TRUE(write_file_atomic(checkpoint_path(crash_dir), step9).ok());

  // A fresh process: different initial weights, which the checkpoint must replace.
  TrainModel<float> resumed = make_model(c, 99);
  TrainerOptions orr = base_options(crash_dir);
  orr.checkpoint_every = 3;
  orr.resume = true;
  auto r = run_training(resumed, train, val, 0, orr, &pool);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->resumed);
  EXPECT_EQ(r->resumed_at_step, 9);
  EXPECT_EQ(r->steps_done, full->steps_done);
  EXPECT_TRUE(same_params(ref, resumed));
  ASSERT_EQ(r->history.size(), full->history.size());
  for (size_t i = 0; i < r->history.size(); ++i) {
    EXPECT_EQ(r->history[i].loss, full->history[i].loss) << "step " << i + 1;
    EXPECT_EQ(r->history[i].val_loss, full->history[i].val_loss) << "step " << i + 1;
  }
  EXPECT_EQ(*read_file(join_path(ref_dir, "loss.csv")), *read_file(join_path(crash_dir, "loss.csv")));

  // Other settings: refused with a message naming the file.
  TrainModel<float> other = make_model(c, 3);
  orr.lr = 5e-3;
  auto bad = run_training(other, train, val, 0, orr, &pool);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("state.bin: written with different settings"), std::string::npos)
      << bad.message();
  fs::remove_all(ref_dir);
  fs::remove_all(crash_dir);
}

TEST(Trainer, SigintSavesACheckpointAndReturns) {
  const std::string out = temp_dir("sigint");
  Config c = small_config(64);
  TrainModel<float> m = make_model(c, 3);
  TrainerOptions o = base_options(out);
  o.handle_sigint = true;
  o.on_step = [](int64_t step) {
    if (step == 4) std::raise(SIGINT);
  };
  auto r = run_training(m, copy_task(64, 1), {}, 0, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->interrupted);
  EXPECT_EQ(r->steps_done, 4);
  EXPECT_TRUE(file_exists(checkpoint_path(out)));
  fs::remove_all(out);
}

TEST(Trainer, CorruptCheckpointIsAnError) {
  const std::string out = temp_dir("corrupt");
  ASSERT_TRUE(ensure_dir(join_path(out, "checkpoints")).ok());
  ASSERT_TRUE(write_file_atomic(checkpoint_path(out), "CARTLMTRgarbage").ok());
  TrainModel<float> m = make_model(small_config(64), 3);
  TrainerOptions o = base_options(out);
  o.resume = true;
  auto r = run_training(m, copy_task(16, 1), {}, 0, o, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("state.bin"), std::string::npos) << r.message();
  fs::remove_all(out);
}

// The saved directory loads with load_model, and the inference forward pass gives the same loss
// as the training forward pass (so what was trained is what gets served).
TEST(Trainer, SavedModelLoadsAndMatchesTheTrainingForward) {
  const std::string out = temp_dir("save");
  Tokenizer tok = tiny_tok();
  Config c = small_config(tok.size());
  c.bos_token_id = tok.bos_id;
  c.eos_token_ids = {tok.eos_id};
  c.pad_token_id = tok.pad_id;
  TrainModel<float> m = make_model(c, 5);
  IntentMeta meta;
  meta.products = {"Lip Balm", "Soap"};
  ASSERT_TRUE(save_full_model(out, m, tok, meta).ok());
  auto lm = load_model(out);
  ASSERT_TRUE(lm.ok()) << lm.message();
  EXPECT_EQ((*lm)->meta, meta);
  EXPECT_EQ((*lm)->tokenizer.size(), tok.size());

  std::vector<TokenizedExample> one = copy_task(1, 4);
  const double train_loss = evaluate_loss(m, one, 1, 0, nullptr);
  LlamaSessionOptions so;
  so.max_seq = 16;
  so.all_logits = true;
  auto s = llama_session((*lm)->model, so);
  ASSERT_TRUE(s.ok());
  const TokenizedExample& ex = one[0];
  std::vector<int32_t> inputs(ex.tokens.begin(), ex.tokens.end() - 1);
  ASSERT_TRUE(llama_forward((*lm)->model, *s, inputs, nullptr).ok());
  double sum = 0;
  int n = 0;
  for (size_t t = (size_t)ex.prompt_len - 1; t < inputs.size(); ++t) {
    const float* lg = llama_logits(*s, t);
    double mx = lg[0];
    for (int v = 1; v < tok.size(); ++v) mx = std::max(mx, (double)lg[v]);
    double z = 0;
    for (int v = 0; v < tok.size(); ++v) z += std::exp(lg[v] - mx);
    sum += mx + std::log(z) - lg[ex.tokens[t + 1]];
    ++n;
  }
  EXPECT_NEAR(train_loss, sum / n, 1e-4);

  auto outs = greedy_outputs((*lm)->model, (*lm)->tokenizer, {{tok.bos_id, 10, 11}}, 5, nullptr,
                             false);
  ASSERT_TRUE(outs.ok()) << outs.message();
  EXPECT_EQ(outs->size(), 1u);
  fs::remove_all(out);
}

}  // namespace
}  // namespace cartlm
