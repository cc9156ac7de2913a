#include "quant/imatrix_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/file_io.h"
#include "core/strings.h"
#include "formats/gguf.h"

namespace cartlm {
namespace {

constexpr std::string_view kSumsSuffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";

bool remove_suffix(std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  s.resize(s.size() - suffix.size());
  return true;
}

// Bounded little-endian reader over the legacy file image.
struct Reader {
  const uint8_t* p;
  size_t size;
  size_t pos = 0;
  size_t left() const { return size - pos; }
  bool i32(int32_t& v) {
    if (left() < 4) return false;
    std::memcpy(&v, p + pos, 4);
    pos += 4;
    return true;
  }
};

Result<Imatrix> parse_legacy(const uint8_t* data, size_t size, const std::string& label) {
  Reader r{data, size};
  Imatrix m;
  m.is_legacy = true;
  int32_t n_entries = 0;
  if (!r.i32(n_entries) || n_entries < 1) {
    return error(strformat("%s: imatrix has no entries (neither a GGUF nor a legacy .dat imatrix)",
                           label.c_str()));
  }
  for (int32_t i = 0; i < n_entries; ++i) {
    int32_t len = 0;
    if (!r.i32(len) || len < 0 || (size_t)len > r.left()) {
      return error(strformat("%s: entry %d: bad name length at byte %zu", label.c_str(), i,
                             r.pos));
    }
    std::string name((const char*)data + r.pos, (size_t)len);
    r.pos += (size_t)len;
    int32_t ncall = 0, nval = 0;
    if (!r.i32(ncall) || !r.i32(nval)) {
      return error(strformat("%s: entry '%s': truncated header", label.c_str(), name.c_str()));
    }
    if (nval < 1 || (uint64_t)nval * 4 > r.left()) {
      return error(strformat("%s: entry '%s': value count %d does not fit the %zu bytes left",
                             label.c_str(), name.c_str(), nval, r.left()));
    }
    ImatrixEntry e;
    e.sums.resize((size_t)nval);
    std::memcpy(e.sums.data(), data + r.pos, (size_t)nval * 4);
    r.pos += (size_t)nval * 4;
    e.counts = {ncall};
    m.entries[std::move(name)] = std::move(e);  // a repeated name replaces, as in llama.cpp
  }
  // Optional trailer: chunk count and the dataset file name.
  int32_t n_chunks = 0;
  if (r.i32(n_chunks)) {
    m.chunk_count = n_chunks;
    int32_t len = 0;
    if (r.i32(len) && len > 0 && (size_t)len <= r.left()) {
      m.datasets.emplace_back((const char*)data + r.pos, (size_t)len);
    }
  }
  return m;
}

Result<Imatrix> from_gguf(const GgufFile& g) {
  const char* label = g.label.c_str();
  Imatrix m;
  if (g.tensors.empty()) return error(strformat("%s: imatrix has no tensors", label));
  if (const GgufValue* v = g.find("imatrix.datasets")) {
    if (v->is_array() && v->elem_type == GgufType::String) m.datasets = v->strs;
  }
  CARTLM_ASSIGN_OR_RETURN(uint32_t chunk_count, g.get_u32_or("imatrix.chunk_count", 0));
  CARTLM_ASSIGN_OR_RETURN(uint32_t chunk_size, g.get_u32_or("imatrix.chunk_size", 0));
  if (chunk_count > (uint32_t)std::numeric_limits<int32_t>::max() ||
      chunk_size > (uint32_t)std::numeric_limits<int32_t>::max()) {
    return error(strformat("%s: imatrix.chunk_count/chunk_size out of range", label));
  }
  if (!g.has("imatrix.datasets") || !g.has("imatrix.chunk_count") ||
      !g.has("imatrix.chunk_size")) {
    // llama-quantize refuses such files; so do we, rather than guess what the sums mean.
    return error(strformat("%s: GGUF imatrix lacks imatrix.datasets / imatrix.chunk_count / "
                           "imatrix.chunk_size",
                           label));
  }
  m.chunk_count = (int32_t)chunk_count;
  m.chunk_size = (int32_t)chunk_size;

  std::map<std::string, std::pair<const GgufTensor*, const GgufTensor*>> pairs;
  for (const GgufTensor& t : g.tensors) {
    std::string name = t.view.name;
    if (remove_suffix(name, kSumsSuffix)) {
      pairs[name].first = &t;
    } else if (remove_suffix(name, kCountsSuffix)) {
      pairs[name].second = &t;
    }
  }
  for (const auto& [name, pr] : pairs) {
    const GgufTensor* sums = pr.first;
    const GgufTensor* counts = pr.second;
    if (!sums || !counts) {
      return error(strformat("%s: entry '%s' has %s but no %s tensor", label, name.c_str(),
                             sums ? "in_sum2" : "counts", sums ? "counts" : "in_sum2"));
    }
    if (sums->view.dtype != DType::F32 || counts->view.dtype != DType::F32) {
      return error(strformat("%s: entry '%s': in_sum2 and counts must be F32", label,
                             name.c_str()));
    }
    const int64_t nval = sums->view.numel();
    const int64_t ncounts = counts->view.numel();
    if (nval < 1 || ncounts < 1 || nval % ncounts != 0) {
      return error(strformat("%s: entry '%s': %lld sums do not split into %lld matrices", label,
                             name.c_str(), (long long)nval, (long long)ncounts));
    }
    ImatrixEntry e;
    e.sums.resize((size_t)nval);
    std::memcpy(e.sums.data(), sums->view.data, (size_t)nval * sizeof(float));
    e.counts.resize((size_t)ncounts);
    for (int64_t j = 0; j < ncounts; ++j) {
      float c = 0;
      std::memcpy(&c, (const uint8_t*)counts->view.data + j * 4, 4);
      if (!std::isfinite(c) || c < 0 || c > 9.0e18f) {
        return error(strformat("%s: entry '%s': bad count %g", label, name.c_str(), (double)c));
      }
      e.counts[(size_t)j] = std::lround(c);
    }
    m.entries[name] = std::move(e);
  }
  if (m.entries.empty()) {
    return error(strformat("%s: no <name>.in_sum2 / <name>.counts tensors", label));
  }
  return m;
}

bool has_gguf_magic(const uint8_t* data, size_t size) {
  return size >= 4 && std::memcmp(data, "GGUF", 4) == 0;
}

}  // namespace

Result<Imatrix> parse_imatrix(const uint8_t* data, size_t size, const std::string& label) {
  if (has_gguf_magic(data, size)) {
    CARTLM_ASSIGN_OR_RETURN(GgufFile g, parse_gguf(data, size, label));
    return from_gguf(g);
  }
  return parse_legacy(data, size, label);
}

Result<Imatrix> read_imatrix(const std::string& path) {
  CARTLM_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  const auto* data = (const uint8_t*)bytes.data();
  if (has_gguf_magic(data, bytes.size())) {
    CARTLM_ASSIGN_OR_RETURN(GgufFile g, open_gguf(path));
    return from_gguf(g);
  }
  return parse_legacy(data, bytes.size(), path);
}

Status write_imatrix_gguf(const std::string& path, const Imatrix& m) {
  if (m.is_legacy) {
    return error(path + ": cannot write a legacy (.dat) imatrix as GGUF: its raw counts are lost");
  }
  std::vector<GgufKV> kvs;
  kvs.push_back({"general.type", GgufValue::string("imatrix")});
  kvs.push_back({"imatrix.datasets", GgufValue::array_strings(m.datasets)});
  kvs.push_back({"imatrix.chunk_count", GgufValue::u32((uint32_t)std::max(m.chunk_count, 0))});
  kvs.push_back({"imatrix.chunk_size", GgufValue::u32((uint32_t)std::max(m.chunk_size, 0))});

  // Counts are stored as f32, as llama-imatrix does.
  std::vector<std::vector<float>> count_bufs;
  count_bufs.reserve(m.entries.size());
  std::vector<TensorView> views;
  for (const auto& [name, e] : m.entries) {  // std::map: sorted by name, like llama-imatrix
    const size_t nmat = e.counts.size();
    if (nmat == 0 || e.sums.empty() || e.sums.size() % nmat != 0) {
      return error(strformat("%s: entry '%s': %zu sums do not split into %zu matrices",
                             path.c_str(), name.c_str(), e.sums.size(), nmat));
    }
    const int64_t cols = (int64_t)(e.sums.size() / nmat);
    auto& cb = count_bufs.emplace_back();
    for (int64_t c : e.counts) cb.push_back((float)c);
    // ggml writes trailing ne == 1 dimensions away, so a dense entry is 1-D: match it.
    TensorView s{name + std::string(kSumsSuffix), DType::F32, {}, e.sums.data(),
                 e.sums.size() * sizeof(float)};
    TensorView c{name + std::string(kCountsSuffix), DType::F32, {}, cb.data(),
                 cb.size() * sizeof(float)};
    if (nmat == 1) {
      s.shape = {cols};
      c.shape = {1};
    } else {
      s.shape = {(int64_t)nmat, cols};
      c.shape = {(int64_t)nmat, 1};
    }
    views.push_back(std::move(s));
    views.push_back(std::move(c));
  }
  return write_gguf(path, kvs, views);
}

Status write_imatrix_dat(const std::string& path, const Imatrix& m) {
  if (!m.is_legacy && m.chunk_size <= 0) {
    return error(path + ": writing a legacy imatrix needs chunk_size > 0");
  }
  std::string out;
  auto put_i32 = [&](int32_t v) { out.append((const char*)&v, 4); };
  std::vector<const std::string*> names;
  for (const auto& [name, e] : m.entries) {
    bool any = false;
    for (int64_t c : e.counts) any |= c != 0;
    if (any || m.is_legacy) names.push_back(&name);  // llama-imatrix skips entries with no data
  }
  put_i32((int32_t)names.size());
  for (const std::string* name : names) {
    const ImatrixEntry& e = m.entries.at(*name);
    const size_t nmat = e.counts.size();
    if (nmat == 0 || e.sums.empty() || e.sums.size() % nmat != 0) {
      return error(strformat("%s: entry '%s': %zu sums do not split into %zu matrices",
                             path.c_str(), name->c_str(), e.sums.size(), nmat));
    }
    put_i32((int32_t)name->size());
    out.append(*name);
    if (m.is_legacy) {
      put_i32((int32_t)e.counts[0]);
      put_i32((int32_t)e.sums.size());
      out.append((const char*)e.sums.data(), e.sums.size() * sizeof(float));
      continue;
    }
    const int64_t max_count = *std::max_element(e.counts.begin(), e.counts.end());
    const int32_t ncall = (int32_t)((max_count + (m.chunk_size - 1)) / m.chunk_size);
    put_i32(ncall);
    put_i32((int32_t)e.sums.size());
    const size_t per = e.sums.size() / nmat;
    for (size_t i = 0; i < e.sums.size(); ++i) {
      float count = (float)e.counts[i / per];
      float value = e.sums[i];
      if (count == 0.0f) {
        value = 1.0f;
        count = 1.0f;
      }
      const float v = (value / count) * (float)ncall;
      out.append((const char*)&v, 4);
    }
  }
  put_i32(m.chunk_count);
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.back();
  put_i32((int32_t)dataset.size());
  out.append(dataset);
  return write_file_atomic(path, out);
}

std::vector<float> imatrix_importance(const ImatrixEntry& e, bool legacy) {
  std::vector<float> w(e.sums.size());
  if (legacy) {
    const int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = ncall > 0 ? e.sums[i] / (float)ncall : e.sums[i];
    }
    return w;
  }
  const size_t nmat = e.counts.size();
  if (nmat == 0) return w;
  const size_t per = e.sums.size() / nmat;
  for (size_t j = 0; j < nmat; ++j) {
    const float count = (float)e.counts[j];
    for (size_t i = 0; i < per; ++i) {
      w[j * per + i] = count > 0.0f ? e.sums[j * per + i] / count : 1.0f;
    }
  }
  return w;
}

}  // namespace cartlm
