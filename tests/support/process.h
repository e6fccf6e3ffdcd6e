#pragma once
// Test helpers: run holdgate (or the demo upstream) as a real child process on loopback, wait for
// its ready file, and stop it (SIGTERM, or SIGKILL to simulate a crash). Blocking; one thread.
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/json_util.h"

namespace holdgate::testing {

// A fresh directory under /tmp, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class ChildProcess {
 public:
  // Starts argv[0] with args; stdout/stderr go to `log_file` (appended). Environment inherited,
  // plus `env` entries "K=V".
  ChildProcess(std::vector<std::string> argv, const std::string& log_file,
               std::vector<std::string> env = {});
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` and waits up to `timeout_ms` for exit. Returns the exit status (or -signal),
  // or INT32_MIN on timeout.
  int Stop(int sig, int timeout_ms = 10000);
  bool Running();
  // Direct children of this process (e.g. the upstream holdgate spawned).
  std::vector<pid_t> Children() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// Polls until `path` holds a complete JSON document; fails (returns null) after timeout_ms.
Json WaitForJsonFile(const std::string& path, int timeout_ms = 20000);
// Polls `predicate` every few ms until it holds or timeout_ms passes.
bool WaitUntil(const std::function<bool()>& predicate, int timeout_ms = 10000);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// A running holdgate serve with the demo upstream (stdio) and a policy.
struct Gateway {
  std::unique_ptr<ChildProcess> process;
  std::string mcp_url;     // http://127.0.0.1:PORT/mcp
  std::string review_url;  // http://127.0.0.1:PORT
  int mcp_port = 0;
  int review_port = 0;
};
struct GatewayLaunch {
  std::string dir;                 // working dir for db, ready file, logs
  std::string policy_file;         // empty = no policy
  std::string upstream_cmd;        // default: the demo upstream over stdio with a counters file
  std::string upstream_url;
  std::string config_file;         // optional
  std::vector<std::string> extra_args;
  std::vector<std::string> env;    // e.g. HOLDGATE_JWT_SECRET=...
};
// Starts holdgate serve on port 0 for both listeners and waits until ready. Failure → null process.
Gateway StartGateway(const GatewayLaunch& launch);
// The first executable named `name` on PATH, or "".
std::string FindOnPath(const std::string& name);
// Demo upstream command line with its counters file in `dir`.
std::string DemoUpstreamCommand(const std::string& dir);

}  // namespace holdgate::testing
