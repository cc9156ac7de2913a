#include "formats/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace cartlm {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; views point at the raw bytes");

using json = nlohmann::json;

namespace {

struct StDTypeRow {
  StDType st;
  const char* name;
  uint64_t size;
  DType dtype;  // same width; integer signedness lives in StDType
};

constexpr StDTypeRow kStDTypes[] = {
    {StDType::BOOL, "BOOL", 1, DType::I8}, {StDType::U8, "U8", 1, DType::I8},
    {StDType::I8, "I8", 1, DType::I8},     {StDType::U16, "U16", 2, DType::I16},
    {StDType::I16, "I16", 2, DType::I16},  {StDType::U32, "U32", 4, DType::I32},
    {StDType::I32, "I32", 4, DType::I32},  {StDType::U64, "U64", 8, DType::I64},
    {StDType::I64, "I64", 8, DType::I64},  {StDType::F16, "F16", 2, DType::F16},
    {StDType::BF16, "BF16", 2, DType::BF16}, {StDType::F32, "F32", 4, DType::F32},
    {StDType::F64, "F64", 8, DType::F64},
};

const StDTypeRow& row(StDType t) {
  for (const auto& r : kStDTypes)
    if (r.st == t) return r;
  CARTLM_CHECK(false);
  return kStDTypes[0];
}

const StDTypeRow* row_by_name(const std::string& name) {
  for (const auto& r : kStDTypes)
    if (name == r.name) return &r;
  return nullptr;
}

// The safetensors dtype a DType is written as (signed integers; U8 etc. cannot be expressed).
const StDTypeRow* row_for_write(DType t) {
  switch (t) {
    case DType::F32: return &row(StDType::F32);
    case DType::F16: return &row(StDType::F16);
    case DType::BF16: return &row(StDType::BF16);
    case DType::F64: return &row(StDType::F64);
    case DType::I8: return &row(StDType::I8);
    case DType::I16: return &row(StDType::I16);
    case DType::I32: return &row(StDType::I32);
    case DType::I64: return &row(StDType::I64);
    default: return nullptr;
  }
}

bool get_u64(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = (uint64_t)v.get<int64_t>();
    return true;
  }
  return false;
}

// Bytes for `shape` of `elem_size`-byte elements, or false on overflow (or a dim beyond int64).
bool checked_nbytes(const std::vector<uint64_t>& shape, uint64_t elem_size, uint64_t* out) {
  uint64_t n = elem_size;
  for (uint64_t d : shape) {
    if (d > (uint64_t)INT64_MAX || __builtin_mul_overflow(n, d, &n)) return false;
  }
  *out = n;
  return true;
}

std::string tensor_label(const std::string& label, const std::string& name) {
  return label + ": tensor '" + name + "'";
}

Status parse_entry(const std::string& label, const std::string& name, const json& e,
                   const uint8_t* buffer, uint64_t buffer_size, SafetensorsTensor* out) {
  const std::string where = tensor_label(label, name);
  if (!e.is_object()) return error(where + ": entry must be an object");
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) return error(where + ": missing string key dtype");
  const std::string dtype_name = dt->get<std::string>();
  const StDTypeRow* r = row_by_name(dtype_name);
  if (!r) {
    if (starts_with(dtype_name, "F8") || starts_with(dtype_name, "F4") ||
        starts_with(dtype_name, "F6") || dtype_name == "E8M0")
      return error(where + ": dtype " + dtype_name + " is not supported by cartlm");
    return error(where + ": unknown dtype \"" + dtype_name + "\"");
  }
  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) return error(where + ": missing array key shape");
  std::vector<uint64_t> shape;
  for (const json& d : *sh) {
    uint64_t v;
    if (!get_u64(d, &v))
      return error(where + ": shape entries must be non-negative integers, got " + d.dump());
    shape.push_back(v);
  }
  uint64_t nbytes;
  if (!checked_nbytes(shape, r->size, &nbytes))
    return error(where + ": shape " + sh->dump() + " overflows the byte count");
  auto off = e.find("data_offsets");
  uint64_t begin, end;
  if (off == e.end() || !off->is_array() || off->size() != 2 || !get_u64((*off)[0], &begin) ||
      !get_u64((*off)[1], &end))
    return error(where + ": data_offsets must be [begin, end] (non-negative integers)");
  if (end < begin)
    return error(where + strformat(": data_offsets [%llu, %llu] end before begin",
                                   (unsigned long long)begin, (unsigned long long)end));
  if (end > buffer_size)
    return error(where + strformat(": data_offsets [%llu, %llu] run past the end of the data "
                                   "(%llu bytes; file truncated?)",
                                   (unsigned long long)begin, (unsigned long long)end,
                                   (unsigned long long)buffer_size));
  if (end - begin != nbytes)
    return error(where + strformat(": data_offsets span %llu bytes but %s %s needs %llu",
                                   (unsigned long long)(end - begin), r->name,
                                   sh->dump().c_str(), (unsigned long long)nbytes));
  out->st_dtype = r->st;
  out->data_begin = begin;
  out->view.name = name;
  out->view.dtype = r->dtype;
  out->view.shape.assign(shape.begin(), shape.end());
  out->view.data = buffer + begin;
  out->view.nbytes = nbytes;
  return {};
}

}  // namespace

