// GGUF reader and the value helpers shared with the writer (gguf_write.cpp).
#include "formats/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "core/dtype.h"
#include "core/strings.h"

namespace cartlm {

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "unknown";
}

size_t gguf_type_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: case GgufType::Array: return 0;
  }
  return 0;
}

static bool known_type(uint32_t t) { return t <= 12; }

// ---- GgufValue -----------------------------------------------------------------------------

uint64_t GgufValue::array_size() const {
  if (type != GgufType::Array) return 0;
  if (elem_type == GgufType::String) return strs.size();
  size_t s = gguf_type_size(elem_type);
  return s ? data.size() / s : 0;
}

namespace {

GgufValue scalar(GgufType t, uint64_t bits) {
  GgufValue v;
  v.type = t;
  v.bits = bits;
  return v;
}

template <class T>
uint64_t to_bits(T x) {
  uint64_t b = 0;
  std::memcpy(&b, &x, sizeof(T));
  return b;
}

template <class T>
GgufValue numeric_array(GgufType et, std::span<const T> v) {
  GgufValue out;
  out.type = GgufType::Array;
  out.elem_type = et;
  out.data.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data.data(), v.data(), out.data.size());
  return out;
}

// Reads one scalar of type t from raw little-endian bytes as a signed or unsigned integer or a
// double. Returns false for types that are not numbers.
struct Num {
  bool is_int = false, is_signed = false;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
};

Num decode_num(GgufType t, const uint8_t* p) {
  Num n;
  switch (t) {
    case GgufType::U8: n.is_int = true; n.u = p[0]; break;
    case GgufType::Bool: n.is_int = true; n.u = p[0]; break;
    case GgufType::I8: n.is_int = n.is_signed = true; n.i = (int8_t)p[0]; break;
    case GgufType::U16: { uint16_t x; std::memcpy(&x, p, 2); n.is_int = true; n.u = x; break; }
    case GgufType::I16: { int16_t x; std::memcpy(&x, p, 2); n.is_int = n.is_signed = true; n.i = x; break; }
    case GgufType::U32: { uint32_t x; std::memcpy(&x, p, 4); n.is_int = true; n.u = x; break; }
    case GgufType::I32: { int32_t x; std::memcpy(&x, p, 4); n.is_int = n.is_signed = true; n.i = x; break; }
    case GgufType::U64: { uint64_t x; std::memcpy(&x, p, 8); n.is_int = true; n.u = x; break; }
    case GgufType::I64: { int64_t x; std::memcpy(&x, p, 8); n.is_int = n.is_signed = true; n.i = x; break; }
    case GgufType::F32: { float x; std::memcpy(&x, p, 4); n.f = x; break; }
    case GgufType::F64: { double x; std::memcpy(&x, p, 8); n.f = x; break; }
    default: break;
  }
  if (n.is_int && !n.is_signed) n.i = (int64_t)n.u;
  return n;
}

bool is_numeric(GgufType t) {
  return t != GgufType::String && t != GgufType::Array && t != GgufType::Bool;
}

Result<int64_t> num_to_i64(const Num& n, GgufType t, std::string_view what) {
  if (!n.is_int)
    return error(std::string(what) + " has type " + gguf_type_name(t) + ", expected an integer");
  if (!n.is_signed && n.u > (uint64_t)std::numeric_limits<int64_t>::max())
    return error(std::string(what) + " = " + std::to_string(n.u) + " does not fit in i64");
  return n.i;
}

Result<double> num_to_f64(const Num& n, GgufType t) {
  if (n.is_int) return n.is_signed ? (double)n.i : (double)n.u;
  return n.f;
}

}  // namespace

