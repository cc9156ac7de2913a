// `cartlm gptq`: GPTQ post-training quantization (REFERENCE.md §6) calibrated on the intent data.
// Every linear of every layer is quantized column by column with error feedback through the
// inverse Hessian of its inputs, layer by layer, with the already-quantized layers' outputs as the
// next layer's inputs (train/gptq_run.h). Outputs:
//   --format autogptq   an AutoGPTQ-layout directory (HF/AutoGPTQ/vLLM load it; so does cartlm)
//   --format gguf-q4_0  a llama.cpp GGUF: GPTQ on the Q4_0 grid (blocks of 32), mix Q4_0
//   --format gguf-q4_k  a llama.cpp GGUF: GPTQ codes on the Q4_K grid of the reference quantizer,
//                       mix Q4_K_M (the tensors the mix gives Q6_K are quantized as usual)
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "cli/cli.h"
#include "core/progress.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "formats/dataset.h"
#include "model/gguf_export.h"
#include "model/gptq_checkpoint.h"
#include "model/load.h"
#include "quant/gptq_pack.h"
#include "quant/imatrix_file.h"
#include "quant/mix.h"
#include "train/gptq_run.h"

namespace cartlm::cli {

namespace {

struct GptqArgs {
  std::string model, data, out;
  std::string format = "autogptq";
  int bits = 4;
  int64_t group = 128;
  bool sym = true;
  bool act_order = false;
  double damp = 0.01;
  size_t samples = 300;
  uint64_t seed = 0;
  size_t batch = 16;
  std::string imatrix;
  int threads = 0;
  bool quiet = false;
};

TensorView* site_view(LayerWeights& lw, int site) {
  switch (site) {
    case kLoraQ: return &lw.wq;
    case kLoraK: return &lw.wk;
    case kLoraV: return &lw.wv;
    case kLoraO: return &lw.wo;
    case kLoraGate: return &lw.w_gate;
    case kLoraUp: return &lw.w_up;
    default: return &lw.w_down;
  }
}

int run_gptq(const GptqArgs& a) {
  const bool autogptq = a.format == "autogptq";
  if (!autogptq && a.format != "gguf-q4_0" && a.format != "gguf-q4_k")
    return fail(error("--format: \"" + a.format + "\" is not one of autogptq, gguf-q4_0, gguf-q4_k"));
  if (!autogptq && a.bits != 4)
    return fail(error(strformat("--bits %d: the GGUF formats are 4-bit (use --format autogptq "
                                "for 2, 3 or 8 bits)", a.bits)));
  if (!autogptq && !a.sym)
    return fail(error("--asym: the GGUF grids fix the zero point; use --format autogptq"));
  if (a.bits != 2 && a.bits != 3 && a.bits != 4 && a.bits != 8)
    return fail(error(strformat("--bits %d: must be 2, 3, 4 or 8", a.bits)));
  if (a.group == 0 || a.group < -1)
    return fail(error(strformat("--group %lld: must be positive or -1", (long long)a.group)));
  if (a.samples == 0) return fail(error("--samples must be positive"));
  Timer timer;
  auto lm = load_model(a.model);
  if (!lm.ok()) return fail(lm.status());
  LoadedModel& m = **lm;
  if (m.format != ModelFormat::HfDir)
    return fail(error(a.model + ": gptq needs an HF checkpoint directory (full-precision weights)"));
  const Config& c = m.model.config;
  auto examples = read_dataset(a.data);
  if (!examples.ok()) return fail(examples.status());
  if (examples->empty()) return fail(error(a.data + ": no examples"));
  auto seqs = calibration_sequences(sample_examples(*examples, a.samples, a.seed), m.tokenizer, m.meta);
  if (!seqs.ok()) return fail(seqs.status());
  size_t tokens = 0;
  for (const auto& s : *seqs) tokens += s.size();

  Imatrix imatrix;
  std::map<std::string, std::vector<float>> importance;
  std::function<const float*(const std::string&)> importance_fn;
  if (!a.imatrix.empty()) {
    if (a.format != "gguf-q4_k")
      return fail(error("--imatrix is used by --format gguf-q4_k only (it sets the Q4_K scales)"));
    auto im = read_imatrix(a.imatrix);
    if (!im.ok()) return fail(im.status());
    imatrix = std::move(*im);
    for (const auto& [name, e] : imatrix.entries) importance[name] = imatrix_importance(e, imatrix.is_legacy);
    importance_fn = [&](const std::string& name) -> const float* {
      auto it = importance.find(name);
      return it == importance.end() ? nullptr : it->second.data();
    };
  }

  GptqRunOptions opt;
  opt.gptq.bits = a.bits;
  opt.gptq.group_size = a.group;
  opt.gptq.sym = a.sym;
  opt.gptq.act_order = a.act_order;
  opt.gptq.damp = a.damp;
  opt.gptq.grid = autogptq ? GptqGrid::MinMax
                           : a.format == "gguf-q4_0" ? GptqGrid::Q4_0 : GptqGrid::Q4_K;
  opt.max_batch = a.batch;
  opt.progress = !a.quiet;
  if (importance_fn) opt.importance = &importance_fn;
  if (autogptq) {
    // Check packability before hours of work: every in/out must fill whole int32 words.
    for (int site = 0; site < kNumLoraSites; ++site) {
      size_t in, out;
      lora_site_dims(c, site, &in, &out);
      if ((in * (size_t)a.bits) % 32 || (out * (size_t)a.bits) % 32)
        return fail(error(strformat("%s: %s is [%zu, %zu], which %d-bit AutoGPTQ cannot pack",
                                    a.model.c_str(), lora_site_module(site), out, in, a.bits)));
    }
  }
  std::string mix_name;
  if (!autogptq) {
    // Quantize with GPTQ exactly the linears the mix gives the grid's type.
    mix_name = a.format == "gguf-q4_0" ? "Q4_0" : "Q4_K_M";
    auto mix = quant_mix_from_name(mix_name);
    if (!mix.ok()) return fail(mix.status());
    std::vector<MixTensor> mt;
    for (int64_t l = 0; l < c.num_hidden_layers; ++l)
      for (int site = 0; site < kNumLoraSites; ++site) {
        size_t in, out;
        lora_site_dims(c, site, &in, &out);
        mt.push_back({gguf_linear_name(l, site), DType::F32, {(int64_t)in, (int64_t)out}});
      }
    auto plan = plan_quant_mix(*mix, {c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads},
                               mt, !a.imatrix.empty());
    if (!plan.ok()) return fail(plan.status());
    const DType want = opt.gptq.grid == GptqGrid::Q4_0 ? DType::Q4_0 : DType::Q4_K;
    auto types = std::make_shared<std::vector<DType>>(plan->types);
    opt.quantize_site = [types, want](int64_t l, int site) {
      return (*types)[(size_t)(l * kNumLoraSites + site)] == want;
    };
  }
  std::fprintf(stderr, "gptq: %s, %zu calibration sequences (%zu tokens), %s, damp %g%s\n",
               a.model.c_str(), seqs->size(), tokens,
               autogptq ? strformat("%d-bit group %lld %s", a.bits, (long long)a.group,
                                    a.sym ? "sym" : "asym").c_str()
                        : a.format.c_str(),
               a.damp, a.act_order ? ", act-order" : "");

  ThreadPool pool(a.threads);
  GptqCheckpointTensors tensors;
  size_t n_quantized = 0;
  double loss_sum = 0.0;
  auto sink = [&](int64_t l, int site, const GptqResult& r) -> Status {
    ++n_quantized;
    loss_sum += r.avg_loss;
    if (autogptq) {
      CARTLM_ASSIGN_OR_RETURN(AutoGptqLinear packed, autogptq_pack(r, a.bits));
      gptq_checkpoint_add_linear(tensors, gptq_layer_modules(l)[(size_t)site], packed);
      return Status();
    }
    m.owned.push_back(r.blocks);
    TensorView* v = site_view(m.model.weights.layers[(size_t)l], site);
    v->dtype = opt.gptq.grid == GptqGrid::Q4_0 ? DType::Q4_0 : DType::Q4_K;
    v->data = m.owned.back().data();
    v->nbytes = m.owned.back().size();
    return Status();
  };
  Status st = gptq_run(c, m.model.weights, std::move(*seqs), opt, sink, &pool);
  if (!st.ok()) return fail(st);

  if (autogptq) {
    std::set<std::string> linear;
    for (int64_t l = 0; l < c.num_hidden_layers; ++l)
      for (const std::string& mod : gptq_layer_modules(l)) linear.insert(mod + ".weight");
    for (const ExpectedTensor& e : expected_tensors(c)) {
      if (linear.count(e.name)) continue;
      const TensorView* v = m.checkpoint.find(e.name);
      if (!v) return fail(error(a.model + ": missing tensor " + e.name));
      st = gptq_checkpoint_add_f16(tensors, *v);
      if (!st.ok()) return fail(st);
    }
    GptqQuantizeConfig q;
    q.bits = a.bits;
    q.group_size = a.group;
    q.damp_percent = a.damp;
    q.desc_act = a.act_order;
    q.sym = a.sym;
    q.model_name_or_path = a.model;
    st = save_gptq_checkpoint(a.out, tensors, c, m.tokenizer, m.has_meta ? &m.meta : nullptr, q);
    if (!st.ok()) return fail(st);
  } else {
    GgufExportOptions eo;
    eo.type = mix_name;
    eo.threads = a.threads;
    if (!a.imatrix.empty()) eo.imatrix = &imatrix;
    auto stats = export_gguf(m, a.out, eo);
    if (!stats.ok()) return fail(stats.status());
  }
  std::fprintf(stderr, "%s: %zu linears quantized with GPTQ (mean loss %.4g) in %.1f s\n",
               a.out.c_str(), n_quantized, n_quantized ? loss_sum / (double)n_quantized : 0.0,
               timer.seconds());
  return 0;
}

}  // namespace

void register_gptq(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<GptqArgs>();
  CLI::App* cmd = root.add_subcommand(
      "gptq",
      "GPTQ quantization calibrated on intent data: every linear is rounded column by column,\n"
      "pushing each rounding error onto the columns not yet rounded (through the inverse Hessian\n"
      "of the layer's inputs), layer by layer with the quantized layers' outputs as the next\n"
      "inputs. Calibration: --samples random examples of --data, rendered exactly as in training\n"
      "(prompt + completion + eos).\n"
      "  --format autogptq   AutoGPTQ directory (qweight/qzeros/scales/g_idx, zeros stored - 1);\n"
      "                      cartlm loads it (Q4_1 / Q8_0 repack, F16 with act-order)\n"
      "  --format gguf-q4_0  llama.cpp GGUF, GPTQ inside Q4_0 (mix Q4_0)\n"
      "  --format gguf-q4_k  llama.cpp GGUF, GPTQ codes on the Q4_K reference grid (mix Q4_K_M;\n"
      "                      --imatrix sets the Q4_K scales and weights the Q6_K tensors)");
  cmd->add_option("--model", a->model, "HF checkpoint directory (f32/f16/bf16)")->required();
  cmd->add_option("--data", a->data, "Calibration dataset (JSONL, e.g. train.jsonl)")->required();
  cmd->add_option("--out", a->out, "Output directory (autogptq) or .gguf file")->required();
  cmd->add_option("--format", a->format, "autogptq, gguf-q4_0 or gguf-q4_k")->capture_default_str();
  cmd->add_option("--bits", a->bits, "Bits per weight: 2, 3, 4 or 8 (autogptq)")->capture_default_str();
  cmd->add_option("--group", a->group, "Group size (autogptq; -1 = one group per row)")
      ->capture_default_str();
  cmd->add_flag("--sym,!--asym", a->sym, "Symmetric (default) or asymmetric zero points (autogptq)");
  cmd->add_flag("--act-order", a->act_order,
                "Quantize columns by decreasing Hessian diagonal (desc_act)");
  cmd->add_option("--damp", a->damp, "Dampening: fraction of the mean Hessian diagonal added")
      ->capture_default_str();
  cmd->add_option("--samples", a->samples, "Calibration examples (random, without replacement)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed for the calibration sample")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Calibration sequences per forward")->capture_default_str();
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix for --format gguf-q4_k");
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No progress bar");
  cmd->callback([a, &exit_code] { exit_code = run_gptq(*a); });
}

}  // namespace cartlm::cli
