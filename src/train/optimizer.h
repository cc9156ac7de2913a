// AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch torch.optim.AdamW semantics),
// learning-rate schedules (linear warm-up, then cosine or linear decay) and global-norm gradient
// clipping. All of it works on flat float arrays (TrainModel::trainable() / trainable_grads()), so
// full training and LoRA share one code path. Sums are taken in double in a fixed order, so results
// do not depend on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: p -= lr * wd * p, applied only where `decay` is set
};

// First and second moments, one per trainable element, and the step count (bias correction).
struct AdamWState {
  std::vector<float> m, v;
  int64_t t = 0;
};
void adamw_init(AdamWState& s, size_t n);

// One AdamW step on elements [begin, end) of params/grads at learning rate `lr`, using step
// number s.t (call adamw_next_step once per optimizer step before updating the ranges). decay:
// whether weight decay applies to this range (off for norms, on for matrices and embeddings).
void adamw_update(float* params, const float* grads, size_t begin, size_t end, AdamWState& s,
                  const AdamWOptions& o, double lr, bool decay);
inline void adamw_next_step(AdamWState& s) { ++s.t; }

enum class Schedule { Cosine, Linear, Constant };
// "cosine", "linear", "constant"; errors name the flag value.
Result<Schedule> parse_schedule(const std::string& name);
const char* schedule_name(Schedule s);

struct LrSchedule {
  double lr = 1e-3;            // peak
  int64_t warmup_steps = 0;    // linear from lr/(warmup+1) up to lr
  int64_t total_steps = 1;     // the decay ends here
  double min_lr_ratio = 0.0;   // the decay goes down to lr * min_lr_ratio
  Schedule kind = Schedule::Cosine;
};
// Learning rate for optimizer step `step` (0-based).
double lr_at(const LrSchedule& s, int64_t step);

// L2 norm of grads[0, n) (summed in double).
double grad_norm(const float* grads, size_t n);
// Scales grads so that their norm is at most max_norm (max_norm <= 0: no clipping). Returns the
// norm before clipping.
double clip_grad_norm(float* grads, size_t n, double max_norm);
// grads *= factor.
void scale_grads(float* grads, size_t n, float factor);

}  // namespace cartlm
