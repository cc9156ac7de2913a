// A fresh directory under the system temp dir (mkdtemp, so parallel ctest processes never share
// one) that is removed with everything in it when the object is destroyed: tests leave nothing
// behind in /tmp, whether they pass or fail.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "core/check.h"

namespace cartlm {

struct ScopedTempDir {
  explicit ScopedTempDir(const std::string& prefix) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    CARTLM_CHECK(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~ScopedTempDir() {
    std::error_code ec;  // best effort: a failure to clean up must not fail the test
    std::filesystem::remove_all(path, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  // DIR/name (the file itself is not created).
  std::string file(const std::string& name) const { return path + "/" + name; }

  std::string path;
};

}  // namespace cartlm
