#include "core/utf8.h"

namespace cartlm {

uint32_t decode_utf8(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  unsigned char c = p[i];
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = 0;
  uint32_t cp = 0, min = 0;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
  else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > n) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    if ((p[i + k] & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (p[i + k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

size_t first_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    uint32_t cp = decode_utf8(s, i);
    // A genuine U+FFFD in the input is 3 bytes; a decoding failure advances by one.
    if (cp == 0xFFFD && i - start == 1) return start;
  }
  return std::string_view::npos;
}

bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s) == std::string_view::npos; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += (char)cp;
  } else if (cp < 0x800) {
    out += (char)(0xC0 | (cp >> 6));
    out += (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += (char)(0xE0 | (cp >> 12));
    out += (char)(0x80 | ((cp >> 6) & 0x3F));
    out += (char)(0x80 | (cp & 0x3F));
  } else {
    out += (char)(0xF0 | (cp >> 18));
    out += (char)(0x80 | ((cp >> 12) & 0x3F));
    out += (char)(0x80 | ((cp >> 6) & 0x3F));
    out += (char)(0x80 | (cp & 0x3F));
  }
}

size_t utf8_length(std::string_view s) {
  size_t i = 0, n = 0;
  while (i < s.size()) decode_utf8(s, i), ++n;
  return n;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) append_utf8(out, decode_utf8(s, i));
  return out;
}

// Pairs of (upper, lower) for the non-ASCII letters of en/hr/es.
static const uint32_t kCasePairs[][2] = {
    {0x010C, 0x010D} /*Čč*/, {0x0106, 0x0107} /*Ćć*/, {0x0110, 0x0111} /*Đđ*/,
    {0x0160, 0x0161} /*Šš*/, {0x017D, 0x017E} /*Žž*/, {0x00C1, 0x00E1} /*Áá*/,
    {0x00C9, 0x00E9} /*Éé*/, {0x00CD, 0x00ED} /*Íí*/, {0x00D3, 0x00F3} /*Óó*/,
    {0x00DA, 0x00FA} /*Úú*/, {0x00D1, 0x00F1} /*Ññ*/, {0x00DC, 0x00FC} /*Üü*/,
};

static std::string map_case(std::string_view s, bool lower) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    uint32_t cp = decode_utf8(s, i);
    if (cp == 0xFFFD && i - start == 1) {  // keep invalid bytes as they are
      out += s[start];
      continue;
    }
    if (cp < 0x80) {
      if (lower && cp >= 'A' && cp <= 'Z') cp += 32;
      if (!lower && cp >= 'a' && cp <= 'z') cp -= 32;
    } else {
      for (auto& pr : kCasePairs) {
        if (lower && cp == pr[0]) cp = pr[1];
        else if (!lower && cp == pr[1]) cp = pr[0];
      }
    }
    append_utf8(out, cp);
  }
  return out;
}

std::string to_lower(std::string_view s) { return map_case(s, true); }
std::string to_upper(std::string_view s) { return map_case(s, false); }

std::string strip_diacritics(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    uint32_t cp = decode_utf8(s, i);
    if (cp == 0xFFFD && i - start == 1) {
      out += s[start];
      continue;
    }
    switch (cp) {
      case 0x010C: case 0x0106: cp = 'C'; break;
      case 0x010D: case 0x0107: cp = 'c'; break;
      case 0x0110: cp = 'D'; break;
      case 0x0111: cp = 'd'; break;
      case 0x0160: cp = 'S'; break;
      case 0x0161: cp = 's'; break;
      case 0x017D: cp = 'Z'; break;
      case 0x017E: cp = 'z'; break;
      case 0x00C1: cp = 'A'; break;
      case 0x00E1: cp = 'a'; break;
      case 0x00C9: cp = 'E'; break;
      case 0x00E9: cp = 'e'; break;
      case 0x00CD: cp = 'I'; break;
      case 0x00ED: cp = 'i'; break;
      case 0x00D3: cp = 'O'; break;
      case 0x00F3: cp = 'o'; break;
      case 0x00DA: case 0x00DC: cp = 'U'; break;
      case 0x00FA: case 0x00FC: cp = 'u'; break;
      case 0x00D1: cp = 'N'; break;
      case 0x00F1: cp = 'n'; break;
      default: break;
    }
    append_utf8(out, cp);
  }
  return out;
}

}  // namespace cartlm
