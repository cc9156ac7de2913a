// Small UTF-8 helpers. Everything cartlm reads from users may be invalid UTF-8; these functions
// never read past the end and report invalid sequences instead of crashing.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace cartlm {

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Byte offset of the first invalid sequence, or npos.
size_t first_invalid_utf8(std::string_view s);
// Decodes the code point at s[i], advancing i. Invalid bytes decode as U+FFFD, advancing by 1.
uint32_t decode_utf8(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp);
size_t utf8_length(std::string_view s);  // number of code points (invalid bytes count as one)
// Replaces each invalid byte with U+FFFD.
std::string sanitize_utf8(std::string_view s);
// Lower/upper-case for ASCII and the Latin letters en/hr/es use (č ć đ š ž á é í ó ú ñ ü).
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
// Drops Croatian and Spanish diacritics: č,ć→c  š→s  ž→z  đ→d  á→a  ñ→n ... (case kept).
std::string strip_diacritics(std::string_view s);

}  // namespace cartlm
