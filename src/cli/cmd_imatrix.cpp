// `cartlm imatrix`: importance-matrix collection as llama.cpp's llama-imatrix does it (the sum of
// squared inputs of every input column of every linear, keyed by GGUF tensor name), on the intent
// data rendered exactly as in training. The file feeds `cartlm quantize --imatrix`,
// `cartlm gptq --format gguf-q4_k --imatrix` and llama.cpp's llama-quantize.
#include <cstdio>

#include "cli/cli.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "formats/dataset.h"
#include "model/load.h"
#include "quant/imatrix_file.h"
#include "train/gptq_run.h"
#include "train/imatrix_collect.h"

namespace cartlm::cli {

namespace {

struct ImatrixArgs {
  std::string model, data, out;
  int64_t chunks = 0;
  int32_t chunk_size = 512;
  size_t batch = 16;
  int threads = 0;
  bool quiet = false;
};

int run_imatrix(const ImatrixArgs& a) {
  if (a.chunk_size <= 0) return fail(error("--chunk-size must be positive"));
  Timer timer;
  auto lm = load_model(a.model);
  if (!lm.ok()) return fail(lm.status());
  const LoadedModel& m = **lm;
  auto examples = read_dataset(a.data);
  if (!examples.ok()) return fail(examples.status());
  if (examples->empty()) return fail(error(a.data + ": no examples"));
  auto seqs = calibration_sequences(*examples, m.tokenizer, m.meta);
  if (!seqs.ok()) return fail(seqs.status());
  std::vector<std::vector<int32_t>> used = limit_to_chunks(std::move(*seqs), a.chunks, a.chunk_size);
  ImatrixOptions opt;
  opt.max_batch = a.batch;
  opt.chunk_size = a.chunk_size;
  opt.dataset = a.data;
  opt.progress = !a.quiet;
  ThreadPool pool(a.threads);
  const size_t n_seq = used.size();
  auto im = collect_imatrix(m.model.config, m.model.weights, std::move(used), opt, &pool);
  if (!im.ok()) return fail(im.status());
  const bool dat = ends_with(a.out, ".dat");
  Status st = dat ? write_imatrix_dat(a.out, *im) : write_imatrix_gguf(a.out, *im);
  if (!st.ok()) return fail(st);
  std::fprintf(stderr, "%s: %zu entries from %zu examples (%d chunks of %d tokens), %s format, %.1f s\n",
               a.out.c_str(), im->entries.size(), n_seq, im->chunk_count, im->chunk_size,
               dat ? "legacy .dat" : "GGUF", timer.seconds());
  return 0;
}

}  // namespace

void register_imatrix(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<ImatrixArgs>();
  CLI::App* cmd = root.add_subcommand(
      "imatrix",
      "Collect an importance matrix (per input column: the sum of squared activations of every\n"
      "linear, llama.cpp's format) on intent data rendered as in training. Output .dat = legacy\n"
      "format, anything else = GGUF (llama-imatrix's default).");
  cmd->add_option("--model", a->model, "Model: HF checkpoint directory, GPTQ directory or .gguf")
      ->required();
  cmd->add_option("--data", a->data, "Calibration dataset (JSONL, e.g. train.jsonl)")->required();
  cmd->add_option("--out", a->out, "Output file: imatrix.gguf or imatrix.dat")->required();
  cmd->add_option("--chunks", a->chunks,
                  "Stop after this many chunks of --chunk-size tokens (whole examples; 0 = all)")
      ->capture_default_str();
  cmd->add_option("--chunk-size", a->chunk_size, "Tokens per chunk (what chunk counts count)")
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "Sequences per forward")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No progress bar");
  cmd->callback([a, &exit_code] { exit_code = run_imatrix(*a); });
}

}  // namespace cartlm::cli
