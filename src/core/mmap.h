// MappedFile: a whole file mapped read-only into memory. Weight loaders (safetensors, GGUF) hand
// out tensor views that point straight into the mapping, so a model costs no copy and no heap,
// and pages are shared between processes that load the same file. Move-only: the mapping lives
// exactly as long as the MappedFile, and moving it does not move the bytes (views stay valid).
//
// With MapOptions::mmap = false the file is instead read into anonymous memory (llama.cpp's
// --no-mmap): the same read-only bytes at a stable address, but owned by this process, so the
// kernel cannot drop them the way it drops page-cache pages under memory pressure (on some VMs a
// mapped model is re-read from disk during decode). Costs RAM = file size and a full read at open.
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
  // false: read the whole file into private anonymous memory (2 MiB aligned, transparent huge
  // pages requested) instead of mapping it; `populate` is then moot.
  bool mmap = true;
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
  // "'x' is a directory", "cannot read 'x' at offset N: ..."). An empty file maps to
  // size() == 0 and data() == nullptr in both modes.
  static Result<MappedFile> open(const std::string& path, MapOptions options = {});

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_open() const { return open_; }
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data_), size_}; }
  void close();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;  // file bytes; munmap(data_, size_) releases either kind of mapping
  bool open_ = false;
  std::string path_;
};

}  // namespace cartlm
