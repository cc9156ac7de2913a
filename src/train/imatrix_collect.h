// Importance-matrix collection, as llama.cpp's llama-imatrix does it: for every linear of every
// layer, the sum over calibration tokens of the squared input of each input column, keyed by the
// GGUF tensor name (blk.N.attn_q.weight ...). attn_q/k/v share one input (their entries are
// equal), so do ffn_gate/up; attn_output reads the attention output, ffn_down the SwiGLU output.
// The LM head (output.weight) is not collected (llama-imatrix's default).
//
// The forward pass is the f32 training block (train/gptq_run.h's calibration passes) on the
// unquantized weights; padding tokens are not counted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "quant/imatrix_file.h"

namespace cartlm {

class ThreadPool;

struct ImatrixOptions {
  size_t max_batch = 16;
  int32_t chunk_size = 512;  // tokens per "chunk" (what llama.cpp's ncall / chunk_count count)
  std::string dataset;       // recorded in imatrix.datasets
  bool progress = true;
};

// Runs the sequences through the model and returns the statistics (chunk_count = ceil(tokens /
// chunk_size)).
Result<Imatrix> collect_imatrix(const Config& c, const ModelWeights& w,
                                std::vector<std::vector<int32_t>> seqs, const ImatrixOptions& opt,
                                ThreadPool* pool);

// Keeps whole sequences, in order, until `chunks` chunks of chunk_size tokens are filled (the
// sequence that crosses the limit is kept). chunks <= 0: all.
std::vector<std::vector<int32_t>> limit_to_chunks(std::vector<std::vector<int32_t>> seqs,
                                                  int64_t chunks, int32_t chunk_size);

}  // namespace cartlm
