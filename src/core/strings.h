// String helpers used across modules.
#pragma once
#include <cstdarg>
#include <string>
#include <string_view>
#include <vector>

namespace cartlm {

std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// printf-style formatting into a std::string.
std::string strformat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "1.2 KiB", "3.4 MiB", ...
std::string human_bytes(double bytes);
// "12.3 s", "4m 05s", "1h 02m"
std::string human_duration(double seconds);

}  // namespace cartlm
