#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace cartlm {

static std::string errno_text() { return std::strerror(errno); }

Result<std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return error("cannot open '" + path + "': " + errno_text());
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return error("cannot read '" + path + "': " + errno_text());
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

Status ensure_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return error("cannot create directory '" + dir + "': " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return error("'" + dir + "' is not a directory");
  if (::access(dir.c_str(), W_OK) != 0) return error("directory '" + dir + "' is not writable");
  return {};
}

AtomicFile::~AtomicFile() { abandon(); }

Status AtomicFile::open(const std::string& path) {
  abandon();
  path_ = path;
  tmp_path_ = path + ".tmp." + std::to_string(::getpid());
  f_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!f_) return error("cannot write '" + path + "': " + errno_text());
  return {};
}

Status AtomicFile::write(std::string_view data) {
  CARTLM_CHECK(f_ != nullptr);
  if (std::fwrite(data.data(), 1, data.size(), f_) != data.size())
    return error("cannot write '" + path_ + "': " + errno_text());
  return {};
}

Status AtomicFile::commit() {
  CARTLM_CHECK(f_ != nullptr);
  bool ok = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
  std::string why = ok ? "" : errno_text();
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok) {
    ::unlink(tmp_path_.c_str());
    return error("cannot write '" + path_ + "': " + (why.empty() ? errno_text() : why));
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    std::string e = errno_text();
    ::unlink(tmp_path_.c_str());
    return error("cannot rename into '" + path_ + "': " + e);
  }
  tmp_path_.clear();
  return {};
}

void AtomicFile::abandon() {
  if (f_) {
    std::fclose(f_);
    f_ = nullptr;
  }
  if (!tmp_path_.empty()) {
    ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
  }
}

Status write_file_atomic(const std::string& path, std::string_view data) {
  AtomicFile f;
  CARTLM_RETURN_IF_ERROR(f.open(path));
  CARTLM_RETURN_IF_ERROR(f.write(data));
  return f.commit();
}

}  // namespace cartlm
