// Measurement probes for `cartlm bench`: summary statistics over repetitions, the process's memory
// high-water mark, the size of a model on disk, and package energy from the RAPL powercap
// counters. Energy is only ever read from the machine: when no counter is readable the meter says
// "not available" and the benchmark reports exactly that.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

// Median, quartiles (linear interpolation between order statistics, like numpy's default) and
// range of a sample. An empty sample, or one containing NaN, gives NaN everywhere.
struct Stat {
  double median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
  size_t n = 0;
};
Stat summarize(std::vector<double> values);
// The p-th percentile (0..100) of `values` with the same interpolation; NaN for an empty sample.
double percentile(std::vector<double> values, double p);

// VmHWM / VmRSS of this process from /proc/self/status, in bytes (0 when unreadable).
uint64_t peak_rss_bytes();
uint64_t current_rss_bytes();

// Bytes of a file, or of all regular files under a directory (recursively).
Result<uint64_t> path_bytes(const std::string& path);

// Package energy from /sys/class/powercap/intel-rapl:N/energy_uj (top-level zones only: their
// sub-zones, e.g. intel-rapl:0:0 = core, are already included in the package). Counters wrap at
// max_energy_range_uj; a reading lower than the previous one is taken as one wrap.
struct EnergyZone {
  std::string energy_path;
  uint64_t max_range_uj = 0;
  uint64_t last_uj = 0;
  double total_uj = 0;
};
struct EnergyMeter {
  std::vector<EnergyZone> zones;
  std::string note;  // why energy is not available, when zones is empty
  bool available() const { return !zones.empty(); }
};
// `root` is the powercap directory (a test can point it at a fake tree).
EnergyMeter energy_meter_open(const std::string& root = "/sys/class/powercap");
// Reads every zone and adds the energy since the previous read (or since open).
void energy_meter_sample(EnergyMeter& m);
// Joules accumulated since open (call energy_meter_sample first).
double energy_meter_joules(const EnergyMeter& m);

}  // namespace cartlm
