#pragma once
// Bench harness: starts the processes under test on loopback ports and stops them: holdgate serve,
// the demo upstream over HTTP, npm mcp-proxy in front of a stdio server, and server-everything over
// HTTP. Every process runs in its own process group with its log in the run directory.
// Blocking; call from one controlling thread.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/http_wire.h"
#include "bench/harness/measure.h"
#include "support/process.h"
#include "support/review_client.h"

namespace holdgate::bench {

struct Paths {
  std::string holdgate = HOLDGATE_BINARY;
  std::string demo = HOLDGATE_DEMO_UPSTREAM;
  std::string e2e_dir = std::string(HOLDGATE_SOURCE_DIR) + "/tests/e2e";
  std::string node;  // empty: looked up on PATH

  std::string McpProxyJs() const { return e2e_dir + "/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"; }
  std::string EverythingJs() const {
    return e2e_dir + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
  }
  std::string BindLocalhostCjs() const { return e2e_dir + "/lib/bind-localhost.cjs"; }
};

// A port that was free a moment ago on 127.0.0.1.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

inline bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// One process under test.
struct Service {
  std::string name;
  std::unique_ptr<testing::ChildProcess> process;
  Endpoint mcp;
  int review_port = 0;  // holdgate only
  std::string log_file;
  std::string error;    // why it did not start

  bool ok() const { return process != nullptr && error.empty(); }
  pid_t pid() const { return process ? process->pid() : -1; }
  // The process and its children (a stdio upstream, mcp-proxy's server).
  std::vector<pid_t> Tree() const { return process ? ProcessTree(process->pid()) : std::vector<pid_t>{}; }
  void Stop() {
    if (!process) return;
    if (process->Stop(SIGTERM, 15000) == INT_MIN) process->Stop(SIGKILL, 5000);
    kill(-process->pid(), SIGKILL);  // what the process group left behind
    process.reset();
  }
  ~Service() { Stop(); }
};

inline void Fail(Service& s, const std::string& why) {
  s.error = why + " (log: " + s.log_file + ")";
  if (s.process) s.process->Stop(SIGKILL, 5000);
}

// The demo upstream over Streamable HTTP on a free port.
inline std::unique_ptr<Service> StartDemoHttp(const Paths& paths, const std::string& dir, const std::string& tag) {
  auto s = std::make_unique<Service>();
  s->name = tag;
  s->log_file = dir + "/" + tag + ".log";
  std::string ready = dir + "/" + tag + ".ready.json";
  std::filesystem::remove(ready);
  s->process = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{paths.demo, "--http", "127.0.0.1:0", "--ready-file", ready, "--log-level", "warn"},
      s->log_file);
  Json doc = testing::WaitForJsonFile(ready, 20000);
  if (doc.is_null() || !ParseHttpUrl(doc.value("url", ""), &s->mcp)) Fail(*s, "demo upstream did not start");
  return s;
}

