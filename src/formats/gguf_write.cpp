// GGUF writer: byte layout of ggml's gguf_write_out (REFERENCE.md §1.1).
#include <cstring>
#include <unordered_set>

#include "core/dtype.h"
#include "core/strings.h"
#include "formats/gguf.h"

namespace cartlm {

namespace {

void put_bytes(std::string& out, const void* p, size_t n) {
  out.append(static_cast<const char*>(p), n);
}
template <class T>
void put(std::string& out, T v) {
  put_bytes(out, &v, sizeof(T));
}
void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}

uint64_t pad_to(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

Status put_value(std::string& out, const GgufKV& kv) {
  const GgufValue& v = kv.value;
  put<uint32_t>(out, (uint32_t)v.type);
  switch (v.type) {
    case GgufType::String:
      put_string(out, v.str);
      return {};
    case GgufType::Array: {
      if (v.elem_type == GgufType::Array)
        return error("metadata key '" + kv.key + "': nested arrays cannot be written");
      put<uint32_t>(out, (uint32_t)v.elem_type);
      if (v.elem_type == GgufType::String) {
        put<uint64_t>(out, v.strs.size());
        for (const std::string& s : v.strs) put_string(out, s);
        return {};
      }
      size_t es = gguf_type_size(v.elem_type);
      CARTLM_CHECK(es > 0);
      if (v.data.size() % es != 0)
        return error("metadata key '" + kv.key + "': array byte size " +
                     std::to_string(v.data.size()) + " is not a multiple of the element size");
      put<uint64_t>(out, v.data.size() / es);
      put_bytes(out, v.data.data(), v.data.size());
      return {};
    }
    default: {
      size_t s = gguf_type_size(v.type);
      if (s == 0) return error("metadata key '" + kv.key + "' has an unknown type");
      put_bytes(out, &v.bits, s);  // little-endian host: the low bytes hold the value
      return {};
    }
  }
}

// Validates everything the reader will check and builds the header (magic .. tensor infos,
// without the padding). Fills the alignment and each tensor's byte size.
Result<std::string> build_header(const std::vector<GgufKV>& kvs,
                                 const std::vector<TensorView>& tensors, uint32_t& alignment,
                                 std::vector<uint64_t>& sizes) {
  alignment = kGgufDefaultAlignment;
  std::unordered_set<std::string_view> keys;
  for (const GgufKV& kv : kvs) {
    if (kv.key.empty()) return error("GGUF metadata key is empty");
    if (!keys.insert(kv.key).second) return error("duplicate GGUF metadata key '" + kv.key + "'");
    if (kv.key == "general.alignment") {
      if (kv.value.type != GgufType::U32)
        return error("general.alignment must be written as u32");
      uint32_t a = (uint32_t)kv.value.bits;
      if (a == 0 || (a & (a - 1)) != 0)
        return error("general.alignment = " + std::to_string(a) + " is not a power of two");
      alignment = a;
    }
    if (kv.value.type == GgufType::Bool && kv.value.bits > 1)
      return error("metadata key '" + kv.key + "': bool value is not 0 or 1");
  }
  std::string out;
  put<uint32_t>(out, kGgufMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors.size());
  put<uint64_t>(out, kvs.size());
  for (const GgufKV& kv : kvs) {
    put_string(out, kv.key);
    CARTLM_RETURN_IF_ERROR(put_value(out, kv));
  }
  std::unordered_set<std::string_view> names;
  sizes.clear();
  uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    std::string what = "tensor '" + t.name + "'";
    if (t.name.empty()) return error("GGUF tensor with an empty name");
    if (t.name.size() > kGgufMaxNameBytes) return error(what + ": name is longer than 63 bytes");
    if (!names.insert(t.name).second) return error("duplicate GGUF tensor name '" + t.name + "'");
    if (t.shape.size() > (size_t)kGgufMaxDims)
      return error(what + ": " + std::to_string(t.shape.size()) + " dimensions (GGUF allows 4)");
    const DTypeInfo* info = dtype_info(t.dtype);
    if (!info || t.dtype == DType::NF4)
      return error(what + ": dtype " + dtype_name(t.dtype) + " cannot be stored in GGUF");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) return error(what + ": negative dimension");
      if (__builtin_mul_overflow(numel, (uint64_t)d, &numel))
        return error(what + ": element count overflows");
    }
    int64_t ne0 = t.shape.empty() ? 1 : t.shape.back();
    if (ne0 % info->block_size != 0)
      return error(what + ": row length " + std::to_string(ne0) + " is not a multiple of the " +
                   info->name + " block size " + std::to_string(info->block_size));
    uint64_t rows = ne0 == 0 ? 0 : numel / (uint64_t)ne0;
    uint64_t nbytes = (uint64_t)ne0 / info->block_size * info->block_bytes * rows;
    if (t.nbytes != nbytes)
      return error(what + ": " + std::to_string(t.nbytes) + " bytes given, " +
                   std::to_string(nbytes) + " expected for " + info->name + " " +
                   shape_str(t.shape));
    put_string(out, t.name);
    put<uint32_t>(out, (uint32_t)t.shape.size());
    for (size_t d = t.shape.size(); d-- > 0;) put<int64_t>(out, t.shape[d]);  // ne: innermost first
    put<uint32_t>(out, (uint32_t)t.dtype);
    put<uint64_t>(out, offset);
    sizes.push_back(nbytes);
    offset += pad_to(nbytes, alignment);
  }
  return out;
}

