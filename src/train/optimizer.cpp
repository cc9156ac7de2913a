#include "train/optimizer.h"

#include <cmath>

namespace cartlm {

void adamw_init(AdamWState& s, size_t n) {
  s.m.assign(n, 0.0f);
  s.v.assign(n, 0.0f);
  s.t = 0;
}

void adamw_update(float* params, const float* grads, size_t begin, size_t end, AdamWState& s,
                  const AdamWOptions& o, double lr, bool decay) {
  CARTLM_CHECK(end <= s.m.size() && begin <= end && s.t >= 1);
  // Bias corrections as in PyTorch: step = lr / bc1, denominator sqrt(v)/sqrt(bc2) + eps.
  const double bc1 = 1.0 - std::pow(o.beta1, (double)s.t);
  const double bc2 = 1.0 - std::pow(o.beta2, (double)s.t);
  const float b1 = (float)o.beta1, b2 = (float)o.beta2;
  const float step = (float)(lr / bc1);
  const float inv_sqrt_bc2 = (float)(1.0 / std::sqrt(bc2));
  const float eps = (float)o.eps;
  const float shrink = decay ? (float)(1.0 - lr * o.weight_decay) : 1.0f;
  float* m = s.m.data();
  float* v = s.v.data();
  for (size_t i = begin; i < end; ++i) {
    const float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    const float denom = std::sqrt(v[i]) * inv_sqrt_bc2 + eps;
    params[i] = params[i] * shrink - step * m[i] / denom;
  }
}

Result<Schedule> parse_schedule(const std::string& name) {
  if (name == "cosine") return Schedule::Cosine;
  if (name == "linear") return Schedule::Linear;
  if (name == "constant") return Schedule::Constant;
  return error("--schedule '" + name + "' is not one of cosine, linear, constant");
}

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::Cosine: return "cosine";
    case Schedule::Linear: return "linear";
    case Schedule::Constant: return "constant";
  }
  return "?";
}

double lr_at(const LrSchedule& s, int64_t step) {
  if (step < s.warmup_steps) return s.lr * (double)(step + 1) / (double)(s.warmup_steps + 1);
  const double min_lr = s.lr * s.min_lr_ratio;
  const int64_t decay_steps = s.total_steps - s.warmup_steps;
  if (s.kind == Schedule::Constant || decay_steps <= 0) return s.lr;
  double frac = (double)(step - s.warmup_steps) / (double)decay_steps;
  if (frac > 1.0) frac = 1.0;
  if (s.kind == Schedule::Linear) return min_lr + (s.lr - min_lr) * (1.0 - frac);
  return min_lr + (s.lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * frac));
}

double grad_norm(const float* grads, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += (double)grads[i] * (double)grads[i];
  return std::sqrt(sum);
}

double clip_grad_norm(float* grads, size_t n, double max_norm) {
  const double norm = grad_norm(grads, n);
  // Same rule as torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when above.
  if (max_norm > 0.0 && norm > max_norm) scale_grads(grads, n, (float)(max_norm / (norm + 1e-6)));
  return norm;
}

void scale_grads(float* grads, size_t n, float factor) {
  for (size_t i = 0; i < n; ++i) grads[i] *= factor;
}

}  // namespace cartlm