const char* st_dtype_name(StDType t) { return row(t).name; }
uint64_t st_dtype_size(StDType t) { return row(t).size; }

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.view.name == name) return &t;
  return nullptr;
}

Result<SafetensorsFile> parse_safetensors(const uint8_t* data, size_t size,
                                          const std::string& label, SafetensorsLimits limits) {
  if (size < 8)
    return error(label + strformat(": %zu bytes is too short for a safetensors file (needs an "
                                   "8-byte header length)", size));
  uint64_t n;
  std::memcpy(&n, data, 8);
  if (n > limits.max_header_bytes)
    return error(label + strformat(": header length %llu exceeds the limit of %llu bytes (not a "
                                   "safetensors file?)",
                                   (unsigned long long)n,
                                   (unsigned long long)limits.max_header_bytes));
  if (n > size - 8)
    return error(label + strformat(": header length %llu runs past the end of the file (%zu "
                                   "bytes)", (unsigned long long)n, size));
  const char* text = reinterpret_cast<const char*>(data + 8);
  if (n == 0 || text[0] != '{') return error(label + ": header is not a JSON object");
  json header = json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return error(label + ": header is not valid JSON");

  SafetensorsFile f;
  f.header_bytes = n;
  const uint8_t* buffer = data + 8 + n;
  const uint64_t buffer_size = size - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return error(label + ": __metadata__ must be an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          return error(label + ": __metadata__ value for '" + m.key() + "' must be a string");
        f.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    SafetensorsTensor t;
    CARTLM_RETURN_IF_ERROR(parse_entry(label, it.key(), *it, buffer, buffer_size, &t));
    f.tensors.push_back(std::move(t));
  }
  std::sort(f.tensors.begin(), f.tensors.end(), [](const auto& a, const auto& b) {
    return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.view.name < b.view.name;
  });
  // Sorted by begin, two tensors overlap exactly when one starts before its predecessor ends
  // (empty tensors take no bytes and overlap nothing).
  const SafetensorsTensor* prev = nullptr;
  for (const auto& t : f.tensors) {
    if (t.view.nbytes == 0) continue;
    if (prev && t.data_begin < prev->data_begin + prev->view.nbytes)
      return error(label + ": tensors '" + prev->view.name + "' and '" + t.view.name +
                   "' overlap in the data buffer");
    prev = &t;
  }
  return f;
}

Result<SafetensorsFile> open_safetensors(const std::string& path, SafetensorsLimits limits,
                                         MapOptions map) {
  CARTLM_ASSIGN_OR_RETURN(MappedFile m, MappedFile::open(path, map));
  CARTLM_ASSIGN_OR_RETURN(SafetensorsFile f, parse_safetensors(m.data(), m.size(), path, limits));
  f.file = std::move(m);  // the mapping's address does not change, so the views stay valid
  return f;
}

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

namespace {

const char* kIndexName = "model.safetensors.index.json";
const char* kSingleName = "model.safetensors";

Status add_shard_tensors(Checkpoint& ck, size_t shard, const std::string& shard_name,
                         std::map<std::string, std::string>& owner) {
  for (const auto& t : ck.shards[shard].tensors) {
    auto [it, inserted] = owner.emplace(t.view.name, shard_name);
    if (!inserted)
      return error(ck.dir + ": tensor '" + t.view.name + "' appears in both " + it->second +
                   " and " + shard_name);
    ck.tensors[t.view.name] = t.view;
  }
  return {};
}

Result<Checkpoint> load_sharded(const std::string& dir, const std::string& index_path,
                                MapOptions map) {
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(index_path));
  json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object()) return error(index_path + ": not valid JSON");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object())
    return error(index_path + ": missing object key weight_map");
  std::set<std::string> shard_names;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it->is_string())
      return error(index_path + ": weight_map entry '" + it.key() + "' must be a file name");
    const std::string name = it->get<std::string>();
    // Shards must sit next to the index; a path could read any file on the machine.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      return error(index_path + ": weight_map entry '" + it.key() + "' names a bad shard '" +
                   name + "'");
    shard_names.insert(name);
  }
  if (shard_names.empty()) return error(index_path + ": weight_map is empty");
  Checkpoint ck;
  ck.dir = dir;
  std::map<std::string, std::string> owner;  // tensor -> shard file
  for (const std::string& name : shard_names) {
    auto f = open_safetensors(join_path(dir, name), {}, map);
    if (!f.ok())
      return error("shard " + name + " listed in " + index_path + ": " + f.message());
    ck.shards.push_back(std::move(*f));
    CARTLM_RETURN_IF_ERROR(add_shard_tensors(ck, ck.shards.size() - 1, name, owner));
  }
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string shard = it->get<std::string>();
    auto o = owner.find(it.key());
    if (o == owner.end())
      return error(index_path + ": tensor '" + it.key() + "' is missing from shard " + shard);
    if (o->second != shard)
      return error(index_path + ": tensor '" + it.key() + "' is listed in " + shard +
                   " but stored in " + o->second);
  }
  ck.metadata = ck.shards.front().metadata;
  return ck;
}

