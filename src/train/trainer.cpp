#include "train/trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/progress.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "model/llama.h"
#include "plot/plot.h"

namespace cartlm {

namespace {

// Rng streams: epoch e shuffles with fork(kEpochStream + e), micro-batch i draws LoRA dropout
// masks with fork(kDropoutStream + i). Deriving them from counters (instead of carrying one
// generator along) is what lets a checkpoint resume bit-exactly without saving generator state.
constexpr uint64_t kEpochStream = 1;
constexpr uint64_t kDropoutStream = 1ull << 32;

constexpr char kCkptMagic[8] = {'C', 'A', 'R', 'T', 'L', 'M', 'T', 'R'};
constexpr uint32_t kCkptVersion = 1;

std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) { g_stop_requested.store(true); }

// Installs the Ctrl-C handler for the lifetime of the loop. SA_RESETHAND: a second Ctrl-C kills
// the process the usual way if saving hangs.
struct SigintGuard {
  bool active = false;
  struct sigaction old {};
  explicit SigintGuard(bool enable) {
    g_stop_requested.store(false);
    if (!enable) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    active = sigaction(SIGINT, &sa, &old) == 0;
  }
  ~SigintGuard() {
    if (active) sigaction(SIGINT, &old, nullptr);
  }
};

// Little binary writer/reader for the checkpoint (host byte order: checkpoints are for resuming
// on the same machine, not for exchange).
struct Writer {
  std::string buf;
  template <class T>
  void put(const T& v) {
    buf.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void put_bytes(const void* p, size_t n) { buf.append(static_cast<const char*>(p), n); }
  void put_str(const std::string& s) {
    put<uint64_t>(s.size());
    buf += s;
  }
};
struct Reader {
  const std::string& buf;
  size_t pos = 0;
  bool ok = true;
  template <class T>
  T get() {
    T v{};
    get_bytes(&v, sizeof(T));
    return v;
  }
  void get_bytes(void* p, size_t n) {
    if (!ok || buf.size() - pos < n) {
      ok = false;
      return;
    }
    std::memcpy(p, buf.data() + pos, n);
    pos += n;
  }
  std::string get_str() {
    uint64_t n = get<uint64_t>();
    if (!ok || buf.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string s = buf.substr(pos, n);
    pos += n;
    return s;
  }
};

struct LoopState {
  int64_t step = 0;     // optimizer steps done
  int32_t epoch = 0;    // 0-based epoch in progress
  uint64_t micro = 0;   // next micro-batch index within the epoch
  double seconds = 0;   // training time before this process
  uint64_t tokens = 0;
};

// Everything that changes the trajectory; a checkpoint only resumes under the same settings.
std::string settings_text(const TrainerOptions& o, const TrainModel<float>& m, size_t n_train,
                          size_t n_val) {
  return strformat(
      "epochs=%d batch=%zu accum=%d lr=%.9g warmup=%.9g schedule=%s min_lr=%.9g wd=%.9g "
      "betas=%.9g,%.9g eps=%.9g clip=%.9g seed=%llu bucket=%zu train=%zu val=%zu trainable=%zu "
      "%s",
      o.epochs, o.batch, o.grad_accum, o.lr, o.warmup, schedule_name(o.schedule), o.min_lr_ratio,
      o.adam.weight_decay, o.adam.beta1, o.adam.beta2, o.adam.eps, o.grad_clip,
      (unsigned long long)o.seed, o.bucket_batches, n_train, n_val, m.num_trainable(),
      o.settings_tag.c_str());
}

Status save_checkpoint(const std::string& out_dir, const std::string& settings,
                       const LoopState& st, const TrainModel<float>& m, const AdamWState& adam,
                       const TrainResult& r) {
  CARTLM_RETURN_IF_ERROR(ensure_dir(join_path(out_dir, "checkpoints")));
  Writer w;
  w.put_bytes(kCkptMagic, sizeof(kCkptMagic));
  w.put(kCkptVersion);
  w.put_str(settings);
  w.put(st.step);
  w.put(st.epoch);
  w.put(st.micro);
  w.put(st.seconds);
  w.put(st.tokens);
  w.put(adam.t);
  w.put<uint64_t>(r.history.size());
  for (const StepRecord& h : r.history) {
    w.put(h.step);
    w.put(h.epoch);
    w.put(h.lr);
    w.put(h.loss);
    w.put(h.grad_norm);
    w.put(h.val_loss);
  }
  w.put<uint64_t>(r.val_loss.size());
  for (double v : r.val_loss) w.put(v);
  const size_t n = m.num_trainable();
  w.put<uint64_t>(n);
  w.put_bytes(m.trainable(), n * sizeof(float));
  w.put_bytes(adam.m.data(), n * sizeof(float));
  w.put_bytes(adam.v.data(), n * sizeof(float));
  return write_file_atomic(checkpoint_path(out_dir), w.buf);
}

Status load_checkpoint(const std::string& path, const std::string& settings, LoopState& st,
                       TrainModel<float>& m, AdamWState& adam, TrainResult& r) {
  CARTLM_ASSIGN_OR_RETURN(std::string buf, read_file(path));
  Reader rd{buf};
  char magic[8];
  rd.get_bytes(magic, sizeof(magic));
  if (!rd.ok || std::memcmp(magic, kCkptMagic, sizeof(magic)) != 0)
    return error(path + ": not a cartlm training checkpoint");
  if (uint32_t v = rd.get<uint32_t>(); v != kCkptVersion)
    return error(strformat("%s: checkpoint version %u, expected %u", path.c_str(), v,
                           kCkptVersion));
  const std::string saved = rd.get_str();
  if (rd.ok && saved != settings)
    return error(path + ": written with different settings (" + saved + ") than now (" +
                 settings + "); hint: resume with the same flags and data, or drop --resume");
  st.step = rd.get<int64_t>();
  st.epoch = rd.get<int32_t>();
  st.micro = rd.get<uint64_t>();
  st.seconds = rd.get<double>();
  st.tokens = rd.get<uint64_t>();
  adam.t = rd.get<int64_t>();
  const uint64_t nh = rd.get<uint64_t>();
  if (!rd.ok || nh > buf.size()) return error(path + ": truncated checkpoint");
  r.history.resize(nh);
  for (StepRecord& h : r.history) {
    h.step = rd.get<int64_t>();
    h.epoch = rd.get<int32_t>();
    h.lr = rd.get<double>();
    h.loss = rd.get<double>();
    h.grad_norm = rd.get<double>();
    h.val_loss = rd.get<double>();
  }
  const uint64_t nv = rd.get<uint64_t>();
  if (!rd.ok || nv > buf.size()) return error(path + ": truncated checkpoint");
  r.val_loss.resize(nv);
  for (double& v : r.val_loss) v = rd.get<double>();
  const uint64_t n = rd.get<uint64_t>();
  if (rd.ok && n != m.num_trainable())
    return error(strformat("%s: checkpoint has %llu trainable values, the model %zu", path.c_str(),
                           (unsigned long long)n, m.num_trainable()));
  rd.get_bytes(m.trainable(), n * sizeof(float));
  rd.get_bytes(adam.m.data(), n * sizeof(float));
  rd.get_bytes(adam.v.data(), n * sizeof(float));
  if (!rd.ok || rd.pos != buf.size()) return error(path + ": truncated or corrupt checkpoint");
  return {};
}

// [begin, end) ranges of the trainable array with whether weight decay applies: not to norms or
// biases (as HF Trainer), always to LoRA matrices.
struct DecayRange {
  size_t begin, end;
  bool decay;
};
std::vector<DecayRange> decay_ranges(const TrainModel<float>& m) {
  if (!m.train_base()) return {{0, m.num_trainable(), true}};
  std::vector<DecayRange> out;
  size_t off = 0;
  for (int t = 0; t < kNumParamTensors; ++t) {
    const size_t n = m.param_sizes[t];
    const bool no_decay = t == kParamLn1w || t == kParamLn2w || t == kParamLnfw ||
                          t == kParamBq || t == kParamBk || t == kParamBv;
    if (n) out.push_back({off, off + n, !no_decay});
    off += n;
  }
  CARTLM_CHECK(off == m.num_trainable());
  return out;
}

std::string fmt_count(double v) {
  if (v >= 1e6) return strformat("%.2fM", v / 1e6);
  if (v >= 1e3) return strformat("%.1fk", v / 1e3);
  return strformat("%.0f", v);
}

}  // namespace

std::string checkpoint_path(const std::string& out_dir) {
  return join_path(join_path(out_dir, "checkpoints"), "state.bin");
}

std::string loss_csv_text(const std::vector<StepRecord>& history) {
  std::string s = "step,epoch,lr,train_loss,grad_norm,val_loss\n";
  for (const StepRecord& h : history) {
    s += strformat("%lld,%d,%.6g,%.6f,%.6f,", (long long)h.step, h.epoch, h.lr, h.loss,
                   h.grad_norm);
    if (h.val_loss >= 0) s += strformat("%.6f", h.val_loss);
    s += "\n";
  }
  return s;
}

Status write_loss_png(const std::string& path, const std::vector<StepRecord>& history) {
  Series train{"train loss", {}, {}, {}, {}}, val{"val loss", {}, {}, {}, {}};
  for (const StepRecord& h : history) {
    train.x.push_back((double)h.step);
    train.y.push_back(h.loss);
    if (h.val_loss >= 0) {
      val.x.push_back((double)h.step);
      val.y.push_back(h.val_loss);
    }
  }
  std::vector<Series> series = {train};
  if (!val.x.empty()) series.push_back(val);
  ChartSpec spec;
  spec.title = "Training loss (completion tokens)";
  spec.x_label = "optimizer step";
  spec.y_label = "cross-entropy (nats/token)";
  spec.log_y = true;
  for (const Series& s : series)
    for (double y : s.y)
      if (!(y > 0)) spec.log_y = false;
  return plot_line_chart_png(path, spec, series);
}

double evaluate_loss(TrainModel<float>& m, const std::vector<TokenizedExample>& data,
                     size_t batch, int32_t pad_id, ThreadPool* pool) {
  if (data.empty()) return 0.0;
  // Sorted by length: least padding; the order does not matter for a weighted mean.
  std::vector<uint32_t> order(data.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = (uint32_t)i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return data[a].inputs() < data[b].inputs(); });
  double sum = 0.0;
  size_t count = 0;
  Batch b;
  for (size_t i = 0; i < order.size(); i += batch) {
    std::vector<uint32_t> idx(order.begin() + (ptrdiff_t)i,
                              order.begin() + (ptrdiff_t)std::min(order.size(), i + batch));
    fill_batch(b, data, idx, pad_id);
    const double loss = train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(),
                                            b.lens.data(), b.B, b.T, nullptr, pool);
    sum += loss * (double)b.loss_tokens;
    count += b.loss_tokens;
  }
  return count ? sum / (double)count : 0.0;
}

