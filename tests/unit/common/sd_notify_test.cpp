#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace holdgate::sdnotify {
namespace {

// A datagram socket standing in for systemd's notification socket.
class FakeSystemd {
 public:
  explicit FakeSystemd(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    name_ = (abstract ? "@hg-notify-test-" : "/tmp/hg-notify-test-") + std::to_string(getpid());
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    if (abstract) addr.sun_path[0] = '\0';
    else unlink(name_.c_str());
    socklen_t len = offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", name_.c_str(), 1);
  }
  ~FakeSystemd() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  std::string Receive() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, n) : std::string();
  }

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace

TEST_CASE("sd_notify: without NOTIFY_SOCKET nothing is sent", "[sd_notify]") {
  unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(Notify("READY=1"));
}

TEST_CASE("sd_notify: READY=1 reaches a path socket", "[sd_notify]") {
  FakeSystemd systemd(false);
  REQUIRE(Notify("READY=1\nSTATUS=serving"));
  CHECK(systemd.Receive() == "READY=1\nSTATUS=serving");
}

TEST_CASE("sd_notify: an abstract socket (@name) works, and RELOADING carries MONOTONIC_USEC", "[sd_notify]") {
  FakeSystemd systemd(true);
  REQUIRE(NotifyReloading());
  std::string got = systemd.Receive();
  CHECK(got.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  CHECK(std::strtoll(got.c_str() + got.find('=', 12) + 1, nullptr, 10) > 0);
}

}  // namespace holdgate::sdnotify
