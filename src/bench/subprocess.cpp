#include "bench/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cartlm {

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "cartlm";
  return std::string(buf, static_cast<size_t>(n));
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                   "0123456789-_./=:,+@%") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

Result<ProcResult> run_process(const std::vector<std::string>& argv, const ProcOptions& opt) {
  if (argv.empty()) return error("run_process: empty command");
  int out_pipe[2] = {-1, -1};
  if (opt.capture_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0)
    return error(std::string("cannot create a pipe: ") + std::strerror(errno));
  int err_fd = -1;
  if (!opt.stderr_path.empty()) {
    err_fd = ::open(opt.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      if (opt.capture_stdout) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
      }
      return error("cannot open log '" + opt.stderr_path + "': " + std::strerror(errno));
    }
  }
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return error(std::string("cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    if (opt.capture_stdout) ::dup2(out_pipe[1], 1);
    else if (err_fd >= 0) ::dup2(err_fd, 1);
    if (err_fd >= 0) ::dup2(err_fd, 2);
    ::execv(cargv[0], cargv.data());
    const char msg[] = "cartlm: error: cannot execute child process\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ProcResult r;
  if (opt.capture_stdout) {
    ::close(out_pipe[1]);
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
      if (n > 0) r.out.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) break;
    }
    ::close(out_pipe[0]);
  }
  if (err_fd >= 0) ::close(err_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return error(std::string("waitpid failed: ") + std::strerror(errno));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace cartlm