Result<TrainResult> run_training(TrainModel<float>& m, const std::vector<TokenizedExample>& train,
                                 const std::vector<TokenizedExample>& val, int32_t pad_id,
                                 const TrainerOptions& opt, ThreadPool* pool) {
  if (opt.epochs < 1) return error(strformat("--epochs must be >= 1, got %d", opt.epochs));
  if (opt.batch < 1) return error("--batch must be >= 1");
  if (opt.batch > m.opt.max_batch)
    return error(strformat("--batch %zu exceeds the model's planned batch %zu", opt.batch,
                           m.opt.max_batch));
  if (opt.grad_accum < 1) return error(strformat("--grad-accum must be >= 1, got %d", opt.grad_accum));
  if (!(opt.lr > 0)) return error("--lr must be > 0");
  if (opt.warmup < 0) return error("--warmup must be >= 0");
  if (opt.adam.weight_decay < 0) return error("--weight-decay must be >= 0");
  if (train.empty()) return error("no training examples");
  if (opt.out_dir.empty()) return error("--out is required");
  if (pad_id < 0 || pad_id >= m.config.vocab_size)
    return error(strformat("pad token id %d is outside the vocabulary", pad_id));
  for (const auto* set : {&train, &val})
    for (const TokenizedExample& ex : *set)
      if (ex.inputs() > m.opt.max_seq || ex.inputs() < 1)
        return error(strformat("an example has %zu input tokens; the model plans 1..%zu",
                               ex.inputs(), m.opt.max_seq));
  CARTLM_RETURN_IF_ERROR(ensure_dir(opt.out_dir));

  std::vector<size_t> lengths(train.size());
  for (size_t i = 0; i < train.size(); ++i) lengths[i] = train[i].inputs();
  const uint64_t nb = (train.size() + opt.batch - 1) / opt.batch;
  const uint64_t accum = (uint64_t)opt.grad_accum;
  const int64_t steps_per_epoch = (int64_t)((nb + accum - 1) / accum);
  TrainResult r;
  r.total_steps = steps_per_epoch * opt.epochs;
  if (opt.max_steps > 0) r.total_steps = std::min(r.total_steps, opt.max_steps);
  LrSchedule sched;
  sched.lr = opt.lr;
  sched.kind = opt.schedule;
  sched.min_lr_ratio = opt.min_lr_ratio;
  sched.total_steps = steps_per_epoch * opt.epochs;  // max_steps cuts a run short, not the curve
  sched.warmup_steps = opt.warmup < 1.0 ? (int64_t)std::llround(opt.warmup * sched.total_steps)
                                        : (int64_t)opt.warmup;

  AdamWState adam;
  adamw_init(adam, m.num_trainable());
  LoopState st;
  const std::string settings = settings_text(opt, m, train.size(), val.size());
  const std::string ckpt = checkpoint_path(opt.out_dir);
  if (opt.resume && file_exists(ckpt)) {
    CARTLM_RETURN_IF_ERROR(load_checkpoint(ckpt, settings, st, m, adam, r));
    r.resumed = true;
    r.resumed_at_step = st.step;
  }
  const std::vector<DecayRange> ranges = decay_ranges(m);
  const Rng root(opt.seed);
  SigintGuard sigint(opt.handle_sigint);
  Timer timer;
  uint64_t run_tokens = 0;
  ProgressBar bar("train", (uint64_t)r.total_steps, opt.progress);
  bar.update((uint64_t)std::min(st.step, r.total_steps));
  Batch b;
  float* params = m.trainable();
  float* grads = m.trainable_grads();
  const size_t n = m.num_trainable();
  auto save = [&]() -> Status {
    LoopState now = st;
    now.seconds = st.seconds + timer.seconds();
    now.tokens = st.tokens + run_tokens;
    CARTLM_RETURN_IF_ERROR(save_checkpoint(opt.out_dir, settings, now, m, adam, r));
    return write_file_atomic(join_path(opt.out_dir, "loss.csv"), loss_csv_text(r.history));
  };
  bool stop = st.step >= r.total_steps;
  for (; !stop && st.epoch < opt.epochs; ++st.epoch, st.micro = 0) {
    Rng epoch_rng = root.fork(kEpochStream + (uint64_t)st.epoch);
    const std::vector<std::vector<uint32_t>> batches =
        make_batches(lengths, opt.batch, opt.bucket_batches, epoch_rng);
    CARTLM_CHECK(batches.size() == nb);
    while (st.micro < nb) {
      train_model_zero_grad(m);
      const uint64_t k = std::min<uint64_t>(accum, nb - st.micro);
      double loss_sum = 0.0;
      for (uint64_t j = 0; j < k; ++j) {
        fill_batch(b, train, batches[st.micro + j], pad_id);
        Rng drop = root.fork(kDropoutStream + (uint64_t)st.epoch * nb + st.micro + j);
        loss_sum += train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(),
                                        b.lens.data(), b.B, b.T, &drop, pool);
        train_model_backward(m, pool);
        run_tokens += b.real_tokens;
      }
      // Each micro-batch's loss is a mean over its tokens; the step averages them.
      if (k > 1) scale_grads(grads, n, 1.0f / (float)k);
      StepRecord rec;
      rec.grad_norm = clip_grad_norm(grads, n, opt.grad_clip);
      rec.lr = lr_at(sched, st.step);
      adamw_next_step(adam);
      for (const DecayRange& dr : ranges) {
        auto body = [&](size_t b0, size_t e0) {
          adamw_update(params, grads, dr.begin + b0, dr.begin + e0, adam, opt.adam, rec.lr,
                       dr.decay);
        };
        if (pool)
          pool->parallel_for(dr.end - dr.begin, 4096, body);
        else
          body(0, dr.end - dr.begin);
      }
      st.micro += k;
      ++st.step;
      rec.step = st.step;
      rec.epoch = st.epoch + 1;
      rec.loss = loss_sum / (double)k;
      if (st.micro == nb && !val.empty()) {
        rec.val_loss = evaluate_loss(m, val, opt.batch, pad_id, pool);
        r.val_loss.push_back(rec.val_loss);
      }
      r.history.push_back(rec);
      const double el = timer.seconds();
      bar.update((uint64_t)st.step,
                 strformat("epoch %d/%d loss %.4f %s tok/s", st.epoch + 1, opt.epochs, rec.loss,
                           fmt_count(el > 0 ? run_tokens / el : 0).c_str()));
      if (rec.val_loss >= 0 && opt.progress)
        std::fprintf(stderr, "\nepoch %d/%d: train loss %.4f, val loss %.4f\n", st.epoch + 1,
                     opt.epochs, rec.loss, rec.val_loss);
      if (opt.checkpoint_every > 0 && st.step % opt.checkpoint_every == 0)
        CARTLM_RETURN_IF_ERROR(save());
      if (opt.on_step) opt.on_step(st.step);
      if (opt.kill_at_step == st.step) std::raise(SIGKILL);
      if (g_stop_requested.load()) {
        CARTLM_RETURN_IF_ERROR(save());
        r.interrupted = true;
        stop = true;
        break;
      }
      if (st.step >= r.total_steps) {
        stop = true;
        if (r.history.back().val_loss < 0 && !val.empty()) {
          // --max-steps ended the run mid-epoch: still report where val stands.
          r.history.back().val_loss = evaluate_loss(m, val, opt.batch, pad_id, pool);
          r.val_loss.push_back(r.history.back().val_loss);
        }
        // Leave the counters where a resume would continue (the epoch may be done).
        break;
      }
    }
    if (stop && st.micro < nb) break;  // do not advance the epoch counter mid-epoch
  }
  bar.finish();
  r.steps_done = st.step;
  r.seconds = st.seconds + timer.seconds();
  r.tokens = st.tokens + run_tokens;
  r.tokens_per_s = r.seconds > 0 ? (double)r.tokens / r.seconds : 0.0;
  if (!r.history.empty()) {
    // A chart is a nicety: a failure to draw it (NaN loss) must not lose the trained weights.
    Status png = write_loss_png(join_path(opt.out_dir, "loss.png"), r.history);
    if (!png.ok()) r.plot_warning = png.message();
  }
  if (!r.interrupted) {
    if (opt.checkpoint_every > 0) {
      // The final state, so --resume after a finished run is a no-op.
      CARTLM_RETURN_IF_ERROR(save());
    } else {
      CARTLM_RETURN_IF_ERROR(
          write_file_atomic(join_path(opt.out_dir, "loss.csv"), loss_csv_text(r.history)));
    }
  }
  return r;
}

