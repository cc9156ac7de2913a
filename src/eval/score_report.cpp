// The two faces of a ScoreReport: a readable text report and the JSON report (keys in score.h).
#include <cmath>

#include "core/strings.h"
#include "core/utf8.h"
#include "eval/score.h"

namespace cartlm {

namespace {

std::string fixed4(double x) { return std::isnan(x) ? "-" : strformat("%.4f", x); }

std::string ci_text(const Tally& t) {
  Interval ci = wilson_interval(t.correct, t.total);
  return strformat("[%.4f, %.4f]", ci.lo, ci.hi);
}

double ratio(size_t a, size_t b) {
  return b ? (double)a / (double)b : std::numeric_limits<double>::quiet_NaN();
}

json number_or_null(double x) { return std::isnan(x) ? json(nullptr) : json(x); }

// Model output and shopper text shown on one line: control characters and invalid UTF-8 bytes
// are escaped (\n, \t, \xff) and long text is cut, so one failure never breaks the layout.
std::string printable(std::string_view s, size_t max_bytes = 300) {
  std::string out;
  size_t i = 0;
  while (i < s.size() && out.size() < max_bytes) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : strformat("\\x%02x", c);
      ++i;
      continue;
    }
    size_t start = i;
    uint32_t cp = decode_utf8(s, i);
    if (cp == 0xFFFD && !is_valid_utf8(s.substr(start, i - start))) {
      out += strformat("\\x%02x", c);  // an invalid byte: decode_utf8 advanced by one
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  if (i < s.size()) out += strformat("... (%zu more bytes)", s.size() - i);
  return out;
}

// Aligned columns two spaces apart; align[c] is 'l' or 'r' (default: first column left, others
// right).
std::string table(const std::vector<std::vector<std::string>>& rows, std::string_view align = "") {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], utf8_length(row[c]));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string pad(width[c] - utf8_length(row[c]), ' ');
      if (c > 0) line += "  ";
      bool left = c < align.size() ? align[c] == 'l' : c == 0;
      line += left ? row[c] + pad : pad + row[c];
    }
    line.erase(line.find_last_not_of(' ') + 1);  // npos + 1 == 0 clears an all-blank line
    out += line + '\n';
  }
  return out;
}

std::string breakdown(const char* title, const std::vector<std::pair<std::string, Tally>>& rows) {
  std::vector<std::vector<std::string>> t = {{title, "n", "correct", "accuracy", "95% CI"}};
  for (const auto& [name, tally] : rows)
    t.push_back({name.empty() ? "(none)" : printable(name, 40), std::to_string(tally.total),
                 std::to_string(tally.correct), fixed4(tally.accuracy()), ci_text(tally)});
  return table(t, "lrrrl");
}

json tally_json(const Tally& t) {
  Interval ci = wilson_interval(t.correct, t.total);
  return {{"n", t.total},
          {"correct", t.correct},
          {"accuracy", number_or_null(t.accuracy())},
          {"ci95", {ci.lo, ci.hi}}};
}

}  // namespace

std::string format_report_text(const ScoreReport& r, size_t max_failures) {
  const size_t n = r.overall.total;
  std::string out;
  out += table({
      {"exact match", fixed4(r.overall.accuracy()),
       strformat("(%zu/%zu)", r.overall.correct, n), "95% CI " + ci_text(r.overall)},
      {"valid output", fixed4(ratio(r.valid, n)), strformat("(%zu/%zu)", r.valid, n),
       "one JSON object, keys action/product/quantity, right types"},
      {"JSON object", fixed4(ratio(r.json_objects, n)), strformat("(%zu/%zu)", r.json_objects, n),
       "one JSON object, nothing else"},
  }, "lrll");
  if (r.missing) out += strformat("missing predictions: %zu (scored as failures)\n", r.missing);
  if (!r.extra_ids.empty())
    out += strformat("predictions not in gold: %zu (ignored)\n", r.extra_ids.size());

  out += '\n';
  out += breakdown("language", r.by_lang);
  out += '\n';
  out += breakdown("gold action", r.by_action);

  std::vector<std::vector<std::string>> fields = {
      {"field", "correct", "acc (valid)", "acc (all)"}};
  for (const auto& [name, correct] : r.field_correct)
    fields.push_back({name, std::to_string(correct), fixed4(ratio(correct, r.valid)),
                      fixed4(ratio(correct, n))});
  out += '\n';
  out += table(fields);

  if (r.failures.empty()) {
    out += "\nno failures\n";
    return out;
  }
  std::vector<std::vector<std::string>> reasons = {{"failure reason", "count"}};
  for (const auto& [reason, count] : r.reasons)
    reasons.push_back({printable(reason, 80), std::to_string(count)});
  out += '\n';
  out += table(reasons);

  size_t shown = std::min(max_failures, r.failures.size());
  out += strformat("\nfailures (%zu of %zu shown; --max-failures to change)\n", shown,
                   r.failures.size());
  for (size_t i = 0; i < shown; ++i) {
    const Failure& f = r.failures[i];
    out += strformat("%zu. %s [%s]: %s\n", i + 1, printable(f.id, 80).c_str(),
                     f.lang.empty() ? "-" : printable(f.lang, 20).c_str(),
                     printable(f.reason, 80).c_str());
    out += "   text:   " + printable(f.text) + "\n";
    out += "   gold:   " + label_to_json_text(f.gold) + "\n";
    out += "   output: " + (f.output ? printable(*f.output) : std::string("(no prediction)")) +
           "\n";
  }
  return out;
}

json report_to_json(const ScoreReport& r) {
  const size_t n = r.overall.total;
  json j = tally_json(r.overall);
  j["json_objects"] = r.json_objects;
  j["json_object_rate"] = number_or_null(ratio(r.json_objects, n));
  j["valid"] = r.valid;
  j["valid_rate"] = number_or_null(ratio(r.valid, n));
  j["missing_predictions"] = r.missing;
  j["extra_prediction_ids"] = r.extra_ids;
  json& by_lang = j["by_lang"] = json::object();
  for (const auto& [name, t] : r.by_lang) by_lang[name] = tally_json(t);
  json& by_action = j["by_action"] = json::object();
  for (const auto& [name, t] : r.by_action) by_action[name] = tally_json(t);
  json& fields = j["fields"] = json::object();
  for (const auto& [name, correct] : r.field_correct)
    fields[name] = {{"correct", correct},
                    {"accuracy", number_or_null(ratio(correct, n))},
                    {"accuracy_valid", number_or_null(ratio(correct, r.valid))}};
  json& reasons = j["reasons"] = json::object();
  for (const auto& [reason, count] : r.reasons) reasons[reason] = count;
  json& failures = j["failures"] = json::array();
  for (const Failure& f : r.failures) {
    failures.push_back({{"id", f.id},
                        {"lang", f.lang},
                        {"text", f.text},
                        {"gold", label_to_json(f.gold)},
                        {"output", f.output ? json(*f.output) : json(nullptr)},
                        {"reason", f.reason}});
  }
  return j;
}

}  // namespace cartlm
