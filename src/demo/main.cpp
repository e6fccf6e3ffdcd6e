// holdgate-demo-upstream: a small MCP server with Sktime-style background-job tools, for the demo
// (scripts/run.sh) and for tests that must observe side effects upstream of the gateway.
//
//   holdgate-demo-upstream [--stdio | --http HOST:PORT] [--ready-file FILE] [--counters-file FILE]
//                          [--page-size N] [--extra-tools N] [--sse auto|always|never]
//                          [--name NAME] [--log-level debug|info|warn|error]
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "common/log.h"
#include "demo/counters.h"
#include "demo/demo_server.h"
#include "demo/http_front.h"
#include "demo/stdio_front.h"

namespace {

using holdgate::Json;
namespace demo = holdgate::demo;
namespace log = holdgate::log;

constexpr const char* kUsage =
    "usage: holdgate-demo-upstream [--stdio | --http HOST:PORT] [options]\n"
    "  --stdio               serve MCP on stdin/stdout (default)\n"
    "  --http HOST:PORT      serve MCP Streamable HTTP at http://HOST:PORT/mcp (port 0 = any free port;\n"
    "                        a bare PORT binds 127.0.0.1)\n"
    "  --ready-file FILE     once serving, write {\"url\":\"http://HOST:PORT/mcp\",\"pid\":N} (atomically)\n"
    "  --counters-file FILE  keep {\"cancel_job_calls\":N,\"jobs_cancelled\":N,...} up to date in FILE\n"
    "  --page-size N         tools/list pages of N tools (default: one page)\n"
    "  --extra-tools N       add noop_1..noop_N to the catalogue (pagination tests)\n"
    "  --sse MODE            HTTP answers: auto (SSE for slow or progress calls; default), always, never\n"
    "  --name NAME           serverInfo.name (default holdgate-demo-upstream)\n"
    "  --log-level LEVEL     debug|info|warn|error (default info; logs go to stderr)\n";

int Usage(const std::string& error) {
  std::fprintf(stderr, "holdgate-demo-upstream: %s\n%s", error.c_str(), kUsage);
  return 2;
}

bool ParseInt(const std::string& text, int min, int max, int* out) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  int v = std::stoi(text);
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

bool WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.good()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Stops the server, writes the counters file a last time and ends the process without running
// destructors: detached threads (slow_echo workers, jobs, connections) may still be finishing, and
// the server and counters they use live in main's frame.
[[noreturn]] void StopAndExit(demo::DemoServer& server, demo::Counters& counters, int rc) {
  server.Shutdown();
  counters.Flush();
  std::fflush(stdout);
  std::_Exit(rc);
}

}  // namespace

int main(int argc, char** argv) {
  bool http = false;
  std::string listen, ready_file, counters_file;
  demo::DemoOptions options;
  demo::HttpOptions http_options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--stdio") {
      http = false;
    } else if (arg == "--http") {
      if (!value(&listen)) return Usage("--http needs HOST:PORT");
      http = true;
    } else if (arg == "--ready-file") {
      if (!value(&ready_file)) return Usage("--ready-file needs a path");
    } else if (arg == "--counters-file") {
      if (!value(&counters_file)) return Usage("--counters-file needs a path");
    } else if (arg == "--page-size") {
      if (!value(&v) || !ParseInt(v, 1, 100000, &options.page_size)) return Usage("--page-size needs N >= 1");
    } else if (arg == "--extra-tools") {
      if (!value(&v) || !ParseInt(v, 0, 10000, &options.extra_tools)) return Usage("--extra-tools needs N >= 0");
    } else if (arg == "--sse") {
      if (!value(&v)) return Usage("--sse needs auto|always|never");
      if (v == "auto") http_options.sse = demo::SseMode::kAuto;
      else if (v == "always") http_options.sse = demo::SseMode::kAlways;
      else if (v == "never") http_options.sse = demo::SseMode::kNever;
      else return Usage("--sse needs auto|always|never");
    } else if (arg == "--name") {
      if (!value(&options.server_name) || options.server_name.empty()) return Usage("--name needs a value");
    } else if (arg == "--log-level") {
      log::Level level;
      if (!value(&v) || !log::ParseLevel(v, &level)) return Usage("--log-level needs debug|info|warn|error");
      log::SetLevel(level);
    } else {
      return Usage("unknown argument " + arg);
    }
  }
  if (http) {
    auto colon = listen.rfind(':');
    std::string port_text = colon == std::string::npos ? listen : listen.substr(colon + 1);
    if (colon != std::string::npos && colon > 0) http_options.host = listen.substr(0, colon);
    if (!http_options.host.empty() && http_options.host.front() == '[' && http_options.host.back() == ']') {
      http_options.host = http_options.host.substr(1, http_options.host.size() - 2);
    }
    if (!ParseInt(port_text, 0, 65535, &http_options.port)) return Usage("bad --http address " + listen);
  }

  // A closed pipe is an error return from write, not a reason to die.
  ::signal(SIGPIPE, SIG_IGN);
  // SIGINT/SIGTERM are taken by a dedicated thread (never stop servers from a signal handler).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  demo::Counters counters(counters_file);
  counters.Flush();
  demo::DemoServer server(options, &counters);

  if (!http) {
    if (!ready_file.empty()) {
      WriteFileAtomically(ready_file, holdgate::DumpJson(Json{{"stdio", true}, {"pid", ::getpid()}}) + "\n");
    }
    std::thread([stop_signals] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      log::Info("signal received; exiting", {{"signal", sig}});
      std::fflush(stdout);
      std::_Exit(0);
    }).detach();
    StopAndExit(server, counters, demo::RunStdio(server));
  }

  demo::HttpFront front(server, http_options);
  auto port = front.Bind();
  if (!port.ok()) {
    log::Error("bind failed", {{"error", port.status().message()}});
    return 1;
  }
  std::string host = http_options.host.find(':') != std::string::npos ? "[" + http_options.host + "]" : http_options.host;
  std::string url = "http://" + host + ":" + std::to_string(*port) + "/mcp";
  // On SIGINT/SIGTERM: stop accepting, stop all work, give open connections a moment, then exit
  // (an idle keep-alive connection would otherwise hold the listener for its full timeout).
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::thread([&, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log::Info("signal received; stopping", {{"signal", sig}});
    front.Stop();
    server.Shutdown();
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return done; });
    counters.Flush();
    log::Info("demo upstream stopped");
    std::_Exit(0);
  }).detach();
  std::thread serving([&front] { front.Serve(); });
  if (!ready_file.empty() && !WriteFileAtomically(ready_file, holdgate::DumpJson(Json{{"url", url}, {"pid", ::getpid()}}) + "\n")) {
    log::Error("cannot write the ready file", {{"path", ready_file}});
    front.Stop();
    serving.join();
    return 1;
  }
  log::Info("demo upstream listening", {{"url", url}});
  serving.join();
  {
    std::lock_guard<std::mutex> lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  log::Info("demo upstream stopping");
  StopAndExit(server, counters, 0);
}
