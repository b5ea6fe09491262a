// The journal service in a child process, which a test can freeze (SIGSTOP): a consumer
// stalled for real, while the test's publisher keeps writing.
#pragma once

#include "service/service.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace ringlog::test {

class ForkedService {
 public:
  explicit ForkedService(const service::ServiceConfig& config) {
    int ready[2], stop[2];
    if (::pipe(ready) != 0 || ::pipe(stop) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(stop[1]);
      auto service = service::Service::start(config);
      if (!service) _exit(20);
      char byte = 'r';
      if (::write(ready[1], &byte, 1) != 1 || ::read(stop[0], &byte, 1) < 0) _exit(21);
      _exit((*service)->stop() ? 0 : 22);
    }
    ::close(ready[1]);
    ::close(stop[0]);
    stop_ = stop[1];
    char byte = 0;
    started_ = ::read(ready[0], &byte, 1) == 1;  // 0: the child exited
    ::close(ready[0]);
  }
  ~ForkedService() {
    if (pid_ > 0) (void)stop();
  }
  ForkedService(const ForkedService&) = delete;
  ForkedService& operator=(const ForkedService&) = delete;

  bool started() const { return started_; }
  pid_t pid() const { return pid_; }
  // Returns once the child is stopped: its drain thread reads nothing more. Throws otherwise,
  // which ends the test as a failure (an ASSERT here would end only this function, and the
  // test would go on writing into a ring that never fills).
  void freeze() {
    int status = 0;
    if (::kill(pid_, SIGSTOP) != 0 || ::waitpid(pid_, &status, WUNTRACED) != pid_ ||
        !WIFSTOPPED(status)) {
      throw std::runtime_error("the service process " + std::to_string(pid_) + " did not stop");
    }
  }
  void thaw() { ASSERT_EQ(::kill(pid_, SIGCONT), 0); }
  // Stops the service cleanly (it drains every ring first): its exit code.
  int stop() {
    ::kill(pid_, SIGCONT);
    ::close(stop_);
    int status = 0;
    const bool waited = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return waited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int stop_ = -1;
  bool started_ = false;
};

}  // namespace ringlog::test
