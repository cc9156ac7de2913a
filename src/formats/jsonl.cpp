#include "formats/jsonl.h"

#include "core/strings.h"
#include "core/utf8.h"

namespace cartlm {

Status for_each_jsonl(const std::string& path,
                      const std::function<Status(const json&, size_t line)>& fn) {
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (trim(line).empty()) continue;
    std::string where = path + ":" + std::to_string(line_no);
    size_t bad = first_invalid_utf8(line);
    if (bad != std::string_view::npos)
      return error(where + ": invalid UTF-8 at byte " + std::to_string(bad));
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) return error(where + ": not valid JSON");
    CARTLM_RETURN_IF_ERROR(fn(value, line_no).with_context(where));
  }
  return {};
}

Result<std::vector<json>> read_jsonl(const std::string& path) {
  std::vector<json> out;
  CARTLM_RETURN_IF_ERROR(for_each_jsonl(path, [&](const json& v, size_t) -> Status {
    out.push_back(v);
    return {};
  }));
  return out;
}

std::string dump_json_line(const json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

Status write_lines_atomic(const std::string& path, size_t count,
                          const std::function<std::string(size_t)>& line) {
  AtomicFile f;
  CARTLM_RETURN_IF_ERROR(f.open(path));
  std::string buf;
  for (size_t i = 0; i < count; ++i) {
    buf += line(i);
    buf += '\n';
    if (buf.size() > (1 << 20)) {
      CARTLM_RETURN_IF_ERROR(f.write(buf));
      buf.clear();
    }
  }
  CARTLM_RETURN_IF_ERROR(f.write(buf));
  return f.commit();
}

Status JsonlWriter::write(const json& value) {
  std::string line = dump_json_line(value);
  line += '\n';
  return file_.write(line);
}

}  // namespace cartlm
