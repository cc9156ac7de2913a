// Exact match, the study's metric (docs/DESIGN.md "Exact match"), and the report around it.
//
// An output is correct when all of these hold:
//   - it is exactly one syntactically valid JSON object; JSON whitespace (space, tab, CR, LF) may
//     surround it, any other leading or trailing text makes it invalid;
//   - the object has exactly the keys action, product, quantity: none missing, none extra, none
//     repeated (nlohmann keeps the last duplicate silently, so duplicates are found with a SAX pass);
//   - action and product are strings, quantity is a JSON integer (12.0, 1e1 and "12" are the wrong
//     type) that fits in an int;
//   - all three equal the gold label; strings compare byte for byte (case-sensitive).
// Output that is not valid UTF-8 is invalid JSON.
//
// Failure reasons (one per failed example, the first problem found, in this order):
//   "missing prediction", "empty output", "invalid UTF-8", "leading text", "not a JSON object",
//   "trailing text" (also a second object), "truncated JSON", "invalid JSON",
//   "duplicate key <k>", "missing key <k>", "extra key \"<k>\"", "wrong type for <k>",
//   "quantity out of range", and for a well-formed answer "wrong <fields>", e.g. "wrong product" or
//   "wrong action, quantity".
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "eval/prediction.h"
#include "formats/dataset.h"

namespace cartlm {

struct OutputCheck {
  bool valid_json = false;      // exactly one JSON object, only whitespace around it
  bool schema_ok = false;       // ... with exactly action/product/quantity of the right types
  std::optional<Label> parsed;  // set iff schema_ok
  std::string reason;           // empty iff schema_ok
};
// Parses and checks the schema; never fails, never throws, whatever the bytes.
OutputCheck check_output(std::string_view raw);

struct Verdict {
  bool correct = false;
  // Field matches; all false unless the output passed the schema check.
  bool action_ok = false, product_ok = false, quantity_ok = false;
  std::string reason;  // empty iff correct
};
Verdict judge(const OutputCheck& check, const Label& gold);
inline bool exact_match(std::string_view raw, const Label& gold) {
  return judge(check_output(raw), gold).correct;
}

struct Interval {
  double lo = 0, hi = 1;
};
// Wilson score interval for `successes` out of `n` (z = 1.96 gives 95%); n == 0 gives [0, 1].
Interval wilson_interval(size_t successes, size_t n, double z = 1.959963984540054);

struct Tally {
  size_t correct = 0, total = 0;
  double accuracy() const;  // NaN when total == 0
};

struct Failure {
  std::string id, lang, text;
  Label gold;
  std::optional<std::string> output;  // nullopt: no prediction for this id
  std::string reason;
};

struct ScoreReport {
  Tally overall;               // total = number of gold examples
  size_t json_objects = 0;     // outputs that are exactly one JSON object
  size_t valid = 0;            // ... with the three keys of the right types (schema_ok)
  size_t missing = 0;          // gold ids without a prediction (scored as failures)
  std::vector<std::string> extra_ids;  // prediction ids not in gold: ignored, listed as a warning
  // Language order en, hr, es, then others alphabetically; action order add, remove, then others.
  std::vector<std::pair<std::string, Tally>> by_lang, by_action;
  // Per field ("action", "product", "quantity"): correct among the `valid` outputs; as a share of
  // all examples an invalid output counts as wrong in every field.
  std::vector<std::pair<std::string, size_t>> field_correct;
  std::vector<std::pair<std::string, size_t>> reasons;  // failure counts, most frequent first
  std::vector<Failure> failures;                        // in gold order
};

// Matches predictions to gold by id. Errors (one line): no gold examples, an empty or duplicated id
// in either list. Predictions whose id is not in gold are ignored and listed in extra_ids.
Result<ScoreReport> score(const std::vector<Example>& gold, const std::vector<Prediction>& preds);

// Readable report with aligned columns; lists at most `max_failures` failures.
std::string format_report_text(const ScoreReport& report, size_t max_failures);

// The JSON report. Stable keys (rates are null when their denominator is 0; ci95 = [lo, hi]):
//   n, correct, accuracy, ci95,
//   json_objects, json_object_rate, valid, valid_rate, missing_predictions, extra_prediction_ids,
//   by_lang:   {"<lang>":   {n, correct, accuracy, ci95}},
//   by_action: {"<action>": {n, correct, accuracy, ci95}},
//   fields:    {"<field>":  {correct, accuracy, accuracy_valid}}   (accuracy = correct / n,
//                                                                    accuracy_valid = correct / valid)
//   reasons:   {"<reason>": count},
//   failures:  [{id, lang, text, gold: {action, product, quantity}, output (string | null), reason}]
// Every failure is listed (max_failures only limits the text report).
json report_to_json(const ScoreReport& report);

}  // namespace cartlm
