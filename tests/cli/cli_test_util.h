// Shared fixture for end-to-end tests that run the built `cartlm` binary (CARTLM_BIN) in a fresh
// temporary directory and capture its exit code, stdout and stderr.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm {

struct RunResult {
  int code = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cartlm_cli_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
  }
  // Runs `cartlm <args>` (args are passed to the shell as they are).
  RunResult run(const std::string& args) const {
    std::string cmd = std::string("'") + CARTLM_BIN + "' " + args + " >'" + path("stdout") +
                      "' 2>'" + path("stderr") + "'";
    int status = std::system(cmd.c_str());
    RunResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(path("stdout")).value();
    r.err = read_file(path("stderr")).value();
    return r;
  }
  // A failed run prints exactly one line, "cartlm: error: ...", on stderr.
  static void expect_one_error_line(const RunResult& r, const std::string& needle) {
    EXPECT_NE(r.code, 0);
    EXPECT_TRUE(starts_with(r.err, "cartlm: error: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }

  std::string dir_;
};

}  // namespace cartlm
