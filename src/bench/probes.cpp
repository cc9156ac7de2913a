#include "bench/probes.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm {

static double quantile_sorted(const std::vector<double>& v, double q) {
  double pos = q * (v.size() - 1);
  size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  double f = pos - i;
  return v[i] + (v[i + 1] - v[i]) * f;
}

Stat summarize(std::vector<double> values) {
  Stat s;
  s.n = values.size();
  bool bad = values.empty() ||
             std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); });
  if (bad) {
    s.median = s.q1 = s.q3 = s.min = s.max = NAN;
    return s;
  }
  std::sort(values.begin(), values.end());
  s.median = quantile_sorted(values, 0.5);
  s.q1 = quantile_sorted(values, 0.25);
  s.q3 = quantile_sorted(values, 0.75);
  s.min = values.front();
  s.max = values.back();
  return s;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  return quantile_sorted(values, std::clamp(p, 0.0, 100.0) / 100.0);
}

static uint64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  size_t klen = std::char_traits<char>::length(key);
  while (std::getline(in, line)) {
    if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':')
      return std::strtoull(line.c_str() + klen + 1, nullptr, 10) * 1024;
  }
  return 0;
}

uint64_t peak_rss_bytes() { return status_kib("VmHWM"); }
uint64_t current_rss_bytes() { return status_kib("VmRSS"); }

Result<uint64_t> path_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return error("model path '" + path + "' does not exist");
  if (fs::is_regular_file(st)) {
    uint64_t n = fs::file_size(path, ec);
    if (ec) return error("cannot stat '" + path + "': " + ec.message());
    return n;
  }
  uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  if (ec) return error("cannot list '" + path + "': " + ec.message());
  return total;
}

static bool read_u64(const std::string& path, uint64_t& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string s;
  if (!(in >> s) || s.empty()) return false;
  char* end = nullptr;
  out = std::strtoull(s.c_str(), &end, 10);
  return end && *end == '\0';
}

EnergyMeter energy_meter_open(const std::string& root) {
  namespace fs = std::filesystem;
  EnergyMeter m;
  std::error_code ec;
  std::vector<std::string> names;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Top-level zones are "intel-rapl:N" (one colon); "intel-rapl:N:M" are their sub-zones.
    if (starts_with(name, "intel-rapl:") && std::count(name.begin(), name.end(), ':') == 1)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    EnergyZone z;
    z.energy_path = join_path(join_path(root, name), "energy_uj");
    if (!read_u64(z.energy_path, z.last_uj)) continue;  // often root-only readable
    read_u64(join_path(join_path(root, name), "max_energy_range_uj"), z.max_range_uj);
    m.zones.push_back(z);
  }
  if (m.zones.empty()) {
    m.note = names.empty() ? "not available (no RAPL powercap counters under " + root + ")"
                           : "not available (RAPL counters under " + root + " are not readable)";
  }
  return m;
}

void energy_meter_sample(EnergyMeter& m) {
  for (EnergyZone& z : m.zones) {
    uint64_t now = 0;
    if (!read_u64(z.energy_path, now)) continue;
    if (now >= z.last_uj) {
      z.total_uj += static_cast<double>(now - z.last_uj);
    } else if (z.max_range_uj > z.last_uj) {
      // The counter wrapped once: the rest of the range plus what it counted since zero.
      z.total_uj += static_cast<double>(z.max_range_uj - z.last_uj + now);
    }
    z.last_uj = now;
  }
}

double energy_meter_joules(const EnergyMeter& m) {
  double uj = 0;
  for (const EnergyZone& z : m.zones) uj += z.total_uj;
  return uj * 1e-6;
}

}  // namespace cartlm
