// The dataset record (docs/DESIGN.md "Files users see"):
//   {"id": "...", "lang": "en|hr|es", "text": "...",
//    "label": {"action": "add|remove", "product": "Lip Balm", "quantity": 12}, "meta": {...}}
// and the canonical JSON text of a label, which is exactly what a fine-tuned model must output.
#pragma once
#include <string>
#include <vector>

#include "formats/jsonl.h"

namespace cartlm {

struct Label {
  std::string action;   // "add" or "remove"
  std::string product;  // canonical catalog name
  int quantity = 1;     // >= 1
  bool operator==(const Label&) const = default;
};

struct Example {
  std::string id;
  std::string lang;  // "en", "hr", "es"
  std::string text;
  Label label;
  json meta = json::object();
};

// {"action": "remove", "product": "Lip Balm", "quantity": 12} (this key order and spacing).
std::string label_to_json_text(const Label& label);
json label_to_json(const Label& label);
// One JSONL line (no newline) with keys in the documented order.
std::string example_to_json_line(const Example& ex);
// Validates types and values; the message names the bad field.
Result<Example> example_from_json(const json& value);

Result<std::vector<Example>> read_dataset(const std::string& path);
Status write_dataset(const std::string& path, const std::vector<Example>& examples);

}  // namespace cartlm
