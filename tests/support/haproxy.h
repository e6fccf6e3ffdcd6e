#pragma once
// HAProxy in front of holdgate replicas, for tests and benchmarks: the configuration the README
// documents ("Running several replicas"), with loopback ports. Header-only; no Catch.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace holdgate::testing {

struct ReplicaPorts {
  int mcp = 0;
  int review = 0;
};

// A loopback port free right now (bound to port 0, read back, closed): for programs such as
// haproxy that cannot report the port they bound.
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Round robin over `replicas` for both listeners; MCP requests carrying an Mcp-Session-Id stay on
// the replica that issued it (2025-era sessions live in one replica's memory); a replica leaves
// the rotation when its /healthz fails; a request that could not be connected is re-dispatched.
inline std::string HaproxyConfig(const std::vector<ReplicaPorts>& replicas, int mcp_port, int review_port) {
  std::string cfg =
      "global\n  maxconn 8192\n"
      "defaults\n  mode http\n  timeout connect 2s\n  timeout client 10m\n  timeout server 10m\n"
      "  option redispatch\n  retries 3\n  retry-on conn-failure\n"
      "frontend mcp\n  bind 127.0.0.1:" + std::to_string(mcp_port) + "\n  default_backend holdgate_mcp\n"
      "frontend review\n  bind 127.0.0.1:" + std::to_string(review_port) + "\n  default_backend holdgate_review\n"
      "backend holdgate_mcp\n  balance roundrobin\n  option httpchk GET /healthz\n"
      "  stick-table type string len 128 size 100k expire 1h\n"
      "  stick on req.hdr(mcp-session-id)\n  stick store-response res.hdr(mcp-session-id)\n";
  for (size_t i = 0; i < replicas.size(); ++i) {
    cfg += "  server r" + std::to_string(i) + " 127.0.0.1:" + std::to_string(replicas[i].mcp) + " check port " +
           std::to_string(replicas[i].review) + " inter 300 fall 2 rise 2\n";
  }
  cfg += "backend holdgate_review\n  balance roundrobin\n  option httpchk GET /healthz\n";
  for (size_t i = 0; i < replicas.size(); ++i) {
    cfg += "  server r" + std::to_string(i) + " 127.0.0.1:" + std::to_string(replicas[i].review) +
           " check inter 300 fall 2 rise 2\n";
  }
  return cfg;
}

}  // namespace holdgate::testing
