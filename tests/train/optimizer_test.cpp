#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cartlm {
namespace {

// PyTorch AdamW written out in double for one scalar parameter.
struct RefAdamW {
  double p, m = 0, v = 0;
  int t = 0;
  void step(double g, double lr, double b1, double b2, double eps, double wd) {
    ++t;
    p *= 1.0 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
    p -= lr * mhat / (std::sqrt(vhat) + eps);
  }
};

TEST(AdamW, MatchesReferenceOverManySteps) {
  AdamWOptions o;
  o.weight_decay = 0.1;
  const std::vector<float> init = {0.5f, -1.25f, 3.0f, 0.0f};
  std::vector<float> p = init;
  AdamWState s;
  adamw_init(s, p.size());
  std::vector<RefAdamW> ref;
  for (float x : init) ref.push_back({x});
  for (int step = 0; step < 50; ++step) {
    std::vector<float> g(p.size());
    for (size_t i = 0; i < p.size(); ++i) g[i] = (float)std::sin(0.3 * step + (double)i) * 0.1f;
    const double lr = 1e-2 * (1 + step % 3);
    adamw_next_step(s);
    adamw_update(p.data(), g.data(), 0, p.size(), s, o, lr, true);
    for (size_t i = 0; i < p.size(); ++i)
      ref[i].step(g[i], lr, o.beta1, o.beta2, o.eps, o.weight_decay);
  }
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], ref[i].p, 2e-5) << "element " << i;
}

TEST(AdamW, FirstStepMovesByLrTimesSignAndDecayIsDecoupled) {
  AdamWOptions o;
  o.weight_decay = 0.5;
  std::vector<float> p = {1.0f, 1.0f}, g = {4.0f, -0.001f};
  AdamWState s;
  adamw_init(s, 2);
  adamw_next_step(s);
  // Range 0 without decay, range 1 with: the first Adam step is lr * sign(g) whatever |g| is.
  adamw_update(p.data(), g.data(), 0, 1, s, o, 0.1, false);
  adamw_update(p.data(), g.data(), 1, 2, s, o, 0.1, true);
  EXPECT_NEAR(p[0], 1.0 - 0.1, 1e-6);
  EXPECT_NEAR(p[1], 1.0 * (1 - 0.1 * 0.5) + 0.1, 1e-4);
}

TEST(Schedule, WarmupThenCosineAndLinear) {
  LrSchedule s;
  s.lr = 1.0;
  s.warmup_steps = 4;
  s.total_steps = 14;
  s.kind = Schedule::Cosine;
  EXPECT_NEAR(lr_at(s, 0), 0.2, 1e-12);
  EXPECT_NEAR(lr_at(s, 3), 0.8, 1e-12);
  EXPECT_NEAR(lr_at(s, 4), 1.0, 1e-12);   // peak right after warm-up
  EXPECT_NEAR(lr_at(s, 9), 0.5, 1e-12);   // half way through the decay
  EXPECT_NEAR(lr_at(s, 14), 0.0, 1e-12);  // end
  EXPECT_NEAR(lr_at(s, 20), 0.0, 1e-12);  // stays at the floor
  s.kind = Schedule::Linear;
  s.min_lr_ratio = 0.1;
  EXPECT_NEAR(lr_at(s, 9), 0.55, 1e-12);
  EXPECT_NEAR(lr_at(s, 14), 0.1, 1e-12);
  s.kind = Schedule::Constant;
  EXPECT_NEAR(lr_at(s, 13), 1.0, 1e-12);
  // Monotone decay for cosine.
  s.kind = Schedule::Cosine;
  for (int64_t i = 5; i < 14; ++i) EXPECT_LE(lr_at(s, i), lr_at(s, i - 1));
}

TEST(Schedule, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(*parse_schedule("linear"), Schedule::Linear);
  EXPECT_EQ(*parse_schedule("cosine"), Schedule::Cosine);
  auto bad = parse_schedule("step");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--schedule 'step'"), std::string::npos);
}

TEST(GradClip, ScalesDownOnlyAboveTheLimit) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_NEAR(clip_grad_norm(g.data(), 2, 10.0), 5.0, 1e-9);
  EXPECT_EQ(g[0], 3.0f);  // under the limit: untouched
  EXPECT_NEAR(clip_grad_norm(g.data(), 2, 1.0), 5.0, 1e-9);
  EXPECT_NEAR(grad_norm(g.data(), 2), 1.0, 1e-5);
  EXPECT_NEAR(g[0] / g[1], 0.75, 1e-6);  // direction kept
  std::vector<float> h = {30.0f, 40.0f};
  clip_grad_norm(h.data(), 2, 0.0);  // off
  EXPECT_EQ(h[1], 40.0f);
}

}  // namespace
}  // namespace cartlm
