// End-to-end tests of `cartlm serve` with the built binary (CARTLM_BIN) on a tiny random model:
// the server comes up on a free port, answers, refuses bad flags with one error line, and on
// SIGTERM finishes the request in flight and exits 0.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_test_util.h"

namespace cartlm {
namespace {

using json = nlohmann::json;

class ServeCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    RunResult r = run("init --preset tiny --out '" + path("model") + "'");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    CliTest::TearDown();
  }
  // Starts `cartlm serve --model <tiny> --port 0 <extra>` with stderr to a file, and waits for the
  // "listening on http://127.0.0.1:PORT" line.
  void start(const std::string& extra = "") {
    std::string cmd = std::string("exec '") + CARTLM_BIN + "' serve --model '" + path("model") +
                      "' --port 0 --workers 2 --threads 2 " + extra + " 2>'" + path("serve.err") +
                      "'";
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::string err = read_file(path("serve.err")).ok() ? *read_file(path("serve.err")) : "";
      size_t p = err.find("listening on http://127.0.0.1:");
      if (p != std::string::npos) port_ = std::atoi(err.c_str() + p + 30);
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GT(port_, 0) << *read_file(path("serve.err"));
  }
  bool wait_ready() {
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 600; ++i) {
      auto r = c.Get("/health");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  int wait_exit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(ServeCli, ServesAndStopsGracefullyOnSigterm) {
  start();
  ASSERT_TRUE(wait_ready());
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(60, 0);
  auto r = c.Post("/v1/intent", R"({"text": "Can you delet 12 lip balms for me?"})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_TRUE(j["action"] == "add" || j["action"] == "remove");
  EXPECT_TRUE(j["product"].is_string());
  EXPECT_GE(j["quantity"].get<int>(), 1);
  EXPECT_EQ(j["model"], "model");  // the model directory's name

  // A long batch in flight when SIGTERM arrives still gets its full answer.
  json batch = {{"texts", json::array()}};
  for (int i = 0; i < 64; ++i) batch["texts"].push_back("Dodaj " + std::to_string(i + 1) + " jabuka");
  int code = 0;
  size_t results = 0;
  std::thread t([&] {
    httplib::Client c2("127.0.0.1", port_);
    c2.set_read_timeout(120, 0);
    auto rb = c2.Post("/v1/intent", batch.dump(), "application/json");
    code = rb ? rb->status : -1;
    if (rb && rb->status == 200) results = json::parse(rb->body)["results"].size();
  });
  for (int i = 0; i < 400; ++i) {
    auto m = c.Get("/metrics");
    if (m && m->body.find("cartlm_in_flight 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  t.join();
  EXPECT_EQ(code, 200);
  EXPECT_EQ(results, 64u);
  EXPECT_EQ(wait_exit(), 0);
  std::string err = *read_file(path("serve.err"));
  EXPECT_NE(err.find("SIGTERM: finishing in-flight requests"), std::string::npos) << err;
  EXPECT_NE(err.find("cartlm: stopped"), std::string::npos) << err;
}

TEST_F(ServeCli, SigintWhileIdleExitsZero) {
  start();
  ASSERT_TRUE(wait_ready());
  ASSERT_EQ(kill(pid_, SIGINT), 0);
  EXPECT_EQ(wait_exit(), 0);
}

TEST_F(ServeCli, BadFlagsGiveOneErrorLine) {
  expect_one_error_line(run("serve --model '" + path("nope") + "' --port 0"), "nope");
  expect_one_error_line(run("serve --model '" + path("model") + "' --port 70000"), "--port");
  expect_one_error_line(run("serve --model '" + path("model") + "' --max-queue 0"),
                        "--max-queue");
  expect_one_error_line(run("serve --model '" + path("model") + "' --mode fancy"), "--mode");
}

TEST_F(ServeCli, PortInUseIsAnError) {
  // A plain listening socket (httplib's own sockets set SO_REUSEPORT and would share the port).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);
  expect_one_error_line(
      run("serve --model '" + path("model") + "' --port " + std::to_string(port)),
      "cannot listen on 127.0.0.1:" + std::to_string(port));
  close(fd);
}

}  // namespace
}  // namespace cartlm