GgufValue GgufValue::u8(uint8_t v) { return scalar(GgufType::U8, v); }
GgufValue GgufValue::i8(int8_t v) { return scalar(GgufType::I8, to_bits(v)); }
GgufValue GgufValue::u16(uint16_t v) { return scalar(GgufType::U16, v); }
GgufValue GgufValue::i16(int16_t v) { return scalar(GgufType::I16, to_bits(v)); }
GgufValue GgufValue::u32(uint32_t v) { return scalar(GgufType::U32, v); }
GgufValue GgufValue::i32(int32_t v) { return scalar(GgufType::I32, to_bits(v)); }
GgufValue GgufValue::u64(uint64_t v) { return scalar(GgufType::U64, v); }
GgufValue GgufValue::i64(int64_t v) { return scalar(GgufType::I64, to_bits(v)); }
GgufValue GgufValue::f32(float v) { return scalar(GgufType::F32, to_bits(v)); }
GgufValue GgufValue::f64(double v) { return scalar(GgufType::F64, to_bits(v)); }
GgufValue GgufValue::boolean(bool v) { return scalar(GgufType::Bool, v ? 1 : 0); }
GgufValue GgufValue::string(std::string v) {
  GgufValue out;
  out.type = GgufType::String;
  out.str = std::move(v);
  return out;
}
GgufValue GgufValue::array_strings(std::vector<std::string> v) {
  GgufValue out;
  out.type = GgufType::Array;
  out.elem_type = GgufType::String;
  out.strs = std::move(v);
  return out;
}
GgufValue GgufValue::array_i32(std::span<const int32_t> v) { return numeric_array(GgufType::I32, v); }
GgufValue GgufValue::array_u32(std::span<const uint32_t> v) { return numeric_array(GgufType::U32, v); }
GgufValue GgufValue::array_i64(std::span<const int64_t> v) { return numeric_array(GgufType::I64, v); }
GgufValue GgufValue::array_f32(std::span<const float> v) { return numeric_array(GgufType::F32, v); }
GgufValue GgufValue::array_f64(std::span<const double> v) { return numeric_array(GgufType::F64, v); }
GgufValue GgufValue::array_u8(std::span<const uint8_t> v) { return numeric_array(GgufType::U8, v); }
GgufValue GgufValue::array_bool(std::span<const bool> v) {
  GgufValue out;
  out.type = GgufType::Array;
  out.elem_type = GgufType::Bool;
  for (bool b : v) out.data.push_back(b ? 1 : 0);
  return out;
}

Result<int64_t> GgufValue::as_i64(std::string_view what) const {
  if (!is_numeric(type))
    return error(std::string(what) + " has type " + gguf_type_name(type) + ", expected an integer");
  uint8_t raw[8];
  std::memcpy(raw, &bits, 8);
  return num_to_i64(decode_num(type, raw), type, what);
}

Result<uint64_t> GgufValue::as_u64(std::string_view what) const {
  if (!is_numeric(type))
    return error(std::string(what) + " has type " + gguf_type_name(type) + ", expected an integer");
  uint8_t raw[8];
  std::memcpy(raw, &bits, 8);
  Num n = decode_num(type, raw);
  if (!n.is_int)
    return error(std::string(what) + " has type " + gguf_type_name(type) + ", expected an integer");
  if (n.is_signed && n.i < 0)
    return error(std::string(what) + " = " + std::to_string(n.i) + " is negative");
  return n.is_signed ? (uint64_t)n.i : n.u;
}

Result<double> GgufValue::as_f64(std::string_view what) const {
  if (!is_numeric(type))
    return error(std::string(what) + " has type " + gguf_type_name(type) + ", expected a number");
  uint8_t raw[8];
  std::memcpy(raw, &bits, 8);
  return num_to_f64(decode_num(type, raw), type);
}

Result<bool> GgufValue::as_bool(std::string_view what) const {
  if (type == GgufType::Bool) return bits != 0;
  if (type == GgufType::U8 || type == GgufType::I8) return bits != 0;  // some writers use u8
  return error(std::string(what) + " has type " + gguf_type_name(type) + ", expected bool");
}

Result<int64_t> GgufValue::elem_i64(uint64_t i, std::string_view what) const {
  CARTLM_CHECK(type == GgufType::Array && i < array_size());
  if (!is_numeric(elem_type) && elem_type != GgufType::Bool)
    return error(std::string(what) + " is an array of " + gguf_type_name(elem_type) +
                 ", expected integers");
  return num_to_i64(decode_num(elem_type, data.data() + i * gguf_type_size(elem_type)), elem_type,
                    what);
}

Result<double> GgufValue::elem_f64(uint64_t i, std::string_view what) const {
  CARTLM_CHECK(type == GgufType::Array && i < array_size());
  if (!is_numeric(elem_type))
    return error(std::string(what) + " is an array of " + gguf_type_name(elem_type) +
                 ", expected numbers");
  return num_to_f64(decode_num(elem_type, data.data() + i * gguf_type_size(elem_type)), elem_type);
}