Status save_full_model(const std::string& dir, const TrainModel<float>& m, const Tokenizer& tok,
                       const IntentMeta& meta) {
  CARTLM_RETURN_IF_ERROR(ensure_dir(dir));
  const Config& c = m.config;
  std::vector<TensorView> views;
  for (const ParamSlot& s : param_slots(c)) {
    TensorView v;
    v.name = s.name;
    v.dtype = DType::F32;
    v.shape = s.shape;
    v.data = m.params_memory.data() + s.offset;
    v.nbytes = (uint64_t)v.numel() * sizeof(float);
    views.push_back(std::move(v));
  }
  CARTLM_RETURN_IF_ERROR(write_safetensors(join_path(dir, "model.safetensors"), views));
  Config out = c;
  out.torch_dtype = "float32";
  CARTLM_RETURN_IF_ERROR(save_hf_config(join_path(dir, "config.json"), out));
  nlohmann::json gen = nlohmann::json::object();
  if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
  if (!c.eos_token_ids.empty()) gen["eos_token_id"] = c.eos_token_ids[0];
  if (c.pad_token_id) gen["pad_token_id"] = *c.pad_token_id;
  CARTLM_RETURN_IF_ERROR(
      write_file_atomic(join_path(dir, "generation_config.json"), gen.dump(2) + "\n"));
  CARTLM_RETURN_IF_ERROR(save_tokenizer(dir, tok));
  return save_intent_meta(dir, meta);
}

