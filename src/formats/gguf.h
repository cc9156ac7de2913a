// GGUF v2/v3 reading and writing (REFERENCE.md §1). The reader treats the file as untrusted input:
// every count, length and offset is checked against the bytes that remain before anything is
// allocated, so a truncated or hostile file gives one line naming the file, the key or tensor and
// the byte offset, never a crash or a multi-gigabyte allocation. Tensor data is never copied: each
// GgufTensor's view points into the mapping (or the caller's buffer).
//
// The writer produces the same bytes as ggml's gguf_write_out: header, KVs in the given order,
// tensor infos, zero padding to the alignment, then each tensor's data padded to the alignment
// (the last one included). It streams tensor data, so a quantizer can produce one tensor at a time,
// and goes through AtomicFile.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_io.h"
#include "core/mmap.h"
#include "core/status.h"
#include "core/tensor_view.h"

namespace cartlm {

// GGUF metadata value types (ids as stored in the file).
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);  // "u32", "string", "array" ...
// Bytes of one scalar of type t (0 for String/Array).
size_t gguf_type_size(GgufType t);

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxNameBytes = 63;  // GGML_MAX_NAME (64) minus the NUL
inline constexpr int kGgufMaxDims = 4;

// One metadata value. Scalars keep their exact stored type (`type`) and raw little-endian bits in
// `bits` (sign-extended integers go through the typed accessors below, never through `bits`).
// Arrays of numbers keep their raw element bytes in `data`; arrays of strings keep `strs`.
// Nested arrays are not supported (ggml does not write or read them either).
struct GgufValue {
  GgufType type = GgufType::U32;
  GgufType elem_type = GgufType::U8;  // arrays only
  uint64_t bits = 0;                  // numeric scalars and Bool
  std::string str;                    // String
  std::vector<std::string> strs;      // Array of String
  std::vector<uint8_t> data;          // Array of numbers/Bool: count * gguf_type_size(elem_type)

  bool is_array() const { return type == GgufType::Array; }
  uint64_t array_size() const;  // elements (0 for scalars)

  // Constructors for the writer.
  static GgufValue u8(uint8_t v);
  static GgufValue i8(int8_t v);
  static GgufValue u16(uint16_t v);
  static GgufValue i16(int16_t v);
  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue i64(int64_t v);
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  static GgufValue array_strings(std::vector<std::string> v);
  static GgufValue array_i32(std::span<const int32_t> v);
  static GgufValue array_u32(std::span<const uint32_t> v);
  static GgufValue array_i64(std::span<const int64_t> v);
  static GgufValue array_f32(std::span<const float> v);
  static GgufValue array_f64(std::span<const double> v);
  static GgufValue array_u8(std::span<const uint8_t> v);
  static GgufValue array_bool(std::span<const bool> v);

  // Typed reads with conversion rules: integers convert between widths and signedness only when
  // the value fits (an i32 of -1 is not a u32); floats read from F32/F64 (and integers); strings
  // only from String. `what` names the key in the error message.
  Result<uint64_t> as_u64(std::string_view what) const;
  Result<int64_t> as_i64(std::string_view what) const;
  Result<double> as_f64(std::string_view what) const;
  Result<bool> as_bool(std::string_view what) const;
  // Array element i (i < array_size()) of a numeric array, converted like as_i64 / as_f64.
  Result<int64_t> elem_i64(uint64_t i, std::string_view what) const;
  Result<double> elem_f64(uint64_t i, std::string_view what) const;

  // Short human-readable form: `42`, `"llama"`, `[string x 128256: "!", "\"", ...]`.
  std::string describe(size_t max_elems = 4) const;
};

struct GgufKV {
  std::string key;
  GgufValue value;
};

struct GgufTensor {
  TensorView view;       // name, dtype, shape outermost-first (ne reversed), data, nbytes
  std::vector<int64_t> ne;  // as stored: innermost (row length) first
  uint64_t offset = 0;   // relative to the data section
};