static std::string quote(std::string_view s, size_t max_bytes = 60) {
  std::string out = "\"";
  size_t n = 0;
  for (unsigned char c : s) {
    if (n++ >= max_bytes) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += (char)c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += strformat("\\x%02x", c);
    } else {
      out += (char)c;
    }
  }
  return out + "\"";
}

static std::string describe_scalar(GgufType t, const uint8_t* p) {
  Num n = decode_num(t, p);
  if (t == GgufType::Bool) return n.u ? "true" : "false";
  if (n.is_int) return n.is_signed ? std::to_string(n.i) : std::to_string(n.u);
  return strformat("%.9g", n.f);
}

std::string GgufValue::describe(size_t max_elems) const {
  if (type == GgufType::String) return quote(str);
  if (type != GgufType::Array) {
    uint8_t raw[8];
    std::memcpy(raw, &bits, 8);
    return describe_scalar(type, raw);
  }
  uint64_t n = array_size();
  std::string out = strformat("[%s x %llu", gguf_type_name(elem_type), (unsigned long long)n);
  uint64_t shown = std::min<uint64_t>(n, max_elems);
  for (uint64_t i = 0; i < shown; ++i) {
    out += i ? ", " : ": ";
    if (elem_type == GgufType::String)
      out += quote(strs[i], 24);
    else
      out += describe_scalar(elem_type, data.data() + i * gguf_type_size(elem_type));
  }
  if (shown < n) out += ", ...";
  return out + "]";
}

// ---- GgufFile getters ------------------------------------------------------------------------

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const GgufKV& kv : kvs)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  for (const GgufTensor& t : tensors)
    if (t.view.name == name) return &t;
  return nullptr;
}

TensorMap GgufFile::tensor_map() const {
  TensorMap m;
  for (const GgufTensor& t : tensors) m[t.view.name] = t.view;
  return m;
}

namespace {

std::string key_label(const GgufFile& f, std::string_view key) {
  return f.label + ": key '" + std::string(key) + "'";
}

Result<const GgufValue*> need(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (!v) return error(f.label + ": missing metadata key '" + std::string(key) + "'");
  return v;
}

}  // namespace

Result<uint64_t> GgufFile::get_u64(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  return v->as_u64(key_label(*this, key));
}

Result<uint32_t> GgufFile::get_u32(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(uint64_t x, get_u64(key));
  if (x > std::numeric_limits<uint32_t>::max())
    return error(key_label(*this, key) + " = " + std::to_string(x) + " does not fit in u32");
  return (uint32_t)x;
}

Result<int64_t> GgufFile::get_i64(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  return v->as_i64(key_label(*this, key));
}

Result<int32_t> GgufFile::get_i32(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(int64_t x, get_i64(key));
  if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
    return error(key_label(*this, key) + " = " + std::to_string(x) + " does not fit in i32");
  return (int32_t)x;
}

Result<double> GgufFile::get_f64(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  return v->as_f64(key_label(*this, key));
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(double x, get_f64(key));
  return (float)x;
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  return v->as_bool(key_label(*this, key));
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  if (v->type != GgufType::String)
    return error(key_label(*this, key) + " has type " + gguf_type_name(v->type) +
                 ", expected string");
  return v->str;
}

Result<std::span<const std::string>> GgufFile::get_array_strings(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  if (v->type != GgufType::Array || v->elem_type != GgufType::String)
    return error(key_label(*this, key) + " has type " +
                 (v->is_array() ? std::string("array of ") + gguf_type_name(v->elem_type)
                                : std::string(gguf_type_name(v->type))) +
                 ", expected an array of strings");
  return std::span<const std::string>(v->strs);
}

Result<std::vector<int64_t>> GgufFile::get_array_ints(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  if (v->type != GgufType::Array)
    return error(key_label(*this, key) + " has type " + gguf_type_name(v->type) +
                 ", expected an array of integers");
  std::vector<int64_t> out;
  uint64_t n = v->array_size();
  out.reserve(n);
  std::string what = key_label(*this, key);
  for (uint64_t i = 0; i < n; ++i) {
    CARTLM_ASSIGN_OR_RETURN(int64_t x, v->elem_i64(i, what));
    out.push_back(x);
  }
  return out;
}

