// JSON Lines: one JSON value per line. Readers report the file and line number of a bad line;
// the writer goes through AtomicFile so a crash never leaves a truncated file.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/status.h"

namespace cartlm {

using json = nlohmann::json;

// Calls `fn(value, line_number)` for each non-blank line; stops at the first error (a line that
// is not valid JSON, not valid UTF-8, or an error returned by fn).
Status for_each_jsonl(const std::string& path,
                      const std::function<Status(const json&, size_t line)>& fn);
Result<std::vector<json>> read_jsonl(const std::string& path);

class JsonlWriter {
 public:
  Status open(const std::string& path) { return file_.open(path); }
  Status write(const json& value);  // one compact line, UTF-8 kept as is
  Status commit() { return file_.commit(); }

 private:
  AtomicFile file_;
};

// Writes `count` lines, line(i) + '\n' each, to `path` atomically, in ~1 MiB chunks.
Status write_lines_atomic(const std::string& path, size_t count,
                          const std::function<std::string(size_t)>& line);

// Compact one-line dump that keeps non-ASCII UTF-8 readable and replaces invalid bytes.
std::string dump_json_line(const json& value);

}  // namespace cartlm
