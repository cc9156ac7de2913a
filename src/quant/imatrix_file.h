// Importance-matrix ("imatrix") files in llama.cpp's two formats, so that `cartlm imatrix` output
// feeds llama-quantize and llama-imatrix output feeds `cartlm quantize --imatrix`.
//
// What an entry holds (one per weight matrix that multiplies activations x of `cols` elements):
//   sums[m * cols + j] = sum over the tokens seen by matrix m of x_j^2   (m < n_mat; n_mat = 1 for
//                        dense models, the expert count for MoE weights)
//   counts[m]          = number of tokens summed for matrix m
// Entry names are llama.cpp's GGUF tensor names ("blk.0.attn_q.weight", "output.weight"; see
// model/gguf_export.h gguf_tensor_name for the HF -> GGUF mapping). Writers of cartlm imatrix files
// must use these names, or llama-quantize silently ignores the entries.
//
// GGUF format (what llama-imatrix writes by default, *.gguf): KVs general.type = "imatrix",
// imatrix.datasets (string array), imatrix.chunk_count (u32), imatrix.chunk_size (u32); for each
// entry, sorted by name, an F32 tensor "<name>.in_sum2" with ne = [cols, n_mat] and an F32 tensor
// "<name>.counts" with ne = [1, n_mat]. llama-quantize refuses a GGUF imatrix without the three
// imatrix.* keys.
//
// Legacy format (*.dat, `--output-format dat`), all little-endian:
//   i32 n_entries; n_entries x { i32 name_len; name bytes; i32 ncall; i32 nval;
//   f32 values[nval] = (sum / count) * ncall }; then optionally i32 chunk_count, i32 len, dataset.
// read_imatrix turns a legacy entry into sums = values and counts = {ncall} (is_legacy = true),
// which is how llama.cpp's loader represents it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

struct ImatrixEntry {
  std::vector<float> sums;      // n_mat * cols
  std::vector<int64_t> counts;  // n_mat (legacy: {ncall})
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by GGUF tensor name
  std::vector<std::string> datasets;            // files the statistics came from
  int32_t chunk_count = 0;                      // chunks (of chunk_size tokens) processed
  int32_t chunk_size = 0;                       // tokens per chunk (0 in legacy files)
  bool is_legacy = false;                       // read from a .dat file
};

// Detects the format from the magic ("GGUF" or not). Errors name the file and the entry.
Result<Imatrix> read_imatrix(const std::string& path);
// Parses an in-memory file image (tests, fuzzing); `label` names it in errors.
Result<Imatrix> parse_imatrix(const uint8_t* data, size_t size, const std::string& label);

// Writes the GGUF format (atomically). Every entry must have counts non-empty and
// sums.size() a positive multiple of counts.size(); is_legacy must be false.
Status write_imatrix_gguf(const std::string& path, const Imatrix& m);
// Writes the legacy format the way llama-imatrix --output-format dat does (atomically):
// ncall = ceil(max(counts) / chunk_size), values = sum / count * ncall (1 where count is 0),
// entries with all counts 0 are skipped. Needs chunk_size > 0 unless is_legacy (then the stored
// values are written back unchanged).
Status write_imatrix_dat(const std::string& path, const Imatrix& m);

// The per-column weights llama-quantize passes to the quantizer for this entry: sums / count per
// matrix (1 where a matrix has count 0) for GGUF files, values / ncall for legacy files (the values
// unchanged when ncall is 0). Size = sums.size().
std::vector<float> imatrix_importance(const ImatrixEntry& e, bool legacy);

}  // namespace cartlm
