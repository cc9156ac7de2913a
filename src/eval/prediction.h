// Predictions file (docs/DESIGN.md "Files users see"), one JSON object a line:
//   {"id": "...", "output": "<raw model text>", "parsed": {...} | null, "latency_ms": 12.5 | null}
// "output" is what the model produced, byte for byte; scoring always re-parses it. "parsed" is
// written for people reading the file (the label check_output() finds, or null) and ignored on read.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/dataset.h"

namespace cartlm {

struct Prediction {
  std::string id;
  std::string output;                 // raw model text
  std::optional<double> latency_ms;   // unknown when absent
};

// One JSONL line (no newline) with keys id, output, parsed, latency_ms in that order. Invalid UTF-8
// in `output` cannot be stored in JSON and is written as U+FFFD.
std::string prediction_to_json_line(const Prediction& p);
// Validates one decoded line; the message names the bad field.
Result<Prediction> prediction_from_json(const json& value);

// Errors name file:line: a line that is not a JSON object, a missing or mistyped field, an empty id,
// or an id already seen on an earlier line (duplicates are ambiguous, so they are an error).
Result<std::vector<Prediction>> read_predictions(const std::string& path);
Status write_predictions(const std::string& path, const std::vector<Prediction>& preds);

// read_dataset() plus the checks scoring needs: every example has a non-empty id and ids are
// unique; errors name file:line.
Result<std::vector<Example>> read_gold(const std::string& path);

}  // namespace cartlm