Result<std::vector<float>> GgufFile::get_array_f32(std::string_view key) const {
  CARTLM_ASSIGN_OR_RETURN(const GgufValue* v, need(*this, key));
  if (v->type != GgufType::Array)
    return error(key_label(*this, key) + " has type " + gguf_type_name(v->type) +
                 ", expected an array of numbers");
  std::vector<float> out;
  uint64_t n = v->array_size();
  out.reserve(n);
  std::string what = key_label(*this, key);
  for (uint64_t i = 0; i < n; ++i) {
    CARTLM_ASSIGN_OR_RETURN(double x, v->elem_f64(i, what));
    out.push_back((float)x);
  }
  return out;
}

Result<uint32_t> GgufFile::get_u32_or(std::string_view key, uint32_t dflt) const {
  return has(key) ? get_u32(key) : Result<uint32_t>(dflt);
}
Result<float> GgufFile::get_f32_or(std::string_view key, float dflt) const {
  return has(key) ? get_f32(key) : Result<float>(dflt);
}
Result<bool> GgufFile::get_bool_or(std::string_view key, bool dflt) const {
  return has(key) ? get_bool(key) : Result<bool>(dflt);
}
Result<std::string> GgufFile::get_string_or(std::string_view key, std::string dflt) const {
  return has(key) ? get_string(key) : Result<std::string>(std::move(dflt));
}

// ---- reader ----------------------------------------------------------------------------------

namespace {

// Bounds-checked little-endian reads over the file image. Every failure names the offset.
struct Cursor {
  const uint8_t* data;
  uint64_t size;
  uint64_t pos = 0;
  const std::string& label;

