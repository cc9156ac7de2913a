// End-to-end test of the playground page in headless Chromium: a server on 127.0.0.1 (fake model
// whose answer is derived from the text), the page opened with ?text=...&run=1 (which types the
// text and presses the button through the page's own code), and the rendered DOM checked for the
// answer, the latency and the model name. Skips when no chromium binary is installed.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "core/file_io.h"
#include "core/strings.h"
#include "serve/server.h"

namespace cartlm::serve {
namespace {

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

Backend fake_backend() {
  Backend b;
  b.model_name = "playground-fake";
  b.workers = 1;
  b.make_worker = [](int) -> Result<BatchFn> {
    return BatchFn([](const std::vector<std::string>& texts) {
      std::vector<IntentAnswer> out;
      for (const std::string& t : texts) {
        IntentAnswer a;
        a.valid = true;
        // Echo something checkable: the text's length as quantity.
        a.label = Label{"remove", "Lip Balm", static_cast<int>(t.size())};
        out.push_back(a);
      }
      return out;
    });
  };
  return b;
}

// Percent-encodes for a URL query value.
std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += strformat("%%%02X", c);
    }
  }
  return out;
}

TEST(PlaygroundBrowser, ShowsTheAnswerForTypedText) {
  std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup installs it)";

  ServeOptions opt;
  opt.port = 0;
  Server server(opt);
  ASSERT_TRUE(server.bind().ok());
  std::thread t([&] { (void)server.run(); });
  ASSERT_TRUE(server.attach(fake_backend()).ok());

  char tmpl[] = "/tmp/cartlm_browser_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string text = "Izbaci 12 balzama iz košarice";  // non-ASCII on purpose
  std::string url = strformat("http://127.0.0.1:%d/?text=%s&run=1", server.port(),
                              url_encode(text).c_str());
  // --virtual-time-budget lets the page's fetches finish before the DOM is dumped.
  std::string cmd = "timeout 60 '" + chromium +
                    "' --headless --no-sandbox --disable-gpu --no-first-run "
                    "--user-data-dir='" + dir + "/profile' --virtual-time-budget=10000 "
                    "--dump-dom '" + url + "' >'" + dir + "/dom.html' 2>'" + dir + "/err.txt'";
  int status = std::system(cmd.c_str());
  auto dom_file = read_file(dir + "/dom.html");
  auto err_file = read_file(dir + "/err.txt");
  std::string dom = dom_file.ok() ? *dom_file : "";
  std::string err = err_file.ok() ? *err_file : "";
  server.stop();
  t.join();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "chromium failed: " << err;

  // The <pre id="answer"> holds JSON.stringify(..., null, 2) of the answer.
  size_t a = dom.find("<pre id=\"answer\"");
  ASSERT_NE(a, std::string::npos) << dom;
  std::string answer = dom.substr(a, dom.find("</pre>", a) - a);
  EXPECT_NE(answer.find("\"action\": \"remove\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"product\": \"Lip Balm\""), std::string::npos) << answer;
  EXPECT_NE(answer.find(strformat("\"quantity\": %zu", text.size())), std::string::npos) << answer;
  EXPECT_NE(dom.find("<span id=\"model\">playground-fake</span>"), std::string::npos);
  EXPECT_NE(dom.find("ms (server)"), std::string::npos);
  EXPECT_NE(dom.find("<span id=\"status\">done</span>"), std::string::npos);
}

}  // namespace
}  // namespace cartlm::serve
