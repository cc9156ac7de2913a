// check_output() and judge(): the exact-match rule of score.h applied to one raw model output.
//
// One SAX pass over the text does all the work. A DOM parse cannot be used: nlohmann keeps only
// the last of two equal keys, and it hides where the first value ended, which is what tells
// "trailing text" from "invalid JSON". nlohmann's SAX parser is iterative, so deeply nested junk
// cannot overflow the stack.
#include <algorithm>
#include <climits>
#include <cstdint>

#include "core/strings.h"
#include "core/utf8.h"
#include "eval/score.h"

namespace cartlm {

namespace {

const char* const kKeys[3] = {"action", "product", "quantity"};

enum class Kind { missing, null, boolean, integer, big_integer, floating, string, object, array };

struct Field {
  Kind kind = Kind::missing;
  std::string str;       // Kind::string
  long long integer = 0; // Kind::integer (may be outside int)
};

// Records the shape of the top-level value and the members of a top-level object.
struct ShapeSax {
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  int depth = 0;
  bool started = false;       // the top-level value has begun
  bool top_done = false;      // ... and ended
  bool top_is_object = false;
  bool failed = false;
  size_t error_pos = 0;       // bytes consumed when the parser gave up
  std::string current_key;
  std::vector<std::string> keys;  // top-level keys in order, duplicates included
  std::string duplicate;          // first repeated top-level key
  Field fields[3];

  Field* member() {
    if (depth != 1 || !top_is_object) return nullptr;
    for (int i = 0; i < 3; ++i)
      if (current_key == kKeys[i]) return &fields[i];
    return nullptr;
  }
  bool scalar(Kind kind) {
    if (depth == 0) {
      started = top_done = true;
    } else if (Field* f = member()) {
      f->kind = kind;
    }
    return true;
  }