  uint64_t remaining() const { return size - pos; }
  Status fail(const std::string& what) const {
    return error(label + ": " + what + " at byte " + std::to_string(pos));
  }
  template <class T>
  Status read(T& out, const char* what) {
    if (remaining() < sizeof(T))
      return fail(std::string("file ends inside ") + what + " (truncated file?)");
    std::memcpy(&out, data + pos, sizeof(T));
    pos += sizeof(T);
    return {};
  }
  Status read_string(std::string& out, const char* what, uint64_t max_bytes) {
    uint64_t n = 0;
    CARTLM_RETURN_IF_ERROR(read(n, what));
    if (n > remaining())
      return fail(std::string(what) + " length " + std::to_string(n) + " runs past the end (" +
                  std::to_string(remaining()) + " bytes left)");
    if (n > max_bytes)
      return fail(std::string(what) + " length " + std::to_string(n) + " exceeds the limit of " +
                  std::to_string(max_bytes) + " bytes");
    out.assign(reinterpret_cast<const char*>(data + pos), (size_t)n);
    pos += n;
    return {};
  }
};

Status read_value(Cursor& c, GgufType type, GgufValue& v, const std::string& key,
                  const GgufLimits& limits) {
  v.type = type;
  std::string what = "value of '" + key + "'";
  if (type == GgufType::String) return c.read_string(v.str, what.c_str(), limits.max_string_bytes);
  if (type != GgufType::Array) {
    size_t s = gguf_type_size(type);
    if (c.remaining() < s) return c.fail("file ends inside " + what);
    uint64_t bits = 0;
    std::memcpy(&bits, c.data + c.pos, s);
    if (type == GgufType::Bool && bits > 1)
      return c.fail(what + " is a bool with byte value " + std::to_string(bits) + " (not 0 or 1)");
    c.pos += s;
    v.bits = bits;
    return {};
  }
  uint32_t et = 0;
  uint64_t n = 0;
  CARTLM_RETURN_IF_ERROR(c.read(et, ("array type of '" + key + "'").c_str()));
  if (!known_type(et)) return c.fail("array '" + key + "' has unknown element type " + std::to_string(et));
  if ((GgufType)et == GgufType::Array)
    return c.fail("array '" + key + "' contains nested arrays, which are not supported");
  CARTLM_RETURN_IF_ERROR(c.read(n, ("array count of '" + key + "'").c_str()));
  v.elem_type = (GgufType)et;
  if (n > limits.max_array_elems)
    return c.fail("array '" + key + "' has " + std::to_string(n) + " elements, more than the limit " +
                  std::to_string(limits.max_array_elems));
  if (v.elem_type == GgufType::String) {
    // Each string needs at least its 8-byte length: reject absurd counts before reserving.
    if (n > c.remaining() / 8)
      return c.fail("array '" + key + "' claims " + std::to_string(n) + " strings but only " +
                    std::to_string(c.remaining()) + " bytes remain");
    // Grow as strings are actually read, so memory stays proportional to the bytes consumed.
    v.strs.reserve((size_t)std::min<uint64_t>(n, 1u << 16));
    for (uint64_t i = 0; i < n; ++i) {
      std::string w = "element " + std::to_string(i) + " of '" + key + "'";
      CARTLM_RETURN_IF_ERROR(c.read_string(v.strs.emplace_back(), w.c_str(), limits.max_string_bytes));
    }
    return {};
  }
  uint64_t es = gguf_type_size(v.elem_type);
  if (n > c.remaining() / es)  // also guards n * es against overflow
    return c.fail("array '" + key + "' of " + std::to_string(n) + " " + gguf_type_name(v.elem_type) +
                  " runs past the end (" + std::to_string(c.remaining()) + " bytes left)");
  uint64_t bytes = n * es;
  if (v.elem_type == GgufType::Bool) {
    for (uint64_t i = 0; i < n; ++i)
      if (c.data[c.pos + i] > 1)
        return c.fail("array '" + key + "' element " + std::to_string(i) + " is not a bool (0/1)");
  }
  v.data.assign(c.data + c.pos, c.data + c.pos + bytes);
  c.pos += bytes;
  return {};
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

Result<GgufFile> parse_gguf(const uint8_t* data, size_t size, const std::string& label,
                            GgufLimits limits) {
  GgufFile f;
  f.label = label;
  Cursor c{data, size, 0, f.label};
  uint32_t magic = 0;
  if (size < 4) return error(label + ": not a GGUF file (only " + std::to_string(size) + " bytes)");
  CARTLM_RETURN_IF_ERROR(c.read(magic, "magic"));
  if (magic != kGgufMagic)
    return error(label + ": not a GGUF file (bad magic " + strformat("0x%08x", magic) +
                 ", expected \"GGUF\")");
  CARTLM_RETURN_IF_ERROR(c.read(f.version, "version"));
  if (f.version != 2 && f.version != 3)
    return error(label + ": unsupported GGUF version " + std::to_string(f.version) +
                 " (cartlm reads versions 2 and 3)");
  uint64_t n_tensors = 0, n_kv = 0;
  CARTLM_RETURN_IF_ERROR(c.read(n_tensors, "tensor count"));
  CARTLM_RETURN_IF_ERROR(c.read(n_kv, "metadata count"));
  // A KV needs at least 8 (key length) + 4 (type) + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > limits.max_kv || n_kv > c.remaining() / 13)
    return error(label + ": absurd metadata count " + std::to_string(n_kv) + " for a " +
                 std::to_string(size) + "-byte file");
  if (n_tensors > limits.max_tensors || n_tensors > c.remaining() / 32)
    return error(label + ": absurd tensor count " + std::to_string(n_tensors) + " for a " +
                 std::to_string(size) + "-byte file");

  std::unordered_set<std::string_view> seen;
  f.kvs.reserve((size_t)std::min<uint64_t>(n_kv, 1024));
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKV& kv = f.kvs.emplace_back();
    std::string what = "key of metadata entry " + std::to_string(i);
    CARTLM_RETURN_IF_ERROR(c.read_string(kv.key, what.c_str(), 1 << 16));
    if (kv.key.empty()) return c.fail("metadata entry " + std::to_string(i) + " has an empty key");
    uint32_t type = 0;
    CARTLM_RETURN_IF_ERROR(c.read(type, ("type of '" + kv.key + "'").c_str()));
    if (!known_type(type))
      return c.fail("key '" + kv.key + "' has unknown value type " + std::to_string(type));
    CARTLM_RETURN_IF_ERROR(read_value(c, (GgufType)type, kv.value, kv.key, limits));
  }
  for (const GgufKV& kv : f.kvs)
    if (!seen.insert(kv.key).second) return error(label + ": duplicate metadata key '" + kv.key + "'");

  if (const GgufValue* a = f.find("general.alignment")) {
    if (a->type != GgufType::U32)
      return error(label + ": general.alignment has type " + gguf_type_name(a->type) +
                   ", expected u32");
    uint32_t al = (uint32_t)a->bits;
    if (al == 0 || (al & (al - 1)) != 0)
      return error(label + ": general.alignment = " + std::to_string(al) +
                   " is not a power of two");
    f.alignment = al;
  }

  std::unordered_set<std::string_view> names;
  f.tensors.reserve((size_t)std::min<uint64_t>(n_tensors, 4096));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor& t = f.tensors.emplace_back();
    std::string name;
    std::string what = "name of tensor " + std::to_string(i);
    CARTLM_RETURN_IF_ERROR(c.read_string(name, what.c_str(), 1 << 16));
    if (name.size() > kGgufMaxNameBytes)
      return c.fail("tensor name '" + name.substr(0, 80) + "' is longer than 63 bytes");
    uint32_t n_dims = 0;
    CARTLM_RETURN_IF_ERROR(c.read(n_dims, "tensor dimension count"));
    if (n_dims > (uint32_t)kGgufMaxDims)
      return c.fail("tensor '" + name + "' has " + std::to_string(n_dims) + " dimensions (max 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      int64_t ne = 0;
      CARTLM_RETURN_IF_ERROR(c.read(ne, "tensor shape"));
      if (ne < 0) return c.fail("tensor '" + name + "' has negative ne[" + std::to_string(d) + "]");
      if (mul_overflows(numel, (uint64_t)ne, numel) || numel > (uint64_t)INT64_MAX)
        return c.fail("tensor '" + name + "' has an element count that overflows");
      t.ne.push_back(ne);
    }
    uint32_t type = 0;
    uint64_t offset = 0;
    CARTLM_RETURN_IF_ERROR(c.read(type, "tensor type"));
    CARTLM_RETURN_IF_ERROR(c.read(offset, "tensor offset"));
    DType dt = (DType)type;
    const DTypeInfo* info = dtype_info(dt);
    if (!info || dt == DType::NF4)
      return c.fail("tensor '" + name + "' has tensor type " + std::to_string(type) +
                    ", which cartlm does not support");
    int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
    if (ne0 % info->block_size != 0)
      return c.fail("tensor '" + name + "' has ne[0] = " + std::to_string(ne0) +
                    ", not a multiple of the " + info->name + " block size " +
                    std::to_string(info->block_size));
    uint64_t rows = ne0 == 0 ? 0 : numel / (uint64_t)ne0;
    uint64_t row_bytes = (uint64_t)ne0 / info->block_size * info->block_bytes;
    uint64_t nbytes = 0;
    if (mul_overflows(row_bytes, rows, nbytes))
      return c.fail("tensor '" + name + "' byte size overflows");
    t.offset = offset;
    t.view.name = std::move(name);
    t.view.dtype = dt;
    t.view.nbytes = nbytes;
    for (size_t d = t.ne.size(); d-- > 0;) t.view.shape.push_back(t.ne[d]);
  }
  for (const GgufTensor& t : f.tensors)
    if (!names.insert(t.view.name).second)
      return error(label + ": duplicate tensor name '" + t.view.name + "'");

