// The three languages of the study.
#pragma once
#include <optional>
#include <string_view>

namespace cartlm {

enum class Lang { en = 0, hr = 1, es = 2 };
inline constexpr Lang kAllLangs[] = {Lang::en, Lang::hr, Lang::es};
inline constexpr int kNumLangs = 3;

inline const char* lang_code(Lang l) {
  switch (l) {
    case Lang::en: return "en";
    case Lang::hr: return "hr";
    case Lang::es: return "es";
  }
  return "?";
}
inline std::optional<Lang> parse_lang(std::string_view s) {
  if (s == "en") return Lang::en;
  if (s == "hr") return Lang::hr;
  if (s == "es") return Lang::es;
  return std::nullopt;
}

}  // namespace cartlm
