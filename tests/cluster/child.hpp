// A child process for multi-process tests: started with a pipe on its stdout, always killed
// and reaped by the destructor, even when a test fails. Its stderr is the test's, or a file
// (`stderr_to::file`, read back with stderr_text()), or a pipe the test can close
// (`stderr_to::pipe`, close_stderr(): a log reader that goes away).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace cluster_test {

struct stderr_to {
  std::string file;   // non-empty: stderr goes to this file (truncated)
  bool pipe = false;  // stderr goes to a pipe held by the test
};

class child {
 public:
  explicit child(std::vector<std::string> argv, stderr_to err = {})
      : argv_(std::move(argv)), err_to_(std::move(err)) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that died must not take the test down with a write
    start();
  }
  ~child() { kill_now(); }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  // The next line of its stdout, waiting up to `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || out_ < 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) {
        ::close(out_);
        out_ = -1;
        continue;
      }
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Writes a line to its stdin (test_node reads commands there).
  bool write_line(const std::string& line) {
    const std::string data = line + "\n";
    return in_ >= 0 && ::write(in_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  }

  // What it wrote to its stderr file so far (stderr_to::file).
  std::string stderr_text() const {
    std::string text;
    if (FILE* f = std::fopen(err_to_.file.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    return text;
  }
  // Closes the test's end of its stderr pipe (stderr_to::pipe): its next writes there fail.
  void close_stderr() {
    if (err_ >= 0) ::close(err_);
    err_ = -1;
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // SIGSTOP, returning once it is stopped (kill() returns before every thread has stopped: a
  // request arriving meanwhile could still be answered).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGSTOP);
    int st = 0;
    while (::waitpid(pid_, &st, WUNTRACED) == pid_) {
      if (WIFSTOPPED(st)) return;
      if (WIFEXITED(st) || WIFSIGNALED(st)) {  // it died meanwhile
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return;
      }
    }
  }
  // Waits for it to exit; its exit status, or -1.
  int wait_exit() {
    if (pid_ <= 0) return status_;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
    if (out_ >= 0) {
      ::close(out_);
      out_ = -1;
    }
    if (in_ >= 0) {
      ::close(in_);
      in_ = -1;
    }
    close_stderr();
  }
  void restart() {
    kill_now();
    buffer_.clear();
    start();
  }

 private:
  void start() {
    int fds[2], ins[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    if (::pipe2(ins, O_CLOEXEC) != 0) return;
    int errs[2] = {-1, -1};
    if (err_to_.pipe && ::pipe2(errs, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::signal(SIGPIPE, SIG_DFL);  // the test ignores it; the child gets the default, as in use
      ::dup2(fds[1], 1);
      ::dup2(ins[0], 0);
      if (err_to_.pipe) ::dup2(errs[1], 2);
      if (!err_to_.file.empty()) {
        const int f = ::open(err_to_.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (f >= 0) ::dup2(f, 2);
      }
      std::vector<char*> args;
      for (auto& a : argv_) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    ::close(ins[0]);
    out_ = fds[0];
    in_ = ins[1];
    if (err_to_.pipe) {
      ::close(errs[1]);
      err_ = errs[0];
    }
  }

  std::vector<std::string> argv_;
  stderr_to err_to_;
  pid_t pid_ = -1;
  int err_ = -1;
  int out_ = -1;
  int in_ = -1;
  int status_ = -1;
  std::string buffer_;
};

}  // namespace cluster_test