  uint64_t A = f.alignment;
  uint64_t header_end = c.pos;
  f.data_offset = header_end + (A - header_end % A) % A;
  // Offsets must follow ggml's layout: each tensor at the padded end of the previous one.
  uint64_t expect = 0;
  for (GgufTensor& t : f.tensors) {
    if (t.offset != expect)
      return error(label + ": tensor '" + t.view.name + "' has data offset " +
                   std::to_string(t.offset) + ", expected " + std::to_string(expect) +
                   " (tensors must be stored in order, each padded to " + std::to_string(A) + ")");
    uint64_t padded = t.view.nbytes + (A - t.view.nbytes % A) % A;
    if (padded < t.view.nbytes || expect + padded < expect)
      return error(label + ": tensor '" + t.view.name + "' size overflows");
    uint64_t begin = f.data_offset + t.offset;
    if (begin < f.data_offset || begin > size || t.view.nbytes > size - begin)
      return error(label + ": tensor '" + t.view.name + "' data [" + std::to_string(begin) + ", +" +
                   std::to_string(t.view.nbytes) + ") runs past the end of the file (" +
                   std::to_string(size) + " bytes; truncated file?)");
    t.view.data = data + begin;
    expect += padded;
  }
  return f;
}

Result<GgufFile> open_gguf(const std::string& path, GgufLimits limits, MapOptions map) {
  CARTLM_ASSIGN_OR_RETURN(MappedFile m, MappedFile::open(path, map));
  CARTLM_ASSIGN_OR_RETURN(GgufFile f, parse_gguf(m.data(), m.size(), path, limits));
  f.file = std::move(m);  // moving the mapping keeps the bytes (and the views) where they are
  return f;
}

}  // namespace cartlm