struct GgufLimits {
  uint64_t max_kv = 1u << 20;             // metadata entries
  uint64_t max_tensors = 1u << 20;
  uint64_t max_string_bytes = 1ull << 30;  // one string (a chat template can be large)
  uint64_t max_array_elems = 1ull << 32;   // also bounded by the bytes that remain
};

struct GgufFile {
  MappedFile file;  // open when loaded from disk; views point into it
  std::string label;  // path or buffer name, used in messages
  uint32_t version = 3;
  uint32_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;  // absolute offset of the data section
  std::vector<GgufKV> kvs;   // in file order
  std::vector<GgufTensor> tensors;  // in file order (= data order)

  const GgufValue* find(std::string_view key) const;  // nullptr if absent
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const GgufTensor* find_tensor(std::string_view name) const;  // nullptr if absent

  // Typed getters: "missing key" and type errors name the file and the key. get_u32 accepts any
  // integer type whose value fits in u32 (converters write u32, some write u64 or i32).
  Result<uint32_t> get_u32(std::string_view key) const;
  Result<uint64_t> get_u64(std::string_view key) const;
  Result<int32_t> get_i32(std::string_view key) const;
  Result<int64_t> get_i64(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<double> get_f64(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  // Arrays: strings are returned by reference (a vocabulary has 100k+ of them).
  Result<std::span<const std::string>> get_array_strings(std::string_view key) const;
  Result<std::vector<int64_t>> get_array_ints(std::string_view key) const;
  Result<std::vector<float>> get_array_f32(std::string_view key) const;
  // Optional keys: the default when absent, an error only when present with a bad type.
  Result<uint32_t> get_u32_or(std::string_view key, uint32_t dflt) const;
  Result<float> get_f32_or(std::string_view key, float dflt) const;
  Result<bool> get_bool_or(std::string_view key, bool dflt) const;
  Result<std::string> get_string_or(std::string_view key, std::string dflt) const;

  TensorMap tensor_map() const;  // name -> view
};

// Maps `path` (or reads it into memory, `map.mmap` = false) and parses it. Errors name the path.
Result<GgufFile> open_gguf(const std::string& path, GgufLimits limits = {}, MapOptions map = {});
// Parses a file image in memory (tests, fuzzing). The result's `file` is not open and tensor data
// points into `data`, which must outlive it. `label` names the buffer in errors.
Result<GgufFile> parse_gguf(const uint8_t* data, size_t size, const std::string& label,
                            GgufLimits limits = {});

// Streaming writer. Usage:
//   GgufWriter w;
//   CARTLM_RETURN_IF_ERROR(w.open(path, kvs, tensor_infos));  // infos: views with data unused
//   for each tensor in order: w.write_data(bytes) (any number of chunks; exactly view.nbytes)
//   CARTLM_RETURN_IF_ERROR(w.finish());
// The alignment is general.alignment when `kvs` has it (must be u32 and a power of two), else 32.
// open() checks everything up front: unique keys and names, names <= 63 bytes, 0..4 dims,
// dtypes that GGUF knows (not NF4), ne[0] divisible by the block size, nbytes = dtype x shape.
// An unfinished writer leaves no file behind.
class GgufWriter {
 public:
  Status open(const std::string& path, const std::vector<GgufKV>& kvs,
              const std::vector<TensorView>& tensors);
  Status write_data(std::string_view bytes);
  Status finish();

 private:
  Status pad_to_alignment();
  AtomicFile out_;
  std::string path_;
  uint32_t alignment_ = kGgufDefaultAlignment;
  std::vector<uint64_t> sizes_;  // nbytes per tensor, in order
  size_t current_ = 0;           // tensor being written
  uint64_t written_in_current_ = 0;
  uint64_t data_written_ = 0;    // bytes since the start of the data section (with padding)
  bool open_ = false;
};

// Whole-file convenience: writes `tensors` with data taken from each view.
Status write_gguf(const std::string& path, const std::vector<GgufKV>& kvs,
                  const std::vector<TensorView>& tensors);
// Serializes to memory (tests, small vocab-only files). Same bytes as write_gguf.
Result<std::string> serialize_gguf(const std::vector<GgufKV>& kvs,
                                   const std::vector<TensorView>& tensors);

}  // namespace cartlm
