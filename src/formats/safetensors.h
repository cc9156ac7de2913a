// safetensors reading and writing (REFERENCE.md §3.1). Files are mmapped and every tensor is a
// TensorView pointing into the mapping. The header is checked as untrusted input: size limits,
// offsets inside the buffer, byte counts that match dtype x shape (overflow-checked), no
// overlapping tensors, known dtypes, __metadata__ string->string. A bad file gives one line
// naming the file and the tensor/field, never a crash.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/mmap.h"
#include "core/status.h"
#include "core/tensor_view.h"

namespace cartlm {

// The dtype strings safetensors defines. TensorView::dtype holds the closest DType: integer types
// map to the signed DType of the same width (U8 -> I8, BOOL -> I8, U32 -> I32, ...), so the bytes
// are described exactly and st_dtype keeps the signedness. F8 types are rejected.
enum class StDType { BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64 };
const char* st_dtype_name(StDType t);  // "BF16"
uint64_t st_dtype_size(StDType t);     // bytes per element

struct SafetensorsTensor {
  TensorView view;       // name, dtype, shape (outermost first), data (into the mmap), nbytes
  StDType st_dtype;
  uint64_t data_begin;   // offset inside the byte buffer (after the header)
};

struct SafetensorsLimits {
  uint64_t max_header_bytes = 100ull << 20;  // as the reference reader
};

struct SafetensorsFile {
  MappedFile file;
  std::vector<SafetensorsTensor> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  uint64_t header_bytes = 0;  // N (the JSON length)

  const SafetensorsTensor* find(const std::string& name) const;  // nullptr if absent
};

// `map.mmap` = false reads the file into memory instead of mapping it (core/mmap.h).
Result<SafetensorsFile> open_safetensors(const std::string& path, SafetensorsLimits limits = {},
                                         MapOptions map = {});
// Parses a file image already in memory (tests, fuzzing). The result's `file` is not open and
// tensor data points into `data`, which must outlive it. `label` names the buffer in errors.
Result<SafetensorsFile> parse_safetensors(const uint8_t* data, size_t size,
                                          const std::string& label,
                                          SafetensorsLimits limits = {});

// A loaded HF checkpoint directory: model.safetensors, or the shards listed in
// model.safetensors.index.json (each opened once). `tensors` maps every name to its view.
struct Checkpoint {
  std::string dir;
  std::vector<SafetensorsFile> shards;  // keep alive: views point into these mappings
  TensorMap tensors;
  std::map<std::string, std::string> metadata;  // __metadata__ of the first shard
  const TensorView* find(const std::string& name) const;  // nullptr if absent
};
// `path` may be the directory, a .safetensors file, or a *.safetensors.index.json file. `map`
// applies to every shard.
Result<Checkpoint> load_checkpoint_tensors(const std::string& path, MapOptions map = {});

// Writes a .safetensors file: header JSON padded with spaces so 8+N is a multiple of 8, then the
// tensors back to back in the given order. Streams tensor bytes straight from the views (no copy
// of the whole model) through AtomicFile. Names must be unique and not "__metadata__"; nbytes must
// match dtype x shape; only F32/F16/BF16/F64/I8/I16/I32/I64 DTypes can be written.
Status write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                         const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes `shards` (tensor lists, each becomes model-0000i-of-0000n.safetensors) and
// model.safetensors.index.json into `dir` (one shard = plain model.safetensors, no index).
Status write_sharded_checkpoint(const std::string& dir,
                                const std::vector<std::vector<TensorView>>& shards,
                                const std::map<std::string, std::string>& metadata = {
                                    {"format", "pt"}});

}  // namespace cartlm
