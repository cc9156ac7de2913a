// Test helper: which mapping of this process holds an address, read from /proc/self/maps. Tells
// a file mapping (its path) from anonymous memory (""), e.g. to check that --no-mmap weights are
// the process's own copy.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace cartlm {

// The pathname column of the mapping whose range holds `p` ("" for anonymous memory), or
// "<none>" when no mapping holds it.
inline std::string mapping_name(const void* p) {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (!f) return "<none>";
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  char line[4096];
  std::string out = "<none>";
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    int name_at = 0;
    if (std::sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name_at) < 2) continue;
    if (a < lo || a >= hi) continue;
    out = std::string(line + name_at);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    break;
  }
  std::fclose(f);
  return out;
}

}  // namespace cartlm