Result<std::vector<std::string>> greedy_outputs(const LlamaModel& model, const Tokenizer& tok,
                                                const std::vector<std::vector<int32_t>>& prompts,
                                                size_t max_new, ThreadPool* pool,
                                                bool progress) {
  size_t longest = 1;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  LlamaSessionOptions so;
  so.max_seq = longest + max_new + 1;
  CARTLM_ASSIGN_OR_RETURN(LlamaSession s, llama_session(model, so));
  std::vector<std::string> out;
  out.reserve(prompts.size());
  ProgressBar bar("greedy decode", prompts.size(), progress);
  std::vector<int32_t> gen;
  for (const auto& p : prompts) {
    llama_truncate(s, 0);
    gen.clear();
    if (!p.empty()) {
      CARTLM_RETURN_IF_ERROR(llama_forward(model, s, p, pool));
      for (size_t i = 0; i < max_new; ++i) {
        const float* logits = llama_logits(s);
        int32_t best = 0;
        for (int32_t v = 1; v < (int32_t)s.vocab; ++v)
          if (logits[v] > logits[best]) best = v;
        if (tok.is_eog(best)) break;
        gen.push_back(best);
        CARTLM_RETURN_IF_ERROR(llama_forward(model, s, std::span<const int32_t>(&best, 1), pool));
      }
    }
    out.push_back(decode(tok, gen, /*render_special=*/false));
    bar.update(out.size());
  }
  bar.finish();
  return out;
}

}  // namespace cartlm
