// The QLoRA memory point on a Llama-3.2-1B-shaped checkpoint: a few training steps with tokens/s
// and peak RSS (getrusage). Too big for the default test run (a 2.5 GB checkpoint, minutes on two
// cores), so it runs only when CARTLM_LORA_1B_DIR names an HF dir (made here with the
// llama-3.2-1b preset, as `cartlm init --preset llama-3.2-1b` does, when it has no config.json);
// CARTLM_LORA_1B_MODE=lora measures plain
// LoRA (bf16 views) instead, CARTLM_LORA_1B_STEPS / _SEQ / _BATCH change the run.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/thread_pool.h"
#include "core/file_io.h"
#include "core/timer.h"
#include "model/init.h"
#include "train/lora_model.h"
#include "train/lora_test_util.h"

namespace cartlm {
namespace {

double peak_rss_gib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss * 1024.0 / (1024.0 * 1024.0 * 1024.0);  // ru_maxrss is KiB
}

// User + system CPU seconds of the process (the machine is shared: wall time alone overstates).
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

size_t env_or(const char* name, size_t def) {
  const char* v = std::getenv(name);
  return v && *v ? (size_t)std::strtoull(v, nullptr, 10) : def;
}

TEST(Qlora1B, FewStepsFitIn24GiB) {
  const char* dir = std::getenv("CARTLM_LORA_1B_DIR");
  if (!dir || !*dir) GTEST_SKIP() << "set CARTLM_LORA_1B_DIR to a Llama-3.2-1B-shaped HF dir";
  const char* mode = std::getenv("CARTLM_LORA_1B_MODE");
  const bool qlora = !(mode && std::string(mode) == "lora");
  if (!file_exists(join_path(dir, "config.json"))) {
    InitOptions io;
    io.preset = "llama-3.2-1b";
    io.out_dir = dir;
    io.progress = false;
    Result<InitReport> ir = init_checkpoint(io);
    ASSERT_TRUE(ir.ok()) << ir.message();
  }
  const size_t B = env_or("CARTLM_LORA_1B_BATCH", 2), T = env_or("CARTLM_LORA_1B_SEQ", 48);
  const int steps = (int)env_or("CARTLM_LORA_1B_STEPS", 3);
  ThreadPool pool(0);
  TrainOptions opt;
  opt.max_batch = B;
  opt.max_seq = T;
  opt.lora.rank = 8;
  opt.lora.alpha = 16;
  opt.lora.dropout = 0.1;
  Rng rng(1);
  Timer load;
  Result<TrainModel<float>> r = train_model_for_adapter(dir, qlora, opt, rng, &pool);
  ASSERT_TRUE(r.ok()) << r.message();
  TrainModel<float>& m = *r;
  const double load_s = load.seconds(), rss_after_load = peak_rss_gib();
  std::printf("%s load %.1f s: base matrices %.1f MiB for %.0fM params (%.3f bytes/param), "
              "embedding/head views %.1f MiB, LoRA params %zu, TrainModel allocations %.1f MiB; "
              "peak RSS so far %.2f GiB\n",
              qlora ? "QLoRA" : "LoRA", load_s, m.frozen->matrix_bytes / 1048576.0,
              m.frozen->matrix_params / 1e6,
              (double)m.frozen->matrix_bytes / (double)m.frozen->matrix_params,
              m.frozen->embed_bytes / 1048576.0, m.num_lora_parameters, m.bytes() / 1048576.0,
              rss_after_load);
  Rng data(2), drop(3);
  test::LoraAdam adam;
  double secs = 0.0;
  const double cpu0 = cpu_seconds();
  for (int s = 0; s < steps; ++s) {
    test::LoraBatch b = test::lora_task_batch(data, B, T, m.config.vocab_size);
    Timer t;
    train_model_zero_grad(m);
    const double loss = train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(),
                                            nullptr, B, T, &drop, &pool);
    train_model_backward(m, &pool);
    adam.update(m.trainable(), m.trainable_grads(), m.num_trainable(), 1e-3f);
    const double dt = t.seconds();
    secs += dt;
    std::printf("step %d: loss %.4f, %.1f s, %.1f tokens/s\n", s + 1, loss, dt,
                (double)(B * T) / dt);
    EXPECT_TRUE(std::isfinite(loss));
  }
  const double peak = peak_rss_gib(), cpu = cpu_seconds() - cpu0;
  std::printf("%s %d steps of %zux%zu tokens on %d threads: %.1f tokens/s wall (%.1f CPU-s per "
              "step), peak RSS %.2f GiB\n",
              qlora ? "QLoRA" : "LoRA", steps, B, T, pool.size(), (double)(B * T) * steps / secs,
              cpu / steps, peak);
  EXPECT_LT(peak, 24.0);
}

}  // namespace
}  // namespace cartlm