  bool null() { return scalar(Kind::null); }
  bool boolean(bool) { return scalar(Kind::boolean); }
  bool number_integer(number_integer_t v) {
    if (Field* f = member()) f->integer = v;
    return scalar(Kind::integer);
  }
  bool number_unsigned(number_unsigned_t v) {
    bool fits = v <= (number_unsigned_t)LLONG_MAX;
    if (Field* f = member()) f->integer = fits ? (long long)v : 0;
    return scalar(fits ? Kind::integer : Kind::big_integer);
  }
  bool number_float(number_float_t, const string_t& token) {
    // nlohmann turns integer literals too large for 64 bits into floats; they are still integers.
    bool integer_literal = token.find_first_of(".eE") == std::string::npos;
    return scalar(integer_literal ? Kind::big_integer : Kind::floating);
  }
  bool string(string_t& s) {
    if (Field* f = member()) f->str = s;
    return scalar(Kind::string);
  }
  bool binary(binary_t&) { return scalar(Kind::null); }  // not produced by the text parser
  bool start_object(std::size_t) { return open(/*object=*/true); }
  bool start_array(std::size_t) { return open(/*object=*/false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(string_t& k) {
    if (depth == 1 && top_is_object) {
      for (const std::string& seen : keys)
        if (seen == k && duplicate.empty()) duplicate = k;
      keys.push_back(k);
      current_key = k;
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    failed = true;
    error_pos = position;
    return false;
  }

  bool open(bool object) {
    if (depth == 0) {
      started = true;
      top_is_object = object;
    } else if (Field* f = member()) {
      f->kind = object ? Kind::object : Kind::array;
    }
    ++depth;
    return true;
  }
  bool close() {
    --depth;
    if (depth == 0) top_done = true;
    return true;
  }
};

OutputCheck invalid(std::string reason, bool valid_json = false) {
  OutputCheck c;
  c.valid_json = valid_json;
  c.reason = std::move(reason);
  return c;
}

// Names a key in a reason: the three schema keys plainly, any other key (model text) quoted and
// kept short so the reason list stays readable.
std::string key_name(const std::string& k) {
  for (const char* known : kKeys)
    if (k == known) return k;
  std::string shown = k.size() > 40 ? k.substr(0, 40) + "..." : k;
  return json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

OutputCheck check_output(std::string_view raw) {
  std::string_view body = trim(raw);  // trim() strips exactly the JSON whitespace characters
  if (body.empty()) return invalid("empty output");
  if (!is_valid_utf8(raw)) return invalid("invalid UTF-8");

  // Two leniencies of nlohmann's lexer would let junk through: it takes a NUL byte for the end of
  // the input (so "{...}\0junk" would parse), and it skips a byte-order mark at the start. Both are
  // other text here, so the parser sees them as 0x01, a byte that is invalid anywhere in JSON and
  // keeps every position the same.
  std::string patched;
  if (raw.find('\0') != std::string_view::npos || starts_with(raw, "\xEF\xBB\xBF")) {
    patched.assign(raw);
    std::replace(patched.begin(), patched.end(), '\0', '\x01');
    if (starts_with(patched, "\xEF\xBB\xBF")) patched[0] = '\x01';
    raw = patched;
  }

  ShapeSax sax;
  bool ok = json::sax_parse(raw.data(), raw.data() + raw.size(), &sax, json::input_format_t::json,
                            /*strict=*/true, /*ignore_comments=*/false);
  // Whether a '{' comes after the point where the top-level value ended or the parse gave up:
  // then the text before it was prose, a code fence, or some other value.
  auto object_later = [&] {
    size_t from = sax.failed ? sax.error_pos : raw.size();
    if (from > 0) --from;  // the position counts the offending character
    return raw.find('{', from) != std::string_view::npos;
  };
  if (!ok) {
    if (!sax.started) return invalid(object_later() ? "leading text" : "invalid JSON");
    if (!sax.top_is_object) {
      if (sax.top_done && object_later()) return invalid("leading text");
      return invalid(sax.top_done ? "not a JSON object" : "invalid JSON");
    }
    if (sax.top_done) return invalid("trailing text");
    // Output cut off by a token limit fails on reading the end of the text (the parser's position
    // then counts one past the last byte).
    return invalid(sax.error_pos > raw.size() ? "truncated JSON" : "invalid JSON");
  }
  if (!sax.top_is_object) return invalid("not a JSON object");

  if (!sax.duplicate.empty()) return invalid("duplicate key " + key_name(sax.duplicate), true);
  for (int i = 0; i < 3; ++i)
    if (sax.fields[i].kind == Kind::missing)
      return invalid(std::string("missing key ") + kKeys[i], true);
  for (const std::string& k : sax.keys)
    if (k != kKeys[0] && k != kKeys[1] && k != kKeys[2])
      return invalid("extra key " + key_name(k), true);
  const Field& action = sax.fields[0];
  const Field& product = sax.fields[1];
  const Field& quantity = sax.fields[2];
  if (action.kind != Kind::string) return invalid("wrong type for action", true);
  if (product.kind != Kind::string) return invalid("wrong type for product", true);
  if (quantity.kind != Kind::integer && quantity.kind != Kind::big_integer)
    return invalid("wrong type for quantity", true);
  if (quantity.kind == Kind::big_integer || quantity.integer < INT_MIN ||
      quantity.integer > INT_MAX)
    return invalid("quantity out of range", true);

  OutputCheck c;
  c.valid_json = c.schema_ok = true;
  c.parsed = Label{action.str, product.str, (int)quantity.integer};
  return c;
}

Verdict judge(const OutputCheck& check, const Label& gold) {
  Verdict v;
  if (!check.schema_ok) {
    v.reason = check.reason;
    return v;
  }
  CARTLM_CHECK(check.parsed.has_value());
  const Label& p = *check.parsed;
  v.action_ok = p.action == gold.action;
  v.product_ok = p.product == gold.product;
  v.quantity_ok = p.quantity == gold.quantity;
  v.correct = v.action_ok && v.product_ok && v.quantity_ok;
  if (!v.correct) {
    std::vector<std::string> wrong;
    if (!v.action_ok) wrong.push_back("action");
    if (!v.product_ok) wrong.push_back("product");
    if (!v.quantity_ok) wrong.push_back("quantity");
    v.reason = "wrong " + join(wrong, ", ");
  }
  return v;
}

}  // namespace cartlm
