#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

namespace holdgate::testing {

TempDir::TempDir() {
  std::string tmpl = "/tmp/holdgate-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  path_ = made ? made : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (path_ != "/tmp") std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& log_file,
                           std::vector<std::string> env) {
  // argv and the environment are built before fork: the child of a multithreaded test may only
  // make async-signal-safe calls before exec (an allocation could wait forever on a lock another
  // thread held at the fork).
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : env) overridden |= x.compare(0, name.size() + 1, name + "=") == 0;
    if (!overridden) environment.push_back(entry);
  }
  for (const auto& x : env) environment.push_back(x);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool ChildProcess::Running() {
  if (reaped_ || pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
    return false;
  }
  return true;
}

int ChildProcess::Stop(int sig, int timeout_ms) {
  if (!reaped_ && pid_ > 0) kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!reaped_) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = st;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return INT_MIN;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (sig == SIGKILL) kill(-pid_, SIGKILL);  // a crash takes the children along, as init would
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -WTERMSIG(status_);
}

std::vector<pid_t> ChildProcess::Children() const {
  std::vector<pid_t> out;
  std::filesystem::path task_dir = "/proc/" + std::to_string(pid_) + "/task";
  std::error_code ec;
  for (auto& task : std::filesystem::directory_iterator(task_dir, ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child;
    while (in >> child) out.push_back(child);
  }
  return out;
}

bool WaitUntil(const std::function<bool()>& predicate, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

Json WaitForJsonFile(const std::string& path, int timeout_ms) {
  Json doc;
  WaitUntil([&] {
    std::string text = ReadFile(path);
    if (text.empty()) return false;
    auto parsed = ParseJson(text);
    if (!parsed.ok()) return false;
    doc = parsed.value();
    return true;
  }, timeout_ms);
  return doc;
}

std::string DemoUpstreamCommand(const std::string& dir) {
  return std::string(HOLDGATE_DEMO_UPSTREAM) + " --stdio --counters-file " + dir + "/counters.json";
}

Gateway StartGateway(const GatewayLaunch& launch) {
  Gateway gw;
  std::string ready = launch.dir + "/ready.json";
  std::filesystem::remove(ready);
  std::vector<std::string> argv = {HOLDGATE_BINARY, "serve", "--mcp-listen", "127.0.0.1:0",
                                   "--review-listen", "127.0.0.1:0", "--db", launch.dir + "/holdgate.db",
                                   "--ready-file", ready};
  if (!launch.config_file.empty()) {
    argv.push_back("--config");
    argv.push_back(launch.config_file);
  }
  if (!launch.upstream_url.empty()) {
    argv.push_back("--upstream-url");
    argv.push_back(launch.upstream_url);
  } else {
    argv.push_back("--upstream-cmd");
    argv.push_back(launch.upstream_cmd.empty() ? DemoUpstreamCommand(launch.dir) : launch.upstream_cmd);
  }
  if (!launch.policy_file.empty()) {
    argv.push_back("--policy");
    argv.push_back(launch.policy_file);
  }
  for (auto& a : launch.extra_args) argv.push_back(a);
  std::vector<std::string> env = launch.env;
  bool has_secret = false;
  for (auto& e : env) has_secret |= e.rfind("HOLDGATE_JWT_SECRET=", 0) == 0;
  if (!has_secret) env.push_back("HOLDGATE_JWT_SECRET=test-secret-0123456789abcdef0123456789abcdef");
  gw.process = std::make_unique<ChildProcess>(argv, launch.dir + "/holdgate.log", env);
  // 60 s: a sanitizer build starting beside other tests' sanitized processes on two cores can be
  // slow; a healthy start is seconds. On failure the log says where the start stopped.
  Json doc = WaitForJsonFile(ready, 60000);
  if (doc.is_null() || !gw.process->Running()) {
    std::fprintf(stderr, "StartGateway: no ready file %s after 60 s (running: %s); holdgate.log:\n%s\n", ready.c_str(),
                 gw.process->Running() ? "yes" : "no", ReadFile(launch.dir + "/holdgate.log").c_str());
    gw.process.reset();
    return gw;
  }
  gw.mcp_url = doc.value("mcp", "");
  gw.review_url = doc.value("review", "");
  auto port_of = [](const std::string& url) {
    size_t colon = url.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(url.c_str() + colon + 1);
  };
  gw.mcp_port = port_of(gw.mcp_url);
  gw.review_port = port_of(gw.review_url);
  return gw;
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

}  // namespace holdgate::testing
