// Whole-file reads and crash-safe writes. Every output cartlm writes goes through AtomicFile:
// bytes land in "<path>.tmp.<pid>", are flushed and fsync'ed, and only then renamed over <path>,
// so a crash or a full disk never leaves a half-written file under the real name.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cartlm {

Result<std::string> read_file(const std::string& path);
Status write_file_atomic(const std::string& path, std::string_view data);
// Creates `dir` and its parents if needed; fails with a clear message if it is not writable.
Status ensure_dir(const std::string& dir);
bool file_exists(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();  // an uncommitted file is removed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status open(const std::string& path);
  Status write(std::string_view data);
  Status commit();  // flush, fsync, rename; the file is closed afterwards
  void abandon();

 private:
  std::string path_, tmp_path_;
  std::FILE* f_ = nullptr;
};

}  // namespace cartlm