// holdgate serve with an HTTP (`upstream_url`) or stdio (`upstream_cmd`) upstream.
inline std::unique_ptr<Service> StartHoldgate(const Paths& paths, const std::string& dir, const std::string& tag,
                                              const std::string& upstream_cmd, const std::string& upstream_url,
                                              const std::string& policy_file, const std::string& log_level,
                                              const std::vector<std::string>& extra_env = {},
                                              const std::vector<std::string>& prefix = {},
                                              const std::string& db = "") {  // "" = <dir>/<tag>.db
  auto s = std::make_unique<Service>();
  s->name = tag;
  s->log_file = dir + "/" + tag + ".log";
  std::string ready = dir + "/" + tag + ".ready.json";
  std::filesystem::remove(ready);
  std::vector<std::string> argv = prefix;
  if (!argv.empty() && argv[0].find('/') == std::string::npos) argv[0] = testing::FindOnPath(argv[0]);
  std::vector<std::string> serve = {paths.holdgate, "serve", "--mcp-listen", "127.0.0.1:0", "--review-listen",
                                   "127.0.0.1:0", "--db", db.empty() ? dir + "/" + tag + ".db" : db, "--ready-file", ready,
                                   "--log-level", log_level};
  argv.insert(argv.end(), serve.begin(), serve.end());
  if (!upstream_url.empty()) argv.insert(argv.end(), {"--upstream-url", upstream_url});
  else argv.insert(argv.end(), {"--upstream-cmd", upstream_cmd});
  if (!policy_file.empty()) argv.insert(argv.end(), {"--policy", policy_file});
  std::vector<std::string> env = extra_env;
  env.push_back(std::string("HOLDGATE_JWT_SECRET=") + testing::kTestJwtSecret);
  s->process = std::make_unique<testing::ChildProcess>(argv, s->log_file, env);
  Json doc = testing::WaitForJsonFile(ready, prefix.empty() ? 30000 : 120000);
  Endpoint review;
  if (doc.is_null() || !ParseHttpUrl(doc.value("mcp", ""), &s->mcp) ||
      !ParseHttpUrl(doc.value("review", "") + "/", &review)) {
    Fail(*s, "holdgate did not start");
    return s;
  }
  s->review_port = review.port;
  return s;
}

inline std::string NodeBinary(const Paths& paths) { return paths.node.empty() ? testing::FindOnPath("node") : paths.node; }

// npm mcp-proxy serving Streamable HTTP at /mcp in front of the stdio server `server_argv`.
inline std::unique_ptr<Service> StartMcpProxy(const Paths& paths, const std::string& dir, const std::string& tag,
                                              const std::vector<std::string>& server_argv) {
  auto s = std::make_unique<Service>();
  s->name = tag;
  s->log_file = dir + "/" + tag + ".log";
  std::string node = NodeBinary(paths);
  if (node.empty() || access(paths.McpProxyJs().c_str(), R_OK) != 0) {
    s->error = "node or mcp-proxy not installed (run npm ci in tests/e2e)";
    return s;
  }
  int port = FreePort();
  std::vector<std::string> argv = {node, paths.McpProxyJs(), "--host", "127.0.0.1", "--port", std::to_string(port),
                                   "--server", "stream", "--"};
  argv.insert(argv.end(), server_argv.begin(), server_argv.end());
  s->process = std::make_unique<testing::ChildProcess>(argv, s->log_file);
  s->mcp = Endpoint{"127.0.0.1", port, "/mcp"};
  if (!testing::WaitUntil([&] { return CanConnect(port) || !s->process->Running(); }, 30000) ||
      !s->process->Running()) {
    Fail(*s, "mcp-proxy did not start");
  }
  return s;
}

// @modelcontextprotocol/server-everything over Streamable HTTP, bound to 127.0.0.1.
inline std::unique_ptr<Service> StartEverythingHttp(const Paths& paths, const std::string& dir, const std::string& tag) {
  auto s = std::make_unique<Service>();
  s->name = tag;
  s->log_file = dir + "/" + tag + ".log";
  std::string node = NodeBinary(paths);
  if (node.empty() || access(paths.EverythingJs().c_str(), R_OK) != 0) {
    s->error = "node or server-everything not installed (run npm ci in tests/e2e)";
    return s;
  }
  int port = FreePort();
  s->process = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{node, paths.EverythingJs(), "streamableHttp"}, s->log_file,
      std::vector<std::string>{"PORT=" + std::to_string(port), "NODE_OPTIONS=--require " + paths.BindLocalhostCjs()});
  s->mcp = Endpoint{"127.0.0.1", port, "/mcp"};
  if (!testing::WaitUntil([&] { return CanConnect(port) || !s->process->Running(); }, 30000) ||
      !s->process->Running()) {
    Fail(*s, "server-everything did not start");
  }
  return s;
}

}  // namespace holdgate::bench
