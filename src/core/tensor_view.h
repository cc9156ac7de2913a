// TensorView: a named, typed, non-owning view of tensor bytes (usually inside a MappedFile).
// Every loader (safetensors, GGUF) produces these and every consumer (weights binding, merge,
// quantize, inspect) takes them, so no stage depends on which file format the bytes came from.
// Shapes are outermost-first (row-major, PyTorch/HF order): an HF linear weight is [out, in].
// GGUF stores ne[] innermost-first; its loader reverses it into this order.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace cartlm {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first
  const void* data = nullptr;  // nullptr for an absent optional tensor (e.g. a bias)
  uint64_t nbytes = 0;

  bool present() const { return data != nullptr || nbytes > 0 || !shape.empty(); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int ndim() const { return (int)shape.size(); }
  int64_t dim(int i) const { return shape[(size_t)i]; }  // i < ndim()
  template <class T>
  const T* as() const {
    return static_cast<const T*>(data);
  }
};

// Name -> view, ordered by name so iteration (printing, writing) is deterministic.
using TensorMap = std::map<std::string, TensorView>;

// "[2048, 8192]"
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace cartlm
