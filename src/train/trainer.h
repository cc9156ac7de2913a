// The training loop: epochs of length-bucketed batches, gradient accumulation, global-norm
// clipping, AdamW with a warm-up + decay schedule, validation loss after each epoch, loss.csv,
// checkpoints every N optimizer steps (written atomically) with a bit-exact --resume, and Ctrl-C
// (SIGINT) that saves a checkpoint and returns cleanly. Works on TrainModel::trainable(), so full
// training and LoRA share it.
//
// Determinism: every random draw comes from Rng(seed).fork(stream) with the stream derived from
// the epoch (batch order) or the micro-batch number (LoRA dropout), and the ops do not depend on
// the thread count, so a run resumed from a checkpoint produces the same bytes as one that never
// stopped. The checkpoint holds the step counters, the trainable parameters, the AdamW moments
// and the loss history; it refuses to resume a run whose settings differ.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/intent_meta.h"
#include "tokenizer/tokenizer.h"
#include "train/ops.h"
#include "train/optimizer.h"
#include "train/train_data.h"

namespace cartlm {

class ThreadPool;
struct LlamaModel;

struct TrainerOptions {
  int epochs = 5;
  size_t batch = 8;              // sequences per micro-batch
  int grad_accum = 1;            // micro-batches per optimizer step
  double lr = 2e-5;              // peak learning rate
  double warmup = 0.03;          // < 1: share of all optimizer steps; >= 1: a number of steps
  Schedule schedule = Schedule::Cosine;
  double min_lr_ratio = 0.0;     // decay ends at lr * min_lr_ratio
  AdamWOptions adam;
  double grad_clip = 1.0;        // max global gradient norm (<= 0: off)
  uint64_t seed = 42;
  int64_t checkpoint_every = 0;  // optimizer steps between checkpoints (0: only on Ctrl-C)
  bool resume = false;           // continue from out_dir/checkpoints/state.bin
  size_t bucket_batches = 16;    // length-bucketing window in batches (see make_batches)
  int64_t max_steps = 0;         // stop after this many optimizer steps (0: all epochs)
  std::string out_dir;           // loss.csv and checkpoints/ go here
  bool progress = true;          // progress bar and per-epoch lines on stderr
  bool handle_sigint = true;     // Ctrl-C saves a checkpoint and returns (interrupted = true)
  int64_t kill_at_step = -1;     // testing only: SIGKILL itself right after this step
  std::string settings_tag;      // extra text that must match on resume (e.g. base model, data)
  std::function<void(int64_t step)> on_step;  // called after each optimizer step (tests, hooks)
};

// One row of loss.csv per optimizer step.
struct StepRecord {
  int64_t step = 0;   // 1-based optimizer step
  int32_t epoch = 0;  // 1-based
  double lr = 0, loss = 0, grad_norm = 0;
  double val_loss = -1;  // >= 0 on the last step of an epoch
};

struct TrainResult {
  int64_t steps_done = 0, total_steps = 0;
  bool interrupted = false;  // Ctrl-C: a checkpoint was saved, resume with --resume
  bool resumed = false;
  int64_t resumed_at_step = 0;
  double seconds = 0;        // training time, summed over resumed runs
  uint64_t tokens = 0;       // input tokens processed (padding excluded), summed likewise
  double tokens_per_s = 0;
  std::vector<StepRecord> history;
  std::vector<double> val_loss;  // per finished epoch
  std::string plot_warning;      // why loss.png could not be drawn (e.g. a NaN loss); "" = fine
};

// Runs training on `train` (and `val` for the per-epoch validation loss; may be empty). m must have
// been created with max_batch >= opt.batch and max_seq >= the longest input. pad_id fills padding.
// Errors: bad options, an unreadable or mismatching checkpoint, unwritable out_dir.
Result<TrainResult> run_training(TrainModel<float>& m, const std::vector<TokenizedExample>& train,
                                 const std::vector<TokenizedExample>& val, int32_t pad_id,
                                 const TrainerOptions& opt, ThreadPool* pool);

// Mean loss over the completion tokens of `data` (no dropout), batched by `batch`.
double evaluate_loss(TrainModel<float>& m, const std::vector<TokenizedExample>& data,
                     size_t batch, int32_t pad_id, ThreadPool* pool);

// Checkpoint file (out_dir/checkpoints/state.bin) paths and loss.csv text, exposed for tests.
std::string checkpoint_path(const std::string& out_dir);
std::string loss_csv_text(const std::vector<StepRecord>& history);
// loss.png: train loss per step and val loss per epoch (src/plot line chart), written atomically.
Status write_loss_png(const std::string& path, const std::vector<StepRecord>& history);

// A full model as a loadable HF checkpoint directory: config.json, model.safetensors (F32, names
// from param_slots), generation_config.json, tokenizer.json + tokenizer_config.json, cartlm.json.
// Every file is written atomically.
Status save_full_model(const std::string& dir, const TrainModel<float>& m, const Tokenizer& tok,
                       const IntentMeta& meta);

// Greedy decoding of each prompt (token ids, bos included) until an end-of-generation token or
// max_new tokens; returns the decoded completion texts (specials not rendered).
Result<std::vector<std::string>> greedy_outputs(const LlamaModel& model, const Tokenizer& tok,
                                                const std::vector<std::vector<int32_t>>& prompts,
                                                size_t max_new, ThreadPool* pool,
                                                bool progress);

}  // namespace cartlm