const char kZeros[256] = {};

}  // namespace

Status GgufWriter::open(const std::string& path, const std::vector<GgufKV>& kvs,
                        const std::vector<TensorView>& tensors) {
  CARTLM_CHECK(!open_);
  path_ = path;
  auto header = build_header(kvs, tensors, alignment_, sizes_);
  if (!header.ok()) return header.status().with_context(path);
  std::string& h = header.value();
  h.append(pad_to(h.size(), alignment_) - h.size(), '\0');
  CARTLM_RETURN_IF_ERROR(out_.open(path));
  CARTLM_RETURN_IF_ERROR(out_.write(h));
  current_ = 0;
  written_in_current_ = 0;
  data_written_ = 0;
  open_ = true;
  // Zero-byte tensors need no data call: skip past them now.
  while (current_ < sizes_.size() && sizes_[current_] == 0) ++current_;
  return {};
}

Status GgufWriter::pad_to_alignment() {
  uint64_t target = pad_to(data_written_, alignment_);
  while (data_written_ < target) {
    uint64_t n = std::min<uint64_t>(target - data_written_, sizeof kZeros);
    CARTLM_RETURN_IF_ERROR(out_.write(std::string_view(kZeros, n)));
    data_written_ += n;
  }
  return {};
}

Status GgufWriter::write_data(std::string_view bytes) {
  CARTLM_CHECK(open_);
  while (!bytes.empty()) {
    if (current_ >= sizes_.size())
      return error(path_ + ": more tensor data written than the tensor infos declare");
    uint64_t left = sizes_[current_] - written_in_current_;
    uint64_t n = std::min<uint64_t>(left, bytes.size());
    CARTLM_RETURN_IF_ERROR(out_.write(bytes.substr(0, n)));
    bytes.remove_prefix(n);
    written_in_current_ += n;
    data_written_ += n;
    if (written_in_current_ == sizes_[current_]) {
      CARTLM_RETURN_IF_ERROR(pad_to_alignment());
      ++current_;
      written_in_current_ = 0;
      while (current_ < sizes_.size() && sizes_[current_] == 0) ++current_;
    }
  }
  return {};
}

Status GgufWriter::finish() {
  CARTLM_CHECK(open_);
  open_ = false;
  if (current_ < sizes_.size()) {
    out_.abandon();
    return error(path_ + ": tensor data missing from tensor " + std::to_string(current_) +
                 " on (" + std::to_string(sizes_.size()) + " declared)");
  }
  return out_.commit();
}

Status write_gguf(const std::string& path, const std::vector<GgufKV>& kvs,
                  const std::vector<TensorView>& tensors) {
  GgufWriter w;
  CARTLM_RETURN_IF_ERROR(w.open(path, kvs, tensors));
  for (const TensorView& t : tensors) {
    if (t.nbytes > 0 && t.data == nullptr) return error(path + ": tensor '" + t.name + "' has no data");
    CARTLM_RETURN_IF_ERROR(
        w.write_data(std::string_view(static_cast<const char*>(t.data), t.nbytes)));
  }
  return w.finish();
}

Result<std::string> serialize_gguf(const std::vector<GgufKV>& kvs,
                                   const std::vector<TensorView>& tensors) {
  uint32_t alignment = 0;
  std::vector<uint64_t> sizes;
  CARTLM_ASSIGN_OR_RETURN(std::string out, build_header(kvs, tensors, alignment, sizes));
  out.append(pad_to(out.size(), alignment) - out.size(), '\0');
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = tensors[i];
    if (t.nbytes > 0 && t.data == nullptr) return error("tensor '" + t.name + "' has no data");
    out.append(static_cast<const char*>(t.data), t.nbytes);
    out.append(pad_to(t.nbytes, alignment) - t.nbytes, '\0');
  }
  return out;
}

}  // namespace cartlm
