// `cartlm quantize`: write a model as a GGUF file llama.cpp can load, with one of llama.cpp's
// quantization mixes. The same verb exports (--type F16/BF16/F32) and quantizes (Q8_0, Q4_K_M...):
// from an HF checkpoint it converts like convert_hf_to_gguf.py, from an F16/F32 GGUF it does what
// llama-quantize does, byte for byte.
#include <cstdio>
#include <map>
#include <memory>

#include "cli/cli.h"
#include "core/progress.h"
#include "core/strings.h"
#include "core/timer.h"
#include "model/gguf_export.h"
#include "model/load.h"
#include "quant/imatrix_file.h"
#include "quant/mix.h"

namespace cartlm::cli {

namespace {

struct QuantizeArgs {
  std::string model;
  std::string type = "Q4_K_M";
  std::string out;
  std::string imatrix;
  std::string name;
  int threads = 0;
  bool quiet = false;
};

int run_quantize(const QuantizeArgs& a) {
  auto mix = quant_mix_from_name(a.type);
  if (!mix.ok()) return fail(error("--type: " + mix.message()));
  Timer timer;
  auto lm = load_model(a.model);
  if (!lm.ok()) return fail(lm.status());
  Imatrix imatrix;
  GgufExportOptions opt;
  opt.type = mix->name;
  opt.threads = a.threads;
  opt.model_name = a.name;
  if (!a.imatrix.empty()) {
    auto im = read_imatrix(a.imatrix);
    if (!im.ok()) return fail(im.status());
    imatrix = std::move(*im);
    opt.imatrix = &imatrix;
  }
  std::unique_ptr<ProgressBar> bar;
  if (!a.quiet) {
    opt.progress = [&](uint64_t done, uint64_t total) {
      if (!bar) bar = std::make_unique<ProgressBar>(std::string("quantize ") + mix->name, total);
      bar->update(done);
    };
  }
  auto stats = export_gguf(**lm, a.out, opt);
  if (bar) bar->finish();
  if (!stats.ok()) return fail(stats.status());
  std::map<std::string, int> counts;
  for (const auto& [name, t] : stats->types) ++counts[dtype_name(t)];
  std::string types;
  for (const auto& [t, n] : counts) types += strformat("%s%s x %d", types.empty() ? "" : ", ", t.c_str(), n);
  std::fprintf(stderr, "%s: %s, %zu tensors (%s), %s -> %s in %.2f s\n", a.out.c_str(), mix->name,
               stats->tensors, types.c_str(), human_bytes((double)stats->bytes_in).c_str(),
               human_bytes((double)stats->bytes_out).c_str(), timer.seconds());
  if (stats->n_fallback > 0)
    std::fprintf(stderr, "note: %d tensor(s) needed a fallback type (row length not a multiple "
                         "of 256)\n", stats->n_fallback);
  if (opt.imatrix) {
    std::fprintf(stderr, "imatrix: %d tensors weighted", stats->imatrix_used);
    if (!stats->imatrix_missing.empty())
      std::fprintf(stderr, ", no entry for %zu (first: %s)", stats->imatrix_missing.size(),
                   stats->imatrix_missing[0].c_str());
    std::fprintf(stderr, "\n");
  }
  return 0;
}

}  // namespace

void register_quantize(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<QuantizeArgs>();
  std::string types;
  for (const QuantMix& m : all_quant_mixes()) types += std::string(types.empty() ? "" : " ") + m.name;
  CLI::App* cmd = root.add_subcommand(
      "quantize",
      "Write a model as a GGUF file for llama.cpp / cartlm, quantized with one of llama.cpp's "
      "mixes.\nFrom an HF checkpoint directory this is the export (use --type F16, BF16 or F32 "
      "for an\nunquantized file); from an F16/F32 GGUF it does what llama-quantize does, with "
      "the same\nper-tensor types and the same bytes.");
  cmd->add_option("--model", a->model, "HF checkpoint directory or .gguf file")->required();
  cmd->add_option("--type", a->type, "Quantization mix: " + types)->capture_default_str();
  cmd->add_option("--out", a->out, "Output .gguf file (written atomically)")->required();
  cmd->add_option("--imatrix", a->imatrix,
                  "Importance matrix (llama-imatrix / cartlm imatrix output, .gguf or legacy "
                  ".dat) to weight the quantization error per column");
  cmd->add_option("--name", a->name, "general.name for an HF export (default: directory name)");
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No progress bar");
  cmd->callback([a, &exit_code] { exit_code = run_quantize(*a); });
}

}  // namespace cartlm::cli
