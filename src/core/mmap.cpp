#include "core/mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

namespace cartlm {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// Private anonymous memory of `size` bytes starting on a 2 MiB boundary, so transparent huge
// pages can back all of it (a decode streams every weight once per token: 4 KiB pages would cost
// a TLB miss per page). Over-allocates by 2 MiB and unmaps the unaligned head and the tail, so
// munmap(result, size) later releases exactly what is left. nullptr on failure (errno set).
uint8_t* alloc_aligned_anon(size_t size) {
  const size_t page = (size_t)::sysconf(_SC_PAGESIZE);
  const size_t span = (size + page - 1) / page * page;  // what munmap(p, size) covers
  if (span < size || span + kHugePage < span) {
    errno = ENOMEM;
    return nullptr;
  }
  const size_t len = span + kHugePage;
  void* raw = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (base + kHugePage - 1) / kHugePage * kHugePage;
  if (start > base) ::munmap(raw, start - base);
  const uintptr_t end = start + span, raw_end = base + len;
  if (raw_end > end) ::munmap(reinterpret_cast<void*>(end), raw_end - end);
  uint8_t* p = reinterpret_cast<uint8_t*>(start);
#ifdef MADV_HUGEPAGE
  ::madvise(p, span, MADV_HUGEPAGE);  // a hint: ignored where THP is off
#endif
  return p;
}

// Reads all of [0, size) from fd into dst; pread may return short counts (and must be retried on
// EINTR), and a single call reads at most ~2 GiB on Linux.
Status read_all(int fd, uint8_t* dst, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    const size_t want = std::min(size - done, size_t(1) << 30);
    ssize_t n = ::pread(fd, dst + done, want, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return error("cannot read '" + path + "' at offset " + std::to_string(done) + ": " +
                   std::strerror(errno));
    if (n == 0)
      return error("cannot read '" + path + "' at offset " + std::to_string(done) +
                   ": unexpected end of file (expected " + std::to_string(size) +
                   " bytes; did the file change while loading?)");
    done += (size_t)n;
  }
  return {};
}

}  // namespace

MappedFile::~MappedFile() { close(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      open_(std::exchange(other.open_, false)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    close();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    open_ = std::exchange(other.open_, false);
    path_ = std::move(other.path_);
  }
  return *this;
}

void MappedFile::close() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  open_ = false;
}

Result<MappedFile> MappedFile::open(const std::string& path, MapOptions options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return error("cannot stat '" + path + "': " + why);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return error("'" + path + "' is a directory, expected a file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error("'" + path + "' is not a regular file");
  }
  MappedFile m;
  m.path_ = path;
  m.open_ = true;
  m.size_ = (size_t)st.st_size;
  if (m.size_ > 0 && !options.mmap) {
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // larger readahead for the one pass
#endif
    uint8_t* p = alloc_aligned_anon(m.size_);
    if (p == nullptr) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return error("cannot allocate " + std::to_string(m.size_) + " bytes to read '" + path +
                   "' into memory: " + why);
    }
    m.data_ = p;  // from here on, m's destructor unmaps it on every error path
    Status read = read_all(fd, p, m.size_, path);
    ::close(fd);
    if (!read.ok()) return read;
    // Read-only like the file mapping, so a stray write through a view faults in both modes.
    if (::mprotect(p, m.size_, PROT_READ) != 0)
      return error("cannot protect the copy of '" + path + "': " + std::strerror(errno));
    return m;
  }
  if (m.size_ > 0) {
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    if (options.populate) flags |= MAP_POPULATE;
#endif
    void* p = ::mmap(nullptr, m.size_, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return error("cannot map '" + path + "' (" + std::to_string(m.size_) + " bytes): " + why);
    }
    m.data_ = static_cast<uint8_t*>(p);
  }
  // The mapping keeps the file referenced; the descriptor is no longer needed.
  ::close(fd);
  return m;
}

}  // namespace cartlm