Result<Checkpoint> load_single(const std::string& dir, const std::string& file, MapOptions map) {
  Checkpoint ck;
  ck.dir = dir;
  CARTLM_ASSIGN_OR_RETURN(SafetensorsFile f, open_safetensors(file, {}, map));
  ck.shards.push_back(std::move(f));
  std::map<std::string, std::string> owner;
  CARTLM_RETURN_IF_ERROR(add_shard_tensors(ck, 0, file, owner));
  ck.metadata = ck.shards.front().metadata;
  return ck;
}

}  // namespace

Result<Checkpoint> load_checkpoint_tensors(const std::string& path, MapOptions map) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::string index = join_path(path, kIndexName);
    if (file_exists(index)) return load_sharded(path, index, map);
    std::string single = join_path(path, kSingleName);
    if (file_exists(single)) return load_single(path, single, map);
    return error("'" + path + "' has no " + kSingleName + " or " + kIndexName +
                 "; hint: pass an HF checkpoint directory");
  }
  if (!file_exists(path)) return error("cannot open '" + path + "': no such file or directory");
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (ends_with(path, ".index.json")) return load_sharded(dir, path, map);
  return load_single(dir, path, map);
}

Status write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) {
      if (!is_valid_utf8(k) || !is_valid_utf8(v))
        return error(path + ": __metadata__ entry '" + sanitize_utf8(k) + "' is not valid UTF-8");
      m[k] = v;
    }
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    const std::string where = path + ": tensor '" + t.name + "'";
    if (t.name == "__metadata__") return error(where + ": reserved name");
    if (!is_valid_utf8(t.name)) return error(path + ": a tensor name is not valid UTF-8");
    if (header.contains(t.name)) return error(where + ": duplicate name");
    const StDTypeRow* r = row_for_write(t.dtype);
    if (!r)
      return error(where + ": dtype " + dtype_name(t.dtype) +
                   " cannot be stored in safetensors (F32/F16/BF16/F64/I8/I16/I32/I64 only)");
    std::vector<uint64_t> shape;
    for (int64_t d : t.shape) {
      if (d < 0) return error(where + ": negative dimension in shape " + shape_str(t.shape));
      shape.push_back((uint64_t)d);
    }
    uint64_t nbytes;
    if (!checked_nbytes(shape, r->size, &nbytes) || nbytes != t.nbytes)
      return error(where + strformat(": %llu bytes given for %s %s",
                                     (unsigned long long)t.nbytes, r->name,
                                     shape_str(t.shape).c_str()));
    if (nbytes > 0 && t.data == nullptr) return error(where + ": no data");
    header[t.name] = {
        {"dtype", r->name}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  // Names and metadata were checked to be UTF-8 above, so dump() cannot throw.
  std::string text = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  uint64_t n = text.size();
  char len[8];
  std::memcpy(len, &n, 8);

  AtomicFile f;
  CARTLM_RETURN_IF_ERROR(f.open(path));
  CARTLM_RETURN_IF_ERROR(f.write(std::string_view(len, 8)));
  CARTLM_RETURN_IF_ERROR(f.write(text));
  for (const TensorView& t : tensors) {
    if (t.nbytes == 0) continue;
    CARTLM_RETURN_IF_ERROR(
        f.write(std::string_view(static_cast<const char*>(t.data), (size_t)t.nbytes)));
  }
  return f.commit();
}

Status write_sharded_checkpoint(const std::string& dir,
                                const std::vector<std::vector<TensorView>>& shards,
                                const std::map<std::string, std::string>& metadata) {
  if (shards.empty()) return error(dir + ": no shards to write");
  CARTLM_RETURN_IF_ERROR(ensure_dir(dir));
  if (shards.size() == 1)
    return write_safetensors(join_path(dir, kSingleName), shards[0], metadata);
  json weight_map = json::object();
  uint64_t total = 0;
  std::vector<std::string> names;
  for (size_t i = 0; i < shards.size(); ++i) {
    names.push_back(strformat("model-%05zu-of-%05zu.safetensors", i + 1, shards.size()));
    for (const TensorView& t : shards[i]) {
      if (!is_valid_utf8(t.name)) return error(dir + ": a tensor name is not valid UTF-8");
      if (weight_map.contains(t.name))
        return error(dir + ": tensor '" + t.name + "' is in more than one shard");
      weight_map[t.name] = names.back();
      total += t.nbytes;
    }
  }
  for (size_t i = 0; i < shards.size(); ++i)
    CARTLM_RETURN_IF_ERROR(write_safetensors(join_path(dir, names[i]), shards[i], metadata));
  // The index goes last: a crash before this point leaves no index pointing at missing shards.
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return write_file_atomic(join_path(dir, kIndexName), index.dump(2) + "\n");
}

}  // namespace cartlm
