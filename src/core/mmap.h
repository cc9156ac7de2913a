// MappedFile: a whole file mapped read-only into memory. Weight loaders (safetensors, GGUF) hand
// out tensor views that point straight into the mapping, so a model costs no copy and no heap,
// and pages are shared between processes that load the same file. Move-only: the mapping lives
// exactly as long as the MappedFile, and moving it does not move the bytes (views stay valid).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cartlm {

struct MapOptions {
  // MAP_POPULATE: read the whole file at open time (load-time benchmarks, avoiding page faults
  // in the first decode step). Off by default: pages are faulted in on first touch.
  bool populate = false;
};

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Errors name the path and the reason ("cannot open 'x': No such file or directory",
  // "'x' is a directory"). An empty file maps to size() == 0 and data() == nullptr.
  static Result<MappedFile> open(const std::string& path, MapOptions options = {});

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_open() const { return open_; }
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data_), size_}; }
  void close();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool open_ = false;
  std::string path_;
};

}  // namespace cartlm
