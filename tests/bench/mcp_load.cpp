// holdgate's load generator and benchmark driver (scripts/bench.sh runs it). It starts the
// processes under test on loopback, drives them with its own epoll MCP client (keep-alive
// connections, one MCP session per connection, a fixed number of calls per round) and prints one
// Markdown table per scenario. Every comparison is measured in the same run, A B A B interleaved.
//
//   bench_mcp_load passthrough | sessions | holds | growth | all | smoke  [--out DIR] [flags]
//
// Scenarios:
//   sessions     upstream.sessions per_agent against shared: pass-through figures, and the upstream's
//                memory per agent session (HTTP and stdio; demo, and server-everything when installed)
//   passthrough  allowed tools/call: holdgate→demo (HTTP) vs demo direct; holdgate (stdio demo) vs
//                npm mcp-proxy (stdio demo); holdgate→server-everything vs server-everything (echo)
//   holds        N held calls (RSS, threads, idle CPU, reviewer API latency meanwhile), one decision
//                → agent answered, all decided at once, approval creations/s (gateway and store)
//   growth       pass-through at 1..256 sessions and holds at 10..10,000; table + growth.svg
//   tasks        MCP 2026-07-28 task holds at 1,000 / 10,000 / 100,000: RSS and database per hold,
//                tasks/get latency (no connection is kept per hold)
//   smoke        a few seconds of each; checks only that the numbers are sane (exit 1 if not)
// Results also go to DIR/results-<scenario>.json. See --help for the flags.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>
#include <tuple>

#include "bench/harness/conn_loop.h"
#include "bench/harness/launch.h"
#include "support/haproxy.h"
#include "support/pg_test_db.h"
#include "bench/harness/mcp_drivers.h"
#include "bench/harness/measure.h"
#include "bench/harness/report.h"
#include "cli/review_client.h"
#include "common/clock.h"
#include "store/store.h"
#include "support/review_client.h"

namespace holdgate::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string out_dir = "/tmp/holdgate-bench";
  Paths paths;
  std::string log_level = "info";
  std::vector<std::string> holdgate_env;  // extra K=V for holdgate (experiments, e.g. LD_PRELOAD)
  // passthrough
  size_t sessions = 8;
  int64_t calls = 20000;
  int rounds = 3;
  int64_t warmup = 2000;
  bool mcp_proxy = true;
  bool everything = true;
  // sessions
  size_t memory_sessions = 8;
  // growth
  std::vector<size_t> growth_sessions = {1, 8, 64, 256};
  std::vector<size_t> growth_holds = {10, 100, 1000, 10000};
  int64_t growth_calls = 500;  // per session per round, 2,000..20,000 per round
  int growth_rounds = 2;
  // holds
  size_t holds = 10000;
  size_t max_inflight = 256;
  int idle_seconds = 5;
  int healthz_probes = 200;
  size_t singles = 100;
  int approvers = 8;
  size_t storm_bulk = 500;  // approvals per bulk decision request in the storm; 0 = one approve request each
  bool agent_close = false;
  // creation
  size_t create_sessions = 1000;
  int64_t create_calls = 10000;
  int store_creations = 6000;
  // tasks
  std::vector<size_t> task_holds = {1000, 10000, 100000};
  size_t task_gets = 2000;
  bool smoke = false;
  bool perf = false;  // record holdgate with perf (scenario profile)
  std::string perf_args = "record -e cpu-clock -F 1999";
  std::string holdgate_prefix;  // e.g. "valgrind --tool=callgrind --callgrind-out-file=F"
  std::string baseline_holdgate;  // another holdgate binary measured beside this one (pass-through over HTTP)
  std::string hold_upstream_sessions = "shared";  // upstream.sessions for the holds, creations and tasks runs
};

std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

Json g_results = Json::object();
std::vector<std::string> g_failures;  // smoke: what was not sane

void Check(bool ok, const std::string& what) {
  if (!ok) g_failures.push_back(what);
}

std::string MakeRunDir(const Options& o, const std::string& name) {
  std::string dir = o.out_dir + "/work/" + name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string MachineLine() {
  LoadAverage l = ReadLoadAverage();
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%u CPUs, load average %.2f %.2f %.2f", std::thread::hardware_concurrency(), l.one,
                l.five, l.fifteen);
  return buf;
}

void Print(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fflush(stdout);
}

// perf (by default `perf record`, cpu-clock sampling) attached to one process while this object lives.
class PerfRecorder {
 public:
  PerfRecorder(const Options& o, pid_t pid, const std::string& file) {
    std::string perf = testing::FindOnPath("perf");
    if (!o.perf || perf.empty()) return;
    std::vector<std::string> argv = {perf};
    for (auto& w : SplitWords(o.perf_args)) argv.push_back(w);
    argv.insert(argv.end(), {"-p", std::to_string(pid), "-o", file});
    process_ = std::make_unique<testing::ChildProcess>(argv, file + ".log");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ~PerfRecorder() {
    if (process_) process_->Stop(SIGINT, 60000);
  }

 private:
  std::unique_ptr<testing::ChildProcess> process_;
};

// ---- pass-through ---------------------------------------------------------------------------------

// The policy holdgate runs with in every scenario: default deny, read tools allowed, cancel_job held.
std::string WritePolicy(const std::string& dir, const std::string& hold) {
  std::string path = dir + "/policy.json";
  WriteText(path, R"({
  "version": "1",
  "default": "deny",
  "tools": {
    "list_jobs": { "action": "allow", "risk": { "category": "Read", "level": "low" } },
    "check_job_status": { "action": "allow" },
    "echo": { "action": "allow" },
    "cancel_job": {
      "action": "require_approval",
      "reason": "Cancelling a job is irreversible",
      "risk": { "category": "Destructive", "level": "critical" },
      "approval": { "approvers": 1, "timeout": "2h", "hold": ")" + hold + R"(" }
    }
  }
})");
  return path;
}

// holdgate's environment for runs that keep many calls held at once: every bench agent is the same
// loopback principal from one address, so the defaults (100 pending approvals per principal, 1,000
// sessions per principal, 1,024 open connections, 256 per address) would turn the run into a run
// of refusals. Lifted to what the descriptor limit allows. The upstream sessions follow
// --hold-upstream-sessions (shared by default: holdgate's own cost per held call; per_agent adds an
// upstream session, with its threads, per agent session).
std::vector<std::string> NoPendingCapEnv(const Options& o, const std::string& dir) {
  WriteText(dir + "/config.json", R"({"approval": {"max_pending_per_principal": 0},
  "mcp": {"max_connections": 19500, "max_connections_per_ip": 0, "max_sessions_per_principal": 1000000},
  "upstream": {"sessions": ")" + o.hold_upstream_sessions + R"(", "max_sessions": 19500}})");
  std::vector<std::string> env = o.holdgate_env;
  env.push_back("HOLDGATE_CONFIG=" + dir + "/config.json");
  return env;
}

struct Target {
  Target(std::string l, Endpoint e, std::vector<const Service*> p, CallSpec s)
      : label(std::move(l)), ep(std::move(e)), processes(std::move(p)), spec(std::move(s)) {}

  std::string label;
  Endpoint ep;
  std::vector<const Service*> processes;  // processes[0] is the front (its RSS is reported)
  CallSpec spec;
  std::vector<SessionInfo> sessions;
  // Accumulated over the measured rounds.
  Samples latencies;
  double seconds = 0;
  int64_t calls = 0;
  double cpu = 0;        // every process of the target
  double front_cpu = 0;  // the front process and its children (holdgate + a stdio upstream)
  double rss = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<double> round_rates;

  double rate() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
  std::vector<pid_t> Pids() const {
    std::vector<pid_t> pids;
    for (const Service* s : processes) {
      for (pid_t p : s->Tree()) {
        if (std::find(pids.begin(), pids.end(), p) == pids.end()) pids.push_back(p);
      }
    }
    return pids;
  }
};

CallSpec ListJobs() { return {"list_jobs", [](uint64_t) { return std::string("{}"); }, Outcome::kOk}; }
CallSpec Echo() { return {"echo", [](uint64_t) { return std::string(R"({"message":"hello from holdgate-bench"})"); }, Outcome::kOk}; }

// One round: fresh keep-alive connections for the target's sessions, one warm-up call each, then
// `calls` calls measured. Returns false when the round could not run.
bool RunRound(Target& t, int64_t calls, bool record) {
  Loop loop(t.ep);
  std::vector<pid_t> pids = t.Pids();
  std::vector<pid_t> front = t.processes[0]->Tree();
  double cpu0 = 0, front0 = 0;
  CallDriver driver(t.ep, t.sessions, t.spec, calls, [&] {
    cpu0 = TreeCpuSeconds(pids);
    front0 = TreeCpuSeconds(front);
  });
  driver.Start(loop);
  bool done = loop.Run(driver, 1000, 600000);
  double cpu1 = TreeCpuSeconds(pids);
  double front1 = TreeCpuSeconds(front);
  loop.CloseAll();
  if (!done) {
    t.first_error = "round did not finish: " + driver.first_error();
    return false;
  }
  if (driver.errors() && t.first_error.empty()) t.first_error = driver.first_error();
  if (!record) return true;
  t.latencies.Append(driver.latencies());
  t.seconds += driver.seconds();
  t.calls += driver.completed();
  t.errors += driver.errors();
  t.cpu += cpu1 - cpu0;
  t.front_cpu += front1 - front0;
  t.rss = std::max(t.rss, ReadProcStatus(t.processes[0]->pid()).rss_mib);
  t.round_rates.push_back(static_cast<double>(driver.completed()) / driver.seconds());
  return true;
}

// Opens the sessions, warms every target up, then runs `rounds` rounds of each, interleaved.
bool RunInterleaved(std::vector<Target*> targets, size_t sessions, int64_t calls, int rounds, int64_t warmup) {
  for (Target* t : targets) {
    std::string error;
    t->sessions = OpenSessions(t->ep, sessions, &error);
    if (t->sessions.size() != sessions) {
      t->first_error = "opening sessions: " + error;
      return false;
    }
    if (!RunRound(*t, warmup, false)) return false;
  }
  for (int r = 0; r < rounds; ++r) {
    for (Target* t : targets) {
      if (!RunRound(*t, calls, true)) return false;
    }
  }
  return true;
}

Json TargetJson(const Target& t) {
  Percentiles p = t.latencies.Summary();
  return Json{{"label", t.label},
              {"calls", t.calls},
              {"calls_per_s", t.rate()},
              {"p50_ms", p.p50_ms},
              {"p99_ms", p.p99_ms},
              {"p999_ms", p.p999_ms},
              {"rss_mib", t.rss},
              {"cpu_s", t.cpu},
              {"cpu_us_per_call", t.calls ? t.cpu / static_cast<double>(t.calls) * 1e6 : 0},
              {"front_cpu_s", t.front_cpu},
              {"front_cpu_us_per_call", t.calls ? t.front_cpu / static_cast<double>(t.calls) * 1e6 : 0},
              {"errors", t.errors},
              {"round_calls_per_s", t.round_rates}};
}

// Prints the A-vs-B table and returns its JSON. `a` is holdgate, `b` the baseline.
// holdgate's own CPU per allowed call against the demo upstream over HTTP (issue 20).
constexpr double kPassCpuTargetUs = 40;

// `cpu_target_us` > 0: the target for a's own CPU per call (its front process), printed with it.
Json ReportPair(const std::string& title, const Target& a, const Target& b, size_t sessions, double throughput_target,
                bool latency_target, double cpu_target_us = 0) {
  Table table({"target", "sessions", "calls", "calls/s", "p50 ms", "p99 ms", "p99.9 ms", "RSS MiB", "CPU s",
               "CPU µs/call", "front µs/call", "vs baseline"});
  for (const Target* t : {&a, &b}) {
    Percentiles p = t->latencies.Summary();
    const double n = std::max<double>(1, static_cast<double>(t->calls));
    std::string ratio = t == &b ? "baseline" : Fmt(a.rate() / std::max(b.rate(), 1e-9), 2) + "× calls/s";
    table.Row({t->label, std::to_string(sessions), std::to_string(t->calls), Fmt(t->rate(), 0), Sig(p.p50_ms),
               Sig(p.p99_ms), Sig(p.p999_ms), Fmt(t->rss, 1), Fmt(t->cpu, 2), Fmt(t->cpu / n * 1e6, 0),
               Fmt(t->front_cpu / n * 1e6, 0), ratio});
  }
  Percentiles pa = a.latencies.Summary(), pb = b.latencies.Summary();
  const double ratio = a.rate() / std::max(b.rate(), 1e-9);
  const double added = pa.p50_ms - pb.p50_ms;
  std::string out = "\n### " + title + "\n\n" + table.Markdown();
  auto rates = [](const Target& t) {
    std::string s;
    for (double r : t.round_rates) s += (s.empty() ? "" : ", ") + Fmt(r, 0);
    return s;
  };
  out += "\nRSS: the front process; CPU: every process of the target (front µs/call: the front process and its "
         "children only).\nrounds (calls/s, A B A B order): " + a.label + ": " + rates(a) + "; " + b.label + ": " + rates(b) + "\n";
  out += "throughput ratio " + Fmt(ratio, 2) + " (target ≥ " + Fmt(throughput_target, 1) + ": " +
         (ratio >= throughput_target ? "met" : "NOT met") + ")";
  if (latency_target) {
    out += "; added p50 " + Fmt(added, 3) + " ms (target ≤ 0.100 ms: " + (added <= 0.1 ? "met" : "NOT met") + ")";
  } else {
    out += "; p50 difference " + Fmt(added, 3) + " ms";
  }
  if (cpu_target_us > 0) {
    const double us = a.front_cpu / std::max<double>(1, static_cast<double>(a.calls)) * 1e6;
    out += "; " + a.label + " CPU " + Fmt(us, 0) + " µs per call (target ≤ " + Fmt(cpu_target_us, 0) +
           " µs: " + (us <= cpu_target_us ? "met" : "NOT met") + ")";
  }
  out += "\n";
  for (const Target* t : {&a, &b}) {
    if (t->errors || !t->first_error.empty()) {
      out += "errors in " + t->label + ": " + std::to_string(t->errors) + " (first: " + t->first_error + ")\n";
    }
  }
  Print(out);
  return Json{{"title", title},
              {"sessions", sessions},
              {"a", TargetJson(a)},
              {"b", TargetJson(b)},
              {"throughput_ratio", ratio},
              {"throughput_target", throughput_target},
              {"added_p50_ms", added},
              {"machine", MachineLine()}};
}

// holdgate → demo (HTTP) vs demo directly, at `sessions` concurrent sessions.
Json PassHttpDemo(const Options& o, size_t sessions, int64_t calls, int rounds, int64_t warmup, const std::string& tag) {
  std::string dir = MakeRunDir(o, tag);
  auto demo = StartDemoHttp(o.paths, dir, "demo-http");
  if (!demo->ok()) return Json{{"error", demo->error}};
  std::string url = "http://127.0.0.1:" + std::to_string(demo->mcp.port) + "/mcp";
  auto gw = StartHoldgate(o.paths, dir, "holdgate", "", url, WritePolicy(dir, "10m"), o.log_level, o.holdgate_env, SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return Json{{"error", gw->error}};
  PerfRecorder perf(o, gw->pid(), dir + "/holdgate.perf.data");
  Target a{"holdgate → demo (HTTP)", gw->mcp, {gw.get(), demo.get()}, ListJobs()};
  Target b{"demo direct (HTTP)", demo->mcp, {demo.get()}, ListJobs()};
  if (o.baseline_holdgate.empty()) {
    if (!RunInterleaved({&a, &b}, sessions, calls, rounds, warmup)) {
      return Json{{"error", a.first_error + " " + b.first_error}};
    }
    return ReportPair("pass-through, HTTP upstream: list_jobs on the demo upstream", a, b, sessions, 0.9, true,
                      kPassCpuTargetUs);
  }
  // Before/after: another holdgate binary in front of the same demo, interleaved A C B A C B.
  Paths before_paths = o.paths;
  before_paths.holdgate = o.baseline_holdgate;
  auto gw0 = StartHoldgate(before_paths, dir, "holdgate-baseline", "", url, WritePolicy(dir, "10m"), o.log_level, o.holdgate_env);
  if (!gw0->ok()) return Json{{"error", gw0->error}};
  Target c{"baseline binary → demo (HTTP)", gw0->mcp, {gw0.get(), demo.get()}, ListJobs()};
  if (!RunInterleaved({&a, &c, &b}, sessions, calls, rounds, warmup)) {
    return Json{{"error", a.first_error + " " + c.first_error + " " + b.first_error}};
  }
  Json j = ReportPair("pass-through, HTTP upstream: list_jobs on the demo upstream (this build)", a, b, sessions, 0.9, true,
                      kPassCpuTargetUs);
  Json j0 = ReportPair("pass-through, HTTP upstream: list_jobs on the demo upstream (baseline binary " + o.baseline_holdgate + ")",
                       c, b, sessions, 0.9, true, kPassCpuTargetUs);
  const double n_a = std::max<double>(1, static_cast<double>(a.calls)), n_c = std::max<double>(1, static_cast<double>(c.calls));
  const double front_a = a.front_cpu / n_a * 1e6, front_c = c.front_cpu / n_c * 1e6;
  Print("\nthis build vs the baseline binary, same run: holdgate+demo CPU " + Fmt(a.cpu / n_a * 1e6, 0) + " vs " +
        Fmt(c.cpu / n_c * 1e6, 0) + " µs/call; holdgate alone (front) " + Fmt(front_a, 0) + " vs " + Fmt(front_c, 0) +
        " µs/call (" + Fmt(front_a / std::max(front_c, 1e-9), 2) + "×); calls/s " + Fmt(a.rate(), 0) + " vs " +
        Fmt(c.rate(), 0) + " (" + Fmt(a.rate() / std::max(c.rate(), 1e-9), 2) + "×)\n");
  j["baseline_binary"] = j0;
  return j;
}

// holdgate with the demo over stdio vs npm mcp-proxy in front of the same stdio server.
Json PassStdioDemo(const Options& o, size_t sessions, int64_t calls, int rounds, int64_t warmup) {
  std::string dir = MakeRunDir(o, "pass-stdio");
  std::string cmd = o.paths.demo + " --stdio --log-level warn";
  auto gw = StartHoldgate(o.paths, dir, "holdgate", cmd, "", WritePolicy(dir, "10m"), o.log_level, o.holdgate_env, SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return Json{{"error", gw->error}};
  auto proxy = StartMcpProxy(o.paths, dir, "mcp-proxy", {o.paths.demo, "--stdio", "--log-level", "warn"});
  if (!proxy->ok()) return Json{{"error", proxy->error}};
  Target a{"holdgate (stdio demo)", gw->mcp, {gw.get()}, ListJobs()};
  Target b{"mcp-proxy (stdio demo)", proxy->mcp, {proxy.get()}, ListJobs()};
  if (!RunInterleaved({&a, &b}, sessions, calls, rounds, warmup)) {
    return Json{{"error", a.first_error + " " + b.first_error}};
  }
  return ReportPair("stdio upstream: holdgate vs npm mcp-proxy, list_jobs on the demo over stdio", a, b, sessions, 2.0,
                    false);
}

// holdgate → server-everything (HTTP) vs server-everything directly, echo.
Json PassEverything(const Options& o, size_t sessions, int64_t calls, int rounds, int64_t warmup) {
  std::string dir = MakeRunDir(o, "pass-everything");
  auto ev = StartEverythingHttp(o.paths, dir, "everything-http");
  if (!ev->ok()) return Json{{"error", ev->error}};
  std::string url = "http://127.0.0.1:" + std::to_string(ev->mcp.port) + "/mcp";
  auto gw = StartHoldgate(o.paths, dir, "holdgate", "", url, WritePolicy(dir, "10m"), o.log_level, o.holdgate_env, SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return Json{{"error", gw->error}};
  Target a{"holdgate → everything (HTTP)", gw->mcp, {gw.get(), ev.get()}, Echo()};
  Target b{"everything direct (HTTP)", ev->mcp, {ev.get()}, Echo()};
  if (!RunInterleaved({&a, &b}, sessions, calls, rounds, warmup)) {
    return Json{{"error", a.first_error + " " + b.first_error}};
  }
  return ReportPair("pass-through, HTTP upstream: echo on @modelcontextprotocol/server-everything", a, b, sessions, 1.0,
                    true);
}

void ReportError(const std::string& what, const Json& j) {
  if (j.contains("error")) {
    Print("\n### " + what + "\n\nnot measured: " + j["error"].get<std::string>() + "\n");
    Check(false, what + ": " + j["error"].get<std::string>());
  }
}

// ---- upstream sessions (issue 16) ---------------------------------------------------------------

// Resident memory of `pids`, summed (MiB).
double RssMiB(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t p : pids) sum += ReadProcStatus(p).rss_mib;
  return sum;
}

// The environment that picks holdgate's upstream session mode.
std::vector<std::string> SessionsEnv(const Options& o, const char* mode) {
  std::vector<std::string> env = o.holdgate_env;
  env.push_back(std::string("HOLDGATE_UPSTREAM_SESSIONS=") + mode);
  return env;
}

// Pass-through with an upstream session per agent session (A) against one shared upstream session
// (B, the baseline), same upstream, same calls, A B A B rounds: server-everything's echo over HTTP
// when it is installed, else list_jobs on the demo upstream over HTTP.
Json PassSessionsPair(const Options& o, size_t sessions, int64_t calls, int rounds, int64_t warmup, const std::string& tag) {
  std::string dir = MakeRunDir(o, tag);
  const bool everything = o.everything;
  auto up = everything ? StartEverythingHttp(o.paths, dir, "everything-http") : StartDemoHttp(o.paths, dir, "demo-http");
  if (!up->ok()) return Json{{"error", up->error}};
  std::string url = "http://127.0.0.1:" + std::to_string(up->mcp.port) + "/mcp";
  std::string policy = WritePolicy(dir, "10m");
  auto per_agent = StartHoldgate(o.paths, dir, "holdgate-per-agent", "", url, policy, o.log_level, SessionsEnv(o, "per_agent"),
                                 SplitWords(o.holdgate_prefix));
  if (!per_agent->ok()) return Json{{"error", per_agent->error}};
  auto shared = StartHoldgate(o.paths, dir, "holdgate-shared", "", url, policy, o.log_level, SessionsEnv(o, "shared"),
                              SplitWords(o.holdgate_prefix));
  if (!shared->ok()) return Json{{"error", shared->error}};
  const std::string upstream = everything ? "everything (HTTP)" : "demo (HTTP)";
  CallSpec spec = everything ? Echo() : ListJobs();
  Target a{"holdgate per_agent → " + upstream, per_agent->mcp, {per_agent.get(), up.get()}, spec};
  Target b{"holdgate shared → " + upstream, shared->mcp, {shared.get(), up.get()}, spec};
  if (!RunInterleaved({&a, &b}, sessions, calls, rounds, warmup)) {
    return Json{{"error", a.first_error + " " + b.first_error}};
  }
  return ReportPair("upstream sessions: per_agent (A) against shared (B, baseline), " + spec.tool + " on " + upstream +
                        "; both targets' CPU includes the upstream",
                    a, b, sessions, 0.9, false);
}

// What `n` more agent sessions cost the upstream: its resident memory (HTTP: the server process;
// stdio: every child holdgate runs) and holdgate's, before and after opening them through holdgate in
// `mode`. One row of the memory table.
Json SessionMemory(const Options& o, const std::string& label, const std::string& upstream_cmd, Service* http_upstream,
                   const char* mode, size_t n, const std::string& dir) {
  std::string url =
      http_upstream ? "http://127.0.0.1:" + std::to_string(http_upstream->mcp.port) + "/mcp" : std::string();
  auto gw = StartHoldgate(o.paths, dir, std::string("holdgate-") + mode + (http_upstream ? "-http" : "-stdio"), upstream_cmd,
                          url, WritePolicy(dir, "10m"), o.log_level, SessionsEnv(o, mode), SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return Json{{"label", label}, {"mode", mode}, {"error", gw->error}};
  auto upstream_pids = [&] {
    if (http_upstream) return http_upstream->Tree();
    std::vector<pid_t> tree = gw->Tree();
    tree.erase(tree.begin());  // holdgate itself
    return tree;
  };
  const double up0 = RssMiB(upstream_pids());
  const ProcStatus gw0 = ReadProcStatus(gw->pid());
  const size_t children0 = http_upstream ? 0 : upstream_pids().size();
  std::string error;
  std::vector<SessionInfo> opened = OpenSessions(gw->mcp, n, &error);
  if (opened.size() != n) return Json{{"label", label}, {"mode", mode}, {"error", "opening sessions: " + error}};
  // Let the upstreams settle (a child's start-up peak, a GC) before reading: the figure is resident
  // memory per open session, not the start-up peak.
  std::this_thread::sleep_for(std::chrono::milliseconds(o.smoke ? 300 : 2000));
  const double up1 = RssMiB(upstream_pids());
  const ProcStatus gw1 = ReadProcStatus(gw->pid());
  const size_t children1 = http_upstream ? 0 : upstream_pids().size();
  const double k = static_cast<double>(n);
  return Json{{"label", label},
              {"mode", mode},
              {"sessions", n},
              {"upstream_rss_before_mib", up0},
              {"upstream_rss_after_mib", up1},
              {"upstream_mib_per_session", (up1 - up0) / k},
              {"holdgate_mib_per_session", (gw1.rss_mib - gw0.rss_mib) / k},
              {"holdgate_threads_per_session", static_cast<double>(gw1.threads - gw0.threads) / k},
              {"children_before", children0},
              {"children_after", children1}};
}

void ScenarioSessions(const Options& o, size_t sessions, int64_t calls, int rounds, int64_t warmup, size_t memory_sessions) {
  Print("\n## upstream sessions: per_agent against shared (" + std::to_string(sessions) + " sessions, " +
        std::to_string(rounds) + " rounds × " + std::to_string(calls) + " calls per target, " + MachineLine() + ")\n");
  Json pair = PassSessionsPair(o, sessions, calls, rounds, warmup, o.smoke ? "smoke-sessions" : "sessions");
  ReportError("upstream sessions: per_agent against shared", pair);
  if (o.smoke && !pair.contains("error")) {
    Check(pair["a"]["calls_per_s"].get<double>() > 0 && pair["b"]["calls_per_s"].get<double>() > 0,
          "sessions: zero throughput");
    Check(pair["a"]["errors"] == 0 && pair["b"]["errors"] == 0, "sessions: calls failed");
  }

  // Memory per session: n agent sessions opened through holdgate in each mode.
  std::string dir = MakeRunDir(o, o.smoke ? "smoke-sessions-memory" : "sessions-memory");
  Json rows = Json::array();
  auto demo_http = StartDemoHttp(o.paths, dir, "demo-http");
  std::string demo_stdio = o.paths.demo + " --stdio --log-level warn";
  for (const char* mode : {"per_agent", "shared"}) {
    if (demo_http->ok()) rows.push_back(SessionMemory(o, "demo (HTTP)", "", demo_http.get(), mode, memory_sessions, dir));
    rows.push_back(SessionMemory(o, "demo (stdio)", demo_stdio, nullptr, mode, memory_sessions, dir));
  }
  std::unique_ptr<Service> ev_http;
  if (o.everything) {
    ev_http = StartEverythingHttp(o.paths, dir, "everything-http");
    std::string ev_stdio = NodeBinary(o.paths) + " " + o.paths.EverythingJs() + " stdio";
    for (const char* mode : {"per_agent", "shared"}) {
      if (ev_http->ok()) rows.push_back(SessionMemory(o, "everything (HTTP)", "", ev_http.get(), mode, memory_sessions, dir));
      rows.push_back(SessionMemory(o, "everything (stdio)", ev_stdio, nullptr, mode, memory_sessions, dir));
    }
  }
  Table table({"upstream", "mode", "agent sessions", "upstream RSS before MiB", "after MiB", "upstream MiB/session",
               "holdgate MiB/session", "holdgate threads/session", "stdio children before → after"});
  std::string errors;
  for (const Json& r : rows) {
    if (r.contains("error")) {
      errors += "not measured: " + r.value("label", "") + " " + r.value("mode", "") + ": " + r.value("error", "") + "\n";
      Check(false, "sessions memory: " + r.value("label", "") + " " + r.value("mode", "") + ": " + r.value("error", ""));
      continue;
    }
    const bool stdio = r["label"].get<std::string>().find("stdio") != std::string::npos;
    auto mib = [&](const char* key, int decimals) { return Fmt(r[key].get<double>(), decimals); };
    table.Row({r["label"].get<std::string>(), r["mode"].get<std::string>(), std::to_string(r["sessions"].get<size_t>()),
               mib("upstream_rss_before_mib", 1), mib("upstream_rss_after_mib", 1), mib("upstream_mib_per_session", 2),
               mib("holdgate_mib_per_session", 2), mib("holdgate_threads_per_session", 1),
               stdio ? std::to_string(r["children_before"].get<size_t>()) + " → " +
                           std::to_string(r["children_after"].get<size_t>())
                     : "-"});
    if (o.smoke && stdio && r["mode"] == "per_agent") {
      Check(r["children_after"].get<size_t>() == r["children_before"].get<size_t>() + memory_sessions,
            "sessions: per_agent over stdio did not start a child per agent session");
    }
  }
  Print("\n### upstream memory per agent session (" + std::to_string(memory_sessions) +
        " sessions opened through holdgate; RSS read after they settled)\n\n" + table.Markdown() + errors);
  g_results["sessions"] = Json{{"pair", pair}, {"memory", rows}};
}


void ScenarioPassthrough(const Options& o) {
  Print("\n## pass-through (" + std::to_string(o.sessions) + " sessions, " + std::to_string(o.rounds) + " rounds × " +
        std::to_string(o.calls) + " calls per target, " + MachineLine() + ")\n");
  Json all = Json::array();
  Json j = PassHttpDemo(o, o.sessions, o.calls, o.rounds, o.warmup, "pass-http");
  ReportError("pass-through, HTTP upstream", j);
  all.push_back(j);
  if (o.mcp_proxy) {
    j = PassStdioDemo(o, o.sessions, o.calls, o.rounds, o.warmup);
    ReportError("stdio upstream vs mcp-proxy", j);
    all.push_back(j);
  }
  if (o.everything) {
    j = PassEverything(o, o.sessions, o.calls, o.rounds, o.warmup);
    ReportError("server-everything", j);
    all.push_back(j);
  }
  g_results["passthrough"] = all;
}

// ---- holds --------------------------------------------------------------------------------------

struct HoldRun {
  size_t n = 0;
  size_t held = 0;
  size_t failed = 0;
  std::string error;
  double ramp_s = 0;
  ProcStatus before;  // holdgate started, nothing held yet
  ProcStatus status;
  double idle_cpu_pct = 0;
  Percentiles healthz, list_pending;
  Percentiles single, single_api, upstream_direct;
  size_t storm_n = 0;
  size_t storm_bulk = 0;  // approvals per decision request (0: one approve request each)
  double storm_all_ms = 0;
  double storm_api_s = 0;
  Percentiles storm_api, storm_healthz;
  double storm_cpu_s = 0;
  size_t answered = 0;
  std::map<std::string, size_t> outcomes;
  ProcStatus after;
};

// GET on a fresh connection each time, like a reviewer's first request. Returns latency in ns or -1.
int64_t FreshGet(int port, const std::string& path, const std::string& token = "") {
  const int64_t t0 = NowNs();
  httplib::Client cli("127.0.0.1", port);
  cli.set_tcp_nodelay(true);  // as browsers and curl do
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(10, 0);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto res = cli.Get(path.c_str(), h);
  if (!res || res->status != 200) return -1;
  return NowNs() - t0;
}

// Pending approvals → session id → approval id (pages of 500).
std::map<std::string, std::string> PendingBySession(int port, const std::string& token, std::string* error) {
  std::map<std::string, std::string> out;
  httplib::Client cli("127.0.0.1", port);
  cli.set_tcp_nodelay(true);  // as browsers and curl do
  cli.set_read_timeout(60, 0);
  cli.set_keep_alive(true);
  std::string cursor;
  while (true) {
    std::string path = "/api/approvals?state=pending&limit=500" + (cursor.empty() ? "" : "&cursor=" + cli::UrlEncode(cursor));
    auto res = cli.Get(path.c_str(), {{"Authorization", "Bearer " + token}});
    if (!res || res->status != 200) {
      *error = "listing pending approvals failed: " + (res ? std::to_string(res->status) + " " + res->body.substr(0, 200)
                                                           : httplib::to_string(res.error()));
      return out;
    }
    auto page = ParseJson(res->body);
    if (!page.ok()) {
      *error = "listing pending approvals: bad JSON";
      return out;
    }
    for (const auto& a : (*page)["approvals"]) out[a.value("session_id", "")] = a.value("id", "");
    if (!(*page)["next_cursor"].is_string()) break;
    cursor = (*page)["next_cursor"].get<std::string>();
  }
  return out;
}

// Keeps probing GET /healthz on fresh connections until stopped.
class HealthzProber {
 public:
  HealthzProber(int port, int interval_ms) : port_(port), interval_ms_(interval_ms) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        int64_t ns = FreshGet(port_, "/healthz");
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (ns >= 0) samples_.Add(ns);
          else ++errors_;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
      }
    });
  }
  ~HealthzProber() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  Samples samples() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  int port_;
  int interval_ms_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Samples samples_;
  int errors_ = 0;
  std::thread thread_;
};

bool WaitFor(const std::function<bool()>& pred, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

HoldRun RunHolds(const Options& o, size_t n, const std::string& tag, int idle_seconds, int probes, size_t singles) {
  HoldRun r;
  r.n = n;
  std::string dir = MakeRunDir(o, tag);
  auto demo = StartDemoHttp(o.paths, dir, "demo-http");
  if (!demo->ok()) return r.error = demo->error, r;
  std::string url = "http://127.0.0.1:" + std::to_string(demo->mcp.port) + "/mcp";
  auto gw = StartHoldgate(o.paths, dir, "holdgate", "", url, WritePolicy(dir, "10m"), o.log_level, NoPendingCapEnv(o, dir),
                          SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return r.error = gw->error, r;
  PerfRecorder perf(o, gw->pid(), dir + "/holdgate.perf.data");
  const std::string token = testing::MintToken("bench-reviewer", "reviewer", 6 * 3600);
  const int review_port = gw->review_port;
  const pid_t pid = gw->pid();

  // 1. Hold n calls, pacing the connects.
  r.before = ReadProcStatus(pid);
  Loop loop(gw->mcp);
  HoldDriver driver(gw->mcp, n, o.max_inflight, "bench-", o.agent_close);
  const int64_t ramp_start = NowNs();
  std::thread loop_thread([&] { loop.Run(driver, 5, 24LL * 3600 * 1000); });
  auto stop_loop = [&] {
    loop.Stop();
    if (loop_thread.joinable()) loop_thread.join();
  };
  WaitFor([&] { return driver.held() + driver.failed() >= n; }, 60 + static_cast<double>(n) / 50);
  r.held = driver.held();
  r.failed = driver.failed();
  r.ramp_s = static_cast<double>(driver.last_held_ns() - ramp_start) / 1e9;
  if (r.held == 0) {
    r.error = "no call was held: " + driver.first_error();
    stop_loop();
    return r;
  }

  // 2. While held: memory, threads, idle CPU, the reviewer API.
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, idle_seconds * 500)));
  r.status = ReadProcStatus(pid);
  double cpu0 = ProcessCpuSeconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  r.idle_cpu_pct = (ProcessCpuSeconds(pid) - cpu0) / idle_seconds * 100;
  Samples hz, list;
  for (int i = 0; i < probes; ++i) {
    int64_t ns = FreshGet(review_port, "/healthz");
    if (ns >= 0) hz.Add(ns);
  }
  {
    httplib::Client cli("127.0.0.1", review_port);
    cli.set_tcp_nodelay(true);  // as browsers and curl do
    cli.set_keep_alive(true);
    cli.set_read_timeout(30, 0);
    for (int i = 0; i < std::max(10, probes / 4); ++i) {
      int64_t t0 = NowNs();
      auto res = cli.Get("/api/approvals?state=pending&limit=50", {{"Authorization", "Bearer " + token}});
      if (res && res->status == 200) list.Add(NowNs() - t0);
    }
  }
  r.healthz = hz.Summary();
  r.list_pending = list.Summary();

  // 3. Which approval belongs to which agent.
  std::string error;
  auto by_session = PendingBySession(review_port, token, &error);
  std::vector<std::pair<size_t, std::string>> held_agents;  // (agent, approval id)
  for (size_t i = 0; i < n; ++i) {
    auto& a = driver.agent(i);
    if (a.held_ns.load(std::memory_order_acquire) == 0) continue;
    auto it = by_session.find(a.session);
    if (it != by_session.end()) held_agents.emplace_back(i, it->second);
  }
  if (held_agents.size() != r.held && r.error.empty()) {
    r.error = "pending approvals found for " + std::to_string(held_agents.size()) + " of " + std::to_string(r.held) +
              " held agents " + error;
  }

  // 4. One decision at a time → the agent has the result; the upstream's own time alongside.
  SequentialCaller direct(demo->mcp);
  bool have_direct = direct.Open(&error);
  httplib::Client api("127.0.0.1", review_port);
  api.set_tcp_nodelay(true);  // as browsers and curl do
  api.set_keep_alive(true);
  api.set_read_timeout(30, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  Samples single, single_api, upstream;
  const size_t n_single = std::min(singles, held_agents.size() / 2);
  for (size_t k = 0; k < n_single; ++k) {
    auto [agent, id] = held_agents[k];
    const int64_t t0 = NowNs();
    auto res = api.Post(("/api/approvals/" + id + "/approve").c_str(), auth, R"({"reason":"bench"})", "application/json");
    const int64_t t_api = NowNs();
    if (!res || res->status != 200) continue;
    auto& a = driver.agent(agent);
    if (!WaitFor([&] { return a.answered_ns.load(std::memory_order_acquire) != 0; }, 30)) continue;
    single.Add(a.answered_ns.load() - t0);
    single_api.Add(t_api - t0);
    if (have_direct) {
      int64_t ns = direct.Call("cancel_job", R"({"job_id":"direct-)" + std::to_string(k) + "\"}", nullptr);
      if (ns >= 0) upstream.Add(ns);
    }
  }
  r.single = single.Summary();
  r.single_api = single_api.Summary();
  r.upstream_direct = upstream.Summary();

  // 5. Everything else decided at once: approvals fired over keep-alive connections.
  std::vector<std::pair<size_t, std::string>> storm(held_agents.begin() + static_cast<long>(n_single), held_agents.end());
  r.storm_n = storm.size();
  r.storm_bulk = o.storm_bulk;
  if (!storm.empty()) {
    std::atomic<size_t> next{0};
    std::atomic<bool> go{false};
    std::atomic<int64_t> api_done{0};
    std::vector<Samples> api_lat(static_cast<size_t>(o.approvers));
    std::vector<std::thread> threads;
    for (int t = 0; t < o.approvers; ++t) {
      threads.emplace_back([&, t] {
        httplib::Client cli("127.0.0.1", review_port);
        cli.set_tcp_nodelay(true);  // as browsers and curl do
        cli.set_keep_alive(true);
        cli.set_read_timeout(60, 0);
        while (!go.load()) std::this_thread::yield();
        const size_t per_request = o.storm_bulk > 0 ? o.storm_bulk : 1;
        for (size_t k; (k = next.fetch_add(per_request)) < storm.size();) {
          const size_t end = std::min(storm.size(), k + per_request);
          const int64_t t0 = NowNs();
          auto res = [&] {
            if (o.storm_bulk == 0) {
              return cli.Post(("/api/approvals/" + storm[k].second + "/approve").c_str(), auth,
                              R"({"reason":"bench"})", "application/json");
            }
            Json ids = Json::array();
            for (size_t i = k; i < end; ++i) ids.push_back(storm[i].second);
            return cli.Post("/api/approvals/decide", auth,
                            Json{{"approve", true}, {"reason", "bench"}, {"ids", std::move(ids)}}.dump(),
                            "application/json");
          }();
          const int64_t t1 = NowNs();
          if (res && res->status == 200) api_lat[static_cast<size_t>(t)].Add(t1 - t0);
          int64_t prev = api_done.load();
          while (prev < t1 && !api_done.compare_exchange_weak(prev, t1)) {
          }
        }
      });
    }
    HealthzProber prober(review_port, 5);
    const double cpu_before = ProcessCpuSeconds(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t t_first = NowNs();
    go.store(true);
    for (auto& th : threads) th.join();
    auto all_answered = [&] {
      for (auto& [agent, id] : storm) {
        if (driver.agent(agent).answered_ns.load(std::memory_order_acquire) == 0) return false;
      }
      return true;
    };
    WaitFor(all_answered, 120);
    prober.Stop();
    r.storm_cpu_s = ProcessCpuSeconds(pid) - cpu_before;
    int64_t t_last = 0;
    for (auto& [agent, id] : storm) t_last = std::max(t_last, driver.agent(agent).answered_ns.load());
    r.storm_all_ms = static_cast<double>(t_last - t_first) / 1e6;
    r.storm_api_s = static_cast<double>(api_done.load() - t_first) / 1e9;
    Samples merged;
    for (auto& s : api_lat) merged.Append(s);
    r.storm_api = merged.Summary();
    r.storm_healthz = prober.samples().Summary();
  }

  // 6. What the agents got.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  r.answered = driver.answered();
  for (size_t i = 0; i < n; ++i) {
    int oc = driver.agent(i).outcome.load();
    if (oc >= 0) ++r.outcomes[OutcomeName(static_cast<Outcome>(oc))];
  }
  r.after = ReadProcStatus(pid);
  if (r.error.empty() && r.failed) r.error = std::to_string(r.failed) + " agents failed; first: " + driver.first_error();
  stop_loop();
  return r;
}

std::string Verdict(bool met) { return met ? "met" : "NOT met"; }

Json HoldRunJson(const HoldRun& r) {
  auto pj = [](const Percentiles& p) {
    return Json{{"count", p.count}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"p999_ms", p.p999_ms}, {"max_ms", p.max_ms}};
  };
  return Json{{"n", r.n},
              {"held", r.held},
              {"failed", r.failed},
              {"error", r.error},
              {"ramp_s", r.ramp_s},
              {"rss_mib", r.status.rss_mib},
              {"rss_mib_before", r.before.rss_mib},
              {"threads", r.status.threads},
              {"vm_mib", r.status.vm_mib},
              {"idle_cpu_pct_of_core", r.idle_cpu_pct},
              {"healthz", pj(r.healthz)},
              {"list_pending", pj(r.list_pending)},
              {"single_decision", pj(r.single)},
              {"single_approve_api", pj(r.single_api)},
              {"upstream_direct", pj(r.upstream_direct)},
              {"storm_n", r.storm_n},
              {"storm_bulk", r.storm_bulk},
              {"storm_all_answered_ms", r.storm_all_ms},
              {"storm_approve_api_s", r.storm_api_s},
              {"storm_approvals_per_s", r.storm_api_s > 0 ? static_cast<double>(r.storm_n) / r.storm_api_s : 0},
              {"storm_api", pj(r.storm_api)},
              {"storm_healthz", pj(r.storm_healthz)},
              {"storm_cpu_s", r.storm_cpu_s},
              {"answered", r.answered},
              {"outcomes", r.outcomes},
              {"rss_after_mib", r.after.rss_mib},
              {"threads_after", r.after.threads}};
}

void PrintHoldRun(const HoldRun& r) {
  auto pp = [](const Percentiles& p) { return Sig(p.p50_ms) + " / " + Sig(p.p99_ms) + " / " + Sig(p.max_ms); };
  Table t({"figure", "value", "target", ""});
  t.Row({"calls held (paced ≤ connects in flight)", std::to_string(r.held) + " of " + std::to_string(r.n) + " in " +
                                                        Fmt(r.ramp_s, 1) + " s (" + Fmt(r.held / std::max(r.ramp_s, 1e-9), 0) + "/s)",
         "all", Verdict(r.held == r.n)});
  t.Row({"holdgate RSS while held", Fmt(r.status.rss_mib, 1) + " MiB", r.n >= 10000 ? "≤ 300 MiB" : "",
         r.n >= 10000 ? Verdict(r.status.rss_mib <= 300) : ""});
  const double kib_per_call = (r.status.rss_mib - r.before.rss_mib) * 1024 / std::max<double>(1, static_cast<double>(r.held));
  t.Row({"holdgate memory per held call (RSS held − RSS before, / held)", Fmt(kib_per_call, 1) + " KiB",
         r.n >= 10000 ? "≤ 30 KiB" : "", r.n >= 10000 ? Verdict(kib_per_call <= 30) : ""});
  t.Row({"holdgate threads / VmSize", std::to_string(r.status.threads) + " / " + Fmt(r.status.vm_mib / 1024, 2) + " GiB", "", ""});
  t.Row({"holdgate CPU while held (idle)", Fmt(r.idle_cpu_pct, 1) + " % of one core", "", ""});
  t.Row({"reviewer GET /healthz, new connection each: p50 / p99 / max ms", pp(r.healthz), "p99 ≤ 5 ms",
         Verdict(r.healthz.p99_ms <= 5)});
  t.Row({"reviewer GET /api/approvals?state=pending (50): p50 / p99 / max ms", pp(r.list_pending), "", ""});
  t.Row({"one approve → agent has the result: p50 / p99 / max ms (" + std::to_string(r.single.count) + " decisions)",
         pp(r.single), "", ""});
  t.Row({"  of which the approve API call: p50 / p99 / max ms", pp(r.single_api), "", ""});
  t.Row({"  the upstream's own time (cancel_job straight to the demo)", pp(r.upstream_direct), "", ""});
  const double beyond50 = r.single.p50_ms - r.upstream_direct.p50_ms;
  const double beyond99 = r.single.p99_ms - r.upstream_direct.p50_ms;
  t.Row({"  beyond the upstream's time (p50 / p99 − upstream p50)", Sig(beyond50) + " / " + Sig(beyond99) + " ms",
         "p99 ≤ 5 ms", Verdict(beyond99 <= 5)});
  if (r.storm_n) {
    t.Row({std::to_string(r.storm_n) + " decided at once: first approve → last agent answered",
           Fmt(r.storm_all_ms, 0) + " ms", r.n >= 10000 ? "≤ 500 ms" : "",
           r.n >= 10000 ? Verdict(r.storm_all_ms <= 500) : ""});
    t.Row({"  approve API: " + std::to_string(r.storm_n) + " approvals over keep-alive connections" +
               (r.storm_bulk > 0 ? ", " + std::to_string(r.storm_bulk) + " per bulk request" : ", one request each"),
           Fmt(r.storm_api_s * 1000, 0) + " ms (" + Fmt(r.storm_n / std::max(r.storm_api_s, 1e-9), 0) + " approvals/s)", "", ""});
    t.Row({"  approve API latency during the storm: p50 / p99 / max ms", pp(r.storm_api), "", ""});
    t.Row({"  reviewer /healthz during the storm: p50 / p99 / max ms", pp(r.storm_healthz), "", ""});
    t.Row({"  holdgate CPU during the storm", Fmt(r.storm_cpu_s, 2) + " s", "", ""});
  }
  std::string outcomes;
  for (auto& [k, v] : r.outcomes) outcomes += (outcomes.empty() ? "" : ", ") + std::to_string(v) + " " + k;
  t.Row({"agents answered", std::to_string(r.answered) + " (" + outcomes + ")", "all", Verdict(r.answered == r.held)});
  t.Row({"holdgate after: RSS / threads", Fmt(r.after.rss_mib, 1) + " MiB / " + std::to_string(r.after.threads), "", ""});
  std::string out = "\n### " + std::to_string(r.n) + " held calls over HTTP (holdgate → demo upstream over HTTP)\n\n" +
                    t.Markdown();
  if (!r.error.empty()) out += "problems: " + r.error + "\n";
  Print(out);
}

// (c) Creations through the gateway: cancel_job held with a 1 ms hold limit and no progress token,
// so each call creates a pending approval and is answered with a deferral at the next tick.
Json GatewayCreations(const Options& o, size_t sessions, int64_t calls) {
  std::string dir = MakeRunDir(o, "create-gateway");
  auto demo = StartDemoHttp(o.paths, dir, "demo-http");
  if (!demo->ok()) return Json{{"error", demo->error}};
  std::string url = "http://127.0.0.1:" + std::to_string(demo->mcp.port) + "/mcp";
  auto gw = StartHoldgate(o.paths, dir, "holdgate", "", url, WritePolicy(dir, "1ms"), o.log_level, NoPendingCapEnv(o, dir),
                          SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return Json{{"error", gw->error}};
  CallSpec spec{"cancel_job", [](uint64_t seq) { return R"({"job_id":"create-)" + std::to_string(seq) + "\"}"; },
                Outcome::kNotExecuted};
  Target t{"holdgate: held call → deferred", gw->mcp, {gw.get()}, spec};
  std::string error;
  t.sessions = OpenSessions(t.ep, sessions, &error);
  if (t.sessions.size() != sessions) return Json{{"error", "opening sessions: " + error}};
  if (!RunRound(t, calls, true)) return Json{{"error", t.first_error}};
  Percentiles p = t.latencies.Summary();
  Table table({"path", "sessions", "approvals", "approvals/s", "p50 ms", "p99 ms", "RSS MiB", "CPU µs/approval", "target"});
  table.Row({t.label, std::to_string(sessions), std::to_string(t.calls), Fmt(t.rate(), 0), Sig(p.p50_ms), Sig(p.p99_ms),
             Fmt(t.rss, 1), Fmt(t.cpu / std::max<double>(1, static_cast<double>(t.calls)) * 1e6, 0),
             "≥ 2,000/s " + Verdict(t.rate() >= 2000)});
  std::string out = "\n### (c) approval creations through the gateway\n\n" + table.Markdown() +
                    "each call: policy → pending approval written (one SQLite transaction with its audit event) → held "
                    "until the 1 ms hold limit → deferral at the hold sweeper's next 250 ms pass. Ceiling from the tick alone: " +
                    Fmt(static_cast<double>(sessions) / 0.25, 0) + "/s at " + std::to_string(sessions) + " sessions.\n";
  if (t.errors) out += "errors: " + std::to_string(t.errors) + " (first: " + t.first_error + ")\n";
  Print(out);
  Json j = TargetJson(t);
  j["sessions"] = sessions;
  return j;
}

// (c) Creations straight into store::Store, in-process: the durable part alone.
Json StoreCreations(const Options& o, int n) {
  std::string dir = MakeRunDir(o, "create-store");
  Table table({"threads", "approvals", "approvals/s", "p50 ms", "p99 ms", "target"});
  Json out = Json::array();
  for (int threads : {1, 4, 16}) {
    auto opened = store::Store::Open(dir + "/store-" + std::to_string(threads) + ".db", SystemClock::Instance());
    if (!opened.ok()) return Json{{"error", opened.status().ToString()}};
    auto& st = opened.value();
    st->AddListener([](const store::ChangeEvent&) {});  // the hold coordinator's listener in production
    std::vector<Samples> lat(static_cast<size_t>(threads));
    std::atomic<int> failures{0};
    const int64_t t0 = NowNs();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < n; i += threads) {
          store::NewApproval a;
          a.principal = "agent-" + std::to_string(i % 50);
          a.session_id = "session-" + std::to_string(i % 500);
          a.tool = "cancel_job";
          a.arguments = Json{{"job_id", "job-" + std::to_string(i)}, {"delete", i % 2 == 0}};
          a.rule = "tools.cancel_job";
          a.risk = Json{{"category", "Destructive"}, {"level", "critical"}};
          a.timeout_ms = 3'600'000;
          a.outbox.push_back(store::NewOutboxRow{"approval.created", "webhook:ops", Json{{"job_id", i}}, 0});
          const int64_t s = NowNs();
          if (!st->CreatePending(a).ok()) failures.fetch_add(1);
          lat[static_cast<size_t>(t)].Add(NowNs() - s);
        }
      });
    }
    for (auto& w : workers) w.join();
    const double secs = static_cast<double>(NowNs() - t0) / 1e9;
    Samples all;
    for (auto& s : lat) all.Append(s);
    Percentiles p = all.Summary();
    const double rate = n / secs;
    table.Row({std::to_string(threads), std::to_string(n), Fmt(rate, 0), Sig(p.p50_ms), Sig(p.p99_ms),
               "≥ 2,000/s " + Verdict(rate >= 2000)});
    out.push_back(Json{{"threads", threads}, {"n", n}, {"per_s", rate}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms},
                       {"failures", failures.load()}});
    Check(failures.load() == 0 && rate > 0, "store creations with " + std::to_string(threads) + " threads");
  }
  Print("\n### (c) durable approval creations in-process (store::Store::CreatePending: approval + audit event + "
        "outbox row, one BEGIN IMMEDIATE transaction, WAL, synchronous=NORMAL, on " + dir + ")\n\n" + table.Markdown());
  return out;
}

// ---- replicas: SQLite beside PostgreSQL, one and three replicas ------------------------------------

// A fresh database on the PostgreSQL server HOLDGATE_BENCH_PG_URL names (scripts/bench.sh starts a
// throwaway one), or "" with *error set.
std::string FreshPgDatabase(const std::string& tag, std::string* error) {
  const char* server = std::getenv("HOLDGATE_BENCH_PG_URL");
  if (server == nullptr || *server == '\0') {
    *error = "HOLDGATE_BENCH_PG_URL is not set (scripts/bench.sh starts a throwaway PostgreSQL)";
    return "";
  }
  const std::string name = "hg_bench_" + tag + "_" + std::to_string(NowNs() % 1000000000);
  try {
    pqxx::connection c(server);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + name);
  } catch (const std::exception& e) {
    *error = std::string("creating a database: ") + e.what();
    return "";
  }
  return testing::PgUrlWithDatabase(server, name);
}

// `n` creations over `threads` threads spread across `stores` (as replicas), in-process.
Json StoreCreationsAcross(std::vector<std::unique_ptr<store::Store>>& stores, int threads, int n) {
  std::atomic<int> failures{0};
  std::vector<Samples> lat(static_cast<size_t>(threads));
  const int64_t t0 = NowNs();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      store::Store& st = *stores[static_cast<size_t>(t) % stores.size()];
      for (int i = t; i < n; i += threads) {
        store::NewApproval a;
        a.principal = "agent-" + std::to_string(i % 50);
        a.tool = "cancel_job";
        a.arguments = Json{{"job_id", "job-" + std::to_string(i)}};
        a.rule = "tools.cancel_job";
        a.timeout_ms = 3'600'000;
        a.outbox.push_back(store::NewOutboxRow{"approval.created", "webhook:ops", Json{{"job_id", i}}, 0});
        const int64_t s = NowNs();
        if (!st.CreatePending(a).ok()) failures.fetch_add(1);
        lat[static_cast<size_t>(t)].Add(NowNs() - s);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double secs = static_cast<double>(NowNs() - t0) / 1e9;
  Samples all;
  for (auto& s : lat) all.Append(s);
  Percentiles p = all.Summary();
  return Json{{"n", n}, {"threads", threads}, {"per_s", n / secs}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms},
              {"failures", failures.load()}};
}

struct ReplicaSetup {
  std::string label;
  bool pg = false;
  int replicas = 1;
};

// One setup: in-process durable creations, then holdgate processes (behind HAProxy when several):
// allowed pass-through calls and held calls that create approvals (deferred after 1 ms).
Json RunReplicaSetup(const Options& o, const ReplicaSetup& setup, int store_n, int64_t pass_calls,
                     int64_t create_calls, size_t sessions) {
  Json out{{"label", setup.label}, {"replicas", setup.replicas}, {"backend", setup.pg ? "postgresql" : "sqlite"}};
  std::string dir = MakeRunDir(o, "replicas-" + std::string(setup.pg ? "pg" : "sqlite") + "-" +
                                      std::to_string(setup.replicas));
  std::string error;
  auto db_for = [&](const std::string& tag) -> std::string {
    return setup.pg ? FreshPgDatabase(tag, &error) : dir + "/" + tag + ".db";
  };
  // (1) in-process: the store alone, `replicas` Store objects on one database.
  {
    const std::string db = db_for("store");
    if (db.empty()) return Json{{"error", error}};
    std::vector<std::unique_ptr<store::Store>> stores;
    for (int i = 0; i < setup.replicas; ++i) {
      auto opened = store::Store::Open(db, SystemClock::Instance());
      if (!opened.ok()) return Json{{"error", opened.status().ToString()}};
      stores.push_back(std::move(opened).value());
    }
    out["store"] = StoreCreationsAcross(stores, 8, store_n);
  }
  // (2) through the gateway.
  auto demo = StartDemoHttp(o.paths, dir, "demo-http");
  if (!demo->ok()) return Json{{"error", demo->error}};
  const std::string upstream = "http://127.0.0.1:" + std::to_string(demo->mcp.port) + "/mcp";
  const std::string db = db_for("gateway");
  if (db.empty()) return Json{{"error", error}};
  const std::string policy = WritePolicy(dir, "1ms");
  // No pending cap: every deferred approval stays pending, and the default cap (100 per
  // principal) would turn the creation run into a run of refusals.
  WriteText(dir + "/config.json", R"({"approval": {"max_pending_per_principal": 0}})");
  std::vector<std::string> env = o.holdgate_env;
  env.push_back("HOLDGATE_CONFIG=" + dir + "/config.json");
  std::vector<std::unique_ptr<Service>> gws;
  std::vector<testing::ReplicaPorts> ports;
  for (int i = 0; i < setup.replicas; ++i) {
    gws.push_back(StartHoldgate(o.paths, dir, "holdgate-" + std::to_string(i), "", upstream, policy, o.log_level, env,
                                {}, db));
    if (!gws.back()->ok()) return Json{{"error", gws.back()->error}};
    ports.push_back({gws.back()->mcp.port, gws.back()->review_port});
  }
  Endpoint front = gws[0]->mcp;
  std::unique_ptr<testing::ChildProcess> lb;
  if (setup.replicas > 1) {
    const std::string haproxy = testing::FindOnPath("haproxy").empty() ? "/usr/sbin/haproxy" : testing::FindOnPath("haproxy");
    const int mcp_port = testing::FreeLoopbackPort(), review_port = testing::FreeLoopbackPort();
    WriteText(dir + "/haproxy.cfg", testing::HaproxyConfig(ports, mcp_port, review_port));
    lb = std::make_unique<testing::ChildProcess>(std::vector<std::string>{haproxy, "-db", "-f", dir + "/haproxy.cfg"},
                                                 dir + "/haproxy.log");
    front.port = mcp_port;
    // Until every replica passed its health check (rise 2 × 300 ms) the spread is uneven.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }
  std::vector<const Service*> procs;
  for (auto& g : gws) procs.push_back(g.get());
  for (auto [key, spec, calls] : {std::tuple<const char*, CallSpec, int64_t>{"passthrough", ListJobs(), pass_calls},
                                  std::tuple<const char*, CallSpec, int64_t>{
                                      "creations",
                                      CallSpec{"cancel_job",
                                               [](uint64_t seq) {
                                                 return R"({"job_id":"rep-)" + std::to_string(seq) + "\"}";
                                               },
                                               Outcome::kNotExecuted},
                                      create_calls}}) {
    Target t{setup.label, front, procs, spec};
    std::string err;
    t.sessions = OpenSessions(t.ep, sessions, &err);
    if (t.sessions.size() != sessions) return Json{{"error", std::string(key) + ": opening sessions: " + err}};
    if (!RunRound(t, std::min<int64_t>(calls / 10 + 1, 500), false) || !RunRound(t, calls, true)) {
      return Json{{"error", std::string(key) + ": " + t.first_error}};
    }
    out[key] = TargetJson(t);
  }
  if (lb) lb->Stop(SIGTERM);
  return out;
}

void ScenarioReplicas(const Options& o, bool smoke) {
  Print("\n## replicas: SQLite beside PostgreSQL, one and three replicas (" + MachineLine() + ")\n");
  const std::vector<ReplicaSetup> setups = {
      {"SQLite, 1 replica", false, 1}, {"PostgreSQL, 1 replica", true, 1}, {"PostgreSQL, 3 replicas + HAProxy", true, 3}};
  Table table({"setup", "durable approvals/s (in-process, 8 threads)", "p99 ms",
               "approvals/s through the gateway", "pass-through calls/s", "pass-through p50 / p99 ms", "errors"});
  Json all = Json::array();
  for (const ReplicaSetup& s : setups) {
    Json r = smoke ? RunReplicaSetup(o, s, 200, 200, 40, 8) : RunReplicaSetup(o, s, 4000, 20000, 4000, 64);
    ReportError("replicas: " + s.label, r);
    all.push_back(r);
    if (r.contains("error")) continue;
    const int64_t errors = r["passthrough"]["errors"].get<int64_t>() + r["creations"]["errors"].get<int64_t>() +
                           r["store"]["failures"].get<int64_t>();
    table.Row({s.label, Fmt(r["store"]["per_s"].get<double>(), 0), Sig(r["store"]["p99_ms"].get<double>()),
               Fmt(r["creations"]["calls_per_s"].get<double>(), 0), Fmt(r["passthrough"]["calls_per_s"].get<double>(), 0),
               Sig(r["passthrough"]["p50_ms"].get<double>()) + " / " + Sig(r["passthrough"]["p99_ms"].get<double>()),
               std::to_string(errors)});
    Check(errors == 0 && r["store"]["per_s"].get<double>() > 0 && r["passthrough"]["calls_per_s"].get<double>() > 0 &&
              r["creations"]["calls_per_s"].get<double>() > 0,
          "replicas: " + s.label + ": errors or zero throughput");
  }
  Print("\n" + table.Markdown() +
        "durable approval: approval row + audit event + outbox row in one transaction (SQLite: BEGIN IMMEDIATE, WAL, "
        "group commit; PostgreSQL: one transaction under the audit-chain advisory lock, synchronous_commit on). "
        "Through the gateway: a held cancel_job deferred after its 1 ms hold (bounded by the 250 ms hold sweep per "
        "session). Pass-through: an allowed list_jobs, holdgate → demo upstream over HTTP; three replicas behind HAProxy "
        "(round robin, sessions sticky). The PostgreSQL server runs on the same machine.\n");
  g_results["replicas"] = all;
}

void ScenarioHolds(const Options& o) {
  Print("\n## holds (" + MachineLine() + ")\n");
  HoldRun r = RunHolds(o, o.holds, "holds-" + std::to_string(o.holds), o.idle_seconds, o.healthz_probes, o.singles);
  PrintHoldRun(r);
  Json j = HoldRunJson(r);
  Check(r.error.empty(), "holds: " + r.error);
  Check(r.held == o.holds && r.answered == r.held && r.single.count > 0 && r.status.rss_mib > 0,
        "holds: held/answered/RSS not sane");
  g_results["holds"] = j;
  g_results["create_gateway"] = GatewayCreations(o, o.create_sessions, o.create_calls);
  ReportError("approval creations through the gateway", g_results["create_gateway"]);
  g_results["create_store"] = StoreCreations(o, o.store_creations);
  ReportError("approval creations in the store", g_results["create_store"]);
}

// ---- task holds (MCP 2026-07-28, tasks extension) -------------------------------------------------

// One 2026-07-28 request over HTTP: the _meta envelope (protocol version, client info and
// capabilities declaring io.modelcontextprotocol/tasks) and the standard headers. No session and no
// initialize: every request stands alone.
std::string Request2026(const std::string& id, const std::string& method, const Json& params) {
  Json p = params;
  p["_meta"] = Json{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                    {"io.modelcontextprotocol/clientInfo", Json{{"name", "holdgate-bench"}, {"version", "1"}}},
                    {"io.modelcontextprotocol/clientCapabilities",
                     Json{{"extensions", Json{{"io.modelcontextprotocol/tasks", Json::object()}}}}}};
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", p}}.dump();
}

httplib::Headers Headers2026(const std::string& method, const std::string& name) {
  return {{"Accept", "application/json, text/event-stream"}, {"MCP-Protocol-Version", "2026-07-28"},
          {"Mcp-Method", method}, {"Mcp-Name", name}};
}

// The JSON-RPC response in an HTTP body (plain JSON, or the one `data:` line of an SSE answer).
Json Response2026(const std::string& body) {
  std::string_view text = body;
  if (size_t at = text.find("data: "); at != std::string_view::npos && text.find('{') > at) {
    text.remove_prefix(at + 6);
    text = text.substr(0, text.find('\n'));
  }
  auto parsed = ParseJson(std::string(text));
  return parsed.ok() ? *parsed : Json();
}

struct TaskCheckpoint {
  size_t holds = 0;
  double create_s = 0;      // creating the holds since the previous checkpoint
  size_t created = 0;       // since the previous checkpoint
  ProcStatus status;
  double db_mib = 0;        // the SQLite file and its WAL
  Percentiles get;          // tasks/get on random task ids, keep-alive
  Percentiles create;       // tools/call → task, keep-alive, `threads` in parallel
  double get_cpu_us = 0;    // holdgate CPU per tasks/get
  double idle_cpu_pct = 0;  // holdgate CPU while nothing happens, % of one core
};

// Opens task holds up to each of `checkpoints` (cumulative, in one holdgate) and measures, at each:
// holdgate's RSS and threads, the database's size on disk, and tasks/get latency. A task hold keeps
// no connection and no thread: its state is the approval row.
Json RunTaskHolds(const Options& o, const std::vector<size_t>& checkpoints, size_t gets, int idle_ms, const std::string& tag) {
  std::string dir = MakeRunDir(o, tag);
  auto demo = StartDemoHttp(o.paths, dir, "demo-http");
  if (!demo->ok()) return Json{{"error", demo->error}};
  std::string url = "http://127.0.0.1:" + std::to_string(demo->mcp.port) + "/mcp";
  auto gw = StartHoldgate(o.paths, dir, "holdgate", "", url, WritePolicy(dir, "10m"), o.log_level, NoPendingCapEnv(o, dir),
                          SplitWords(o.holdgate_prefix));
  if (!gw->ok()) return Json{{"error", gw->error}};
  const pid_t pid = gw->pid();
  const int port = gw->mcp.port;
  const std::string path = gw->mcp.path;
  const std::string db = dir + "/holdgate.db";
  auto db_mib = [&] {
    double bytes = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      auto n = std::filesystem::file_size(db + suffix, ec);
      if (!ec) bytes += static_cast<double>(n);
    }
    return bytes / (1024.0 * 1024.0);
  };
  // One allowed 2026 call first, so the baseline includes the upstream connection and the code paths.
  std::string first_error;
  {
    httplib::Client cli("127.0.0.1", port);
    auto res = cli.Post(path.c_str(), Headers2026("tools/call", "list_jobs"),
                        Request2026("warm", "tools/call", Json{{"name", "list_jobs"}, {"arguments", Json::object()}}),
                        "application/json");
    if (!res || res->status != 200) return Json{{"error", "a 2026-07-28 tools/call failed: " + (res ? res->body.substr(0, 200) : httplib::to_string(res.error()))}};
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const ProcStatus base = ReadProcStatus(pid);
  const double base_db = db_mib();

  constexpr int kThreads = 8;
  std::vector<std::string> task_ids;
  std::mutex mu;
  std::atomic<size_t> failures{0};
  Json out = Json{{"baseline_rss_mib", base.rss_mib}, {"baseline_threads", base.threads}, {"baseline_db_mib", base_db},
                  {"checkpoints", Json::array()}};
  size_t made = 0;
  for (size_t target : checkpoints) {
    if (target <= made) continue;
    TaskCheckpoint c;
    std::atomic<size_t> next{made};
    std::vector<Samples> lat(kThreads);
    const int64_t t0 = NowNs();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        httplib::Client cli("127.0.0.1", port);
        cli.set_tcp_nodelay(true);
        cli.set_keep_alive(true);
        cli.set_read_timeout(60, 0);
        std::vector<std::string> mine;
        for (size_t k; (k = next.fetch_add(1)) < target;) {
          const std::string id = "c" + std::to_string(k);
          Json params{{"name", "cancel_job"}, {"arguments", Json{{"job_id", "task-" + std::to_string(k)}}}};
          const int64_t s0 = NowNs();
          auto res = cli.Post(path.c_str(), Headers2026("tools/call", "cancel_job"), Request2026(id, "tools/call", params),
                              "application/json");
          const int64_t s1 = NowNs();
          Json r = res && res->status == 200 ? Response2026(res->body) : Json();
          const Json* result = r.is_object() && r.contains("result") ? &r["result"] : nullptr;
          if (!result || result->value("resultType", "") != "task" || !(*result)["taskId"].is_string()) {
            if (failures.fetch_add(1) == 0) {
              std::lock_guard<std::mutex> lock(mu);
              first_error = res ? std::to_string(res->status) + " " + res->body.substr(0, 300) : httplib::to_string(res.error());
            }
            continue;
          }
          lat[static_cast<size_t>(t)].Add(s1 - s0);
          mine.push_back((*result)["taskId"].get<std::string>());
        }
        std::lock_guard<std::mutex> lock(mu);
        task_ids.insert(task_ids.end(), mine.begin(), mine.end());
      });
    }
    for (auto& th : threads) th.join();
    c.create_s = static_cast<double>(NowNs() - t0) / 1e9;
    c.created = target - made;
    made = target;
    c.holds = task_ids.size();
    Samples create;
    for (auto& l : lat) create.Append(l);
    c.create = create.Summary();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    c.status = ReadProcStatus(pid);
    c.db_mib = db_mib();
    // Idle CPU while the holds are open (the hold sweep's passes; nobody polls).
    const double idle0 = ProcessCpuSeconds(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
    c.idle_cpu_pct = (ProcessCpuSeconds(pid) - idle0) / (static_cast<double>(idle_ms) / 1000) * 100;
    // tasks/get: one keep-alive agent polling random tasks.
    Samples get;
    if (!task_ids.empty()) {
      httplib::Client cli("127.0.0.1", port);
      cli.set_tcp_nodelay(true);
      cli.set_keep_alive(true);
      cli.set_read_timeout(30, 0);
      uint64_t x = 88172645463325252ULL;
      const double cpu0 = ProcessCpuSeconds(pid);
      size_t bad = 0;
      for (size_t i = 0; i < gets; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const std::string& task = task_ids[x % task_ids.size()];
        const int64_t s0 = NowNs();
        auto res = cli.Post(path.c_str(), Headers2026("tasks/get", task),
                            Request2026("g" + std::to_string(i), "tasks/get", Json{{"taskId", task}}), "application/json");
        const int64_t s1 = NowNs();
        Json r = res && res->status == 200 ? Response2026(res->body) : Json();
        if (r.is_object() && r.contains("result") && r["result"].value("status", "") == "working") get.Add(s1 - s0);
        else if (bad++ == 0 && first_error.empty()) first_error = "tasks/get: " + (res ? res->body.substr(0, 300) : httplib::to_string(res.error()));
      }
      c.get_cpu_us = (ProcessCpuSeconds(pid) - cpu0) / static_cast<double>(std::max<size_t>(1, gets)) * 1e6;
    }
    c.get = get.Summary();
    const double holds = static_cast<double>(std::max<size_t>(1, c.holds));
    out["checkpoints"].push_back(Json{
        {"holds", c.holds}, {"created", c.created}, {"create_s", c.create_s},
        {"creates_per_s", static_cast<double>(c.created) / std::max(c.create_s, 1e-9)},
        {"create_p50_ms", c.create.p50_ms}, {"create_p99_ms", c.create.p99_ms},
        {"rss_mib", c.status.rss_mib}, {"threads", c.status.threads},
        {"rss_kib_per_hold", (c.status.rss_mib - base.rss_mib) * 1024 / holds},
        {"db_mib", c.db_mib}, {"db_kib_per_hold", (c.db_mib - base_db) * 1024 / holds},
        {"get_count", c.get.count}, {"get_p50_ms", c.get.p50_ms}, {"get_p99_ms", c.get.p99_ms}, {"get_max_ms", c.get.max_ms},
        {"get_cpu_us", c.get_cpu_us}, {"idle_cpu_pct_of_core", c.idle_cpu_pct}});
  }
  out["failures"] = failures.load();
  if (!first_error.empty()) out["first_error"] = first_error;
  return out;
}

void PrintTaskHolds(const Json& j) {
  if (j.contains("error")) {
    Print("\ntask holds: not measured: " + j["error"].get<std::string>() + "\n");
    return;
  }
  Table t({"open task holds", "holdgate RSS MiB (KiB per hold)", "threads", "idle CPU % core", "database MiB (KiB per hold)",
           "tools/call → task: per s, p50 / p99 ms", "tasks/get p50 / p99 / max ms", "CPU µs per tasks/get"});
  for (const auto& c : j["checkpoints"]) {
    t.Row({std::to_string(c["holds"].get<size_t>()),
           Fmt(c["rss_mib"], 1) + " (" + Fmt(c["rss_kib_per_hold"], 2) + ")", std::to_string(c["threads"].get<long>()),
           Fmt(c["idle_cpu_pct_of_core"], 1),
           Fmt(c["db_mib"], 1) + " (" + Fmt(c["db_kib_per_hold"], 2) + ")",
           Fmt(c["creates_per_s"], 0) + ", " + Sig(c["create_p50_ms"]) + " / " + Sig(c["create_p99_ms"]),
           Sig(c["get_p50_ms"]) + " / " + Sig(c["get_p99_ms"]) + " / " + Sig(c["get_max_ms"]), Fmt(c["get_cpu_us"], 0)});
  }
  std::string out = "\n### task holds (MCP 2026-07-28 agents declaring io.modelcontextprotocol/tasks)\n\n" + t.Markdown() +
                    "Each hold: a raw 2026-07-28 tools/call (the _meta envelope, no session) of a held tool, answered at "
                    "once with a working task; 8 keep-alive connections create them. The agent keeps no connection open. "
                    "Baseline before any hold: " + Fmt(j["baseline_rss_mib"], 1) + " MiB RSS, " +
                    std::to_string(j["baseline_threads"].get<long>()) + " threads, database " + Fmt(j["baseline_db_mib"], 1) +
                    " MiB. tasks/get: one keep-alive agent polling random open tasks (each answered from the approval row).\n";
  if (j.value("failures", size_t{0}) > 0) out += "failures: " + std::to_string(j["failures"].get<size_t>()) + "\n";
  if (j.contains("first_error")) out += "first error: " + j["first_error"].get<std::string>() + "\n";
  Print(out);
}

void ScenarioTasks(const Options& o, bool smoke) {
  Print("\n## tasks (" + MachineLine() + ")\n");
  const std::vector<size_t> points = smoke ? std::vector<size_t>{20} : o.task_holds;
  Json j = RunTaskHolds(o, points, smoke ? 20 : o.task_gets, smoke ? 300 : 3000, smoke ? "smoke-tasks" : "tasks");
  PrintTaskHolds(j);
  if (j.contains("error")) {
    Check(false, "tasks: " + j["error"].get<std::string>());
  } else {
    const Json& last = j["checkpoints"].back();
    Check(j["failures"] == 0 && last["holds"].get<size_t>() == points.back(), "tasks: not every call became a task");
    Check(last["get_count"].get<size_t>() > 0 && last["get_p50_ms"].get<double>() > 0, "tasks: no tasks/get samples");
    Check(last["rss_mib"].get<double>() > 0, "tasks: no RSS from /proc");
  }
  g_results["tasks"] = j;
}

// ---- growth ---------------------------------------------------------------------------------------

void ScenarioGrowth(const Options& o, const HoldRun* big) {
  Print("\n## growth (" + MachineLine() + ")\n");
  // Pass-through at increasing session counts.
  Table pt({"sessions", "holdgate calls/s", "direct calls/s", "ratio", "holdgate p50 / p99 ms", "direct p50 / p99 ms",
            "added p50 ms", "holdgate RSS MiB"});
  Series hg_rate{"holdgate → demo", {}}, direct_rate{"demo direct", {}};
  Series hg_p99{"holdgate p99", {}}, direct_p99{"direct p99", {}};
  Json pass = Json::array();
  for (size_t s : o.growth_sessions) {
    const int64_t calls = std::clamp<int64_t>(o.growth_calls * static_cast<int64_t>(s), 2000, 20000);
    Json j = PassHttpDemo(o, s, calls, o.growth_rounds, calls / 10, "growth-pass-" + std::to_string(s));
    if (j.contains("error")) {
      ReportError("growth, " + std::to_string(s) + " sessions", j);
      continue;
    }
    pass.push_back(j);
    const Json &a = j["a"], &b = j["b"];
    pt.Row({std::to_string(s), Fmt(a["calls_per_s"], 0), Fmt(b["calls_per_s"], 0), Fmt(j["throughput_ratio"], 2),
            Sig(a["p50_ms"]) + " / " + Sig(a["p99_ms"]), Sig(b["p50_ms"]) + " / " + Sig(b["p99_ms"]),
            Fmt(j["added_p50_ms"], 3), Fmt(a["rss_mib"], 1)});
    const double x = static_cast<double>(s);
    hg_rate.points.emplace_back(x, a["calls_per_s"].get<double>());
    direct_rate.points.emplace_back(x, b["calls_per_s"].get<double>());
    hg_p99.points.emplace_back(x, a["p99_ms"].get<double>());
    direct_p99.points.emplace_back(x, b["p99_ms"].get<double>());
  }
  // Holds at increasing counts.
  Table ht({"held calls", "RSS MiB", "threads", "idle CPU % core", "/healthz p99 ms", "list pending p99 ms",
            "approve→answer p50 / p99 ms", "decide all ms", "approvals/s", "storm /healthz p99 ms"});
  Series rss{"holdgate RSS MiB", {}}, decide{"decide all → all answered (ms)", {}}, hz{"/healthz p99 (ms)", {}},
      single99{"one decision p99 (ms)", {}}, cpu{"idle CPU (% of a core)", {}};
  Json holds = Json::array();
  for (size_t n : o.growth_holds) {
    HoldRun r;
    if (big && big->n == n) r = *big;
    else r = RunHolds(o, n, "growth-holds-" + std::to_string(n), std::min(o.idle_seconds, 3), 100, std::min<size_t>(50, o.singles));
    if (r.held == 0) {
      Print("\nholds at " + std::to_string(n) + ": not measured: " + r.error + "\n");
      continue;
    }
    holds.push_back(HoldRunJson(r));
    ht.Row({std::to_string(n), Fmt(r.status.rss_mib, 1), std::to_string(r.status.threads), Fmt(r.idle_cpu_pct, 1),
            Sig(r.healthz.p99_ms), Sig(r.list_pending.p99_ms), Sig(r.single.p50_ms) + " / " + Sig(r.single.p99_ms),
            Fmt(r.storm_all_ms, 0), Fmt(r.storm_n / std::max(r.storm_api_s, 1e-9), 0), Sig(r.storm_healthz.p99_ms)});
    const double x = static_cast<double>(n);
    rss.points.emplace_back(x, r.status.rss_mib);
    decide.points.emplace_back(x, r.storm_all_ms);
    hz.points.emplace_back(x, r.healthz.p99_ms);
    single99.points.emplace_back(x, r.single.p99_ms);
    cpu.points.emplace_back(x, r.idle_cpu_pct);
  }
  Print("\n### pass-through vs sessions (holdgate → demo over HTTP vs demo direct)\n\n" + pt.Markdown());
  Print("\n### holds vs held calls\n\n" + ht.Markdown());
  std::vector<Chart> charts;
  charts.push_back({"Pass-through throughput", "concurrent MCP sessions", "calls/s", true, {hg_rate, direct_rate}});
  charts.push_back({"Pass-through p99 latency", "concurrent MCP sessions", "ms", true, {hg_p99, direct_p99}});
  Chart c_rss{"holdgate memory while holding", "held calls", "MiB", true, {rss}};
  c_rss.target = 300;
  charts.push_back(c_rss);
  Chart c_dec{"All decided at once → all answered", "held calls", "ms", true, {decide}};
  c_dec.target = 500;
  charts.push_back(c_dec);
  Chart c_lat{"Reviewer and decision latency", "held calls", "ms", true, {hz, single99}};
  c_lat.target = 5;
  charts.push_back(c_lat);
  charts.push_back({"holdgate CPU while holding (idle)", "held calls", "% of one core", true, {cpu}});
  std::string svg = RenderSvg(charts, 2, "holdgate bench, " + MachineLine());
  WriteText(o.out_dir + "/growth.svg", svg);
  Print("\nchart: " + o.out_dir + "/growth.svg\n");
  g_results["growth"] = Json{{"passthrough", pass}, {"holds", holds}};
}

// ---- smoke ----------------------------------------------------------------------------------------

int ScenarioSmoke(Options o) {
  o.smoke = true;
  Print("\n## smoke (" + MachineLine() + ")\n");
  Json j = PassHttpDemo(o, 2, 100, 1, 10, "smoke-pass");
  ReportError("smoke pass-through", j);
  if (!j.contains("error")) {
    Check(j["a"]["calls_per_s"].get<double>() > 0 && j["b"]["calls_per_s"].get<double>() > 0, "pass-through: zero throughput");
    Check(j["a"]["errors"] == 0 && j["b"]["errors"] == 0, "pass-through: calls failed");
    Check(j["a"]["p50_ms"].get<double>() > 0 && j["a"]["calls"] == 100, "pass-through: no latency samples");
  }
  g_results["passthrough"] = Json::array({j});
  HoldRun r = RunHolds(o, 20, "smoke-holds", 1, 20, 5);
  PrintHoldRun(r);
  Check(r.error.empty(), "holds: " + r.error);
  Check(r.held == 20 && r.answered == 20, "holds: not every call was held and answered");
  Check(r.single.count == 5 && r.single.p50_ms > 0, "holds: no single-decision samples");
  Check(r.status.rss_mib > 0 && r.status.threads > 0, "holds: no RSS/threads from /proc");
  g_results["holds"] = HoldRunJson(r);
  Json c = GatewayCreations(o, 8, 16);
  ReportError("smoke creations through the gateway", c);
  if (!c.contains("error")) Check(c["calls_per_s"].get<double>() > 0 && c["errors"] == 0, "gateway creations");
  g_results["create_gateway"] = c;
  Json s = StoreCreations(o, 200);
  ReportError("smoke store creations", s);
  g_results["create_store"] = s;
  Options quick = o;
  quick.everything = false;  // the demo upstream only: seconds, and no node needed
  ScenarioSessions(quick, 2, 100, 1, 10, 2);
  return 0;
}

// ---- main -------------------------------------------------------------------------------------------

constexpr char kUsage[] = R"(usage: bench_mcp_load passthrough|sessions|holds|growth|tasks|replicas|all|smoke|profile [flags]
  --out DIR              results, charts and per-run logs (default /tmp/holdgate-bench)
  --holdgate PATH --demo PATH --node PATH --e2e-dir DIR   binaries (defaults: this build, PATH)
  --log-level LEVEL      holdgate's log level (default info)
  --holdgate-env K=V     extra environment for holdgate (repeatable; for experiments)
  --holdgate-prefix CMD  run holdgate under CMD (e.g. "valgrind --tool=callgrind")
  --baseline-holdgate PATH  pass-through over HTTP also through this holdgate binary, interleaved (before/after)
  --perf-args ARGS       perf subcommand and arguments for the profile scenario, run with -p PID -o FILE
                         (default "record -e cpu-clock -F 1999"; e.g. "stat -e raw_syscalls:sys_enter")
pass-through:
  --sessions N           concurrent MCP sessions, one keep-alive connection each (default 8)
  --calls N              measured calls per round per target (default 20000)
  --rounds N             measured rounds per target, interleaved A B A B (default 3)
  --warmup N             warm-up calls per target before the rounds (default 2000)
  --no-mcp-proxy --no-everything   skip those comparisons
holds:
  --holds N              held calls (default 10000)
  --max-inflight N       connections opened but not yet answered with headers (default 256)
  --idle-seconds N       CPU sampling window while held (default 5)
  --probes N             /healthz probes while held (default 200)
  --singles N            one-at-a-time decisions (default 100)
  --approvers N          keep-alive connections firing approvals at once (default 8)
  --storm-bulk N         approvals per bulk decision request (POST /api/approvals/decide, at most 500)
                         in the all-at-once storm; 0 = one approve request each (default 500)
  --agent-close          agents close their connection once answered (default: keep-alive)
  --hold-upstream-sessions shared|per_agent   upstream.sessions while holding (default shared)
  --create-sessions N --create-calls N    gateway creation run (default 1000 sessions, 10000 calls)
  --store-creations N    in-process store creations per thread count (default 6000)
sessions (upstream.sessions per_agent against shared; --sessions --calls --rounds --warmup as above):
  --memory-sessions N    agent sessions opened for the memory-per-session table (default 8)
tasks (MCP 2026-07-28 task holds; no connection kept per hold):
  --task-holds 1000,10000,100000   open task holds measured at each count (cumulative, one holdgate)
  --task-gets N          tasks/get calls timed at each count (default 2000)
growth:
  --growth-sessions 1,8,64,256  --growth-holds 10,100,1000,10000  --growth-rounds N (default 2)
  --growth-calls N       pass-through calls per session per round (default 500; 2,000..20,000 a round)
)";

std::vector<size_t> ParseList(const std::string& s) {
  std::vector<size_t> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(static_cast<size_t>(std::atoll(s.substr(start, end - start).c_str())));
    start = end + 1;
  }
  return out;
}

int Main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string scenario = argv[1];
  Options o;
  for (int i = 2; i < argc; ++i) {
    std::string f = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", f.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (f == "--out") o.out_dir = next();
    else if (f == "--holdgate") o.paths.holdgate = next();
    else if (f == "--demo") o.paths.demo = next();
    else if (f == "--node") o.paths.node = next();
    else if (f == "--e2e-dir") o.paths.e2e_dir = next();
    else if (f == "--log-level") o.log_level = next();
    else if (f == "--holdgate-env") o.holdgate_env.push_back(next());
    else if (f == "--holdgate-prefix") o.holdgate_prefix = next();
    else if (f == "--perf-args") o.perf_args = next();
    else if (f == "--baseline-holdgate") o.baseline_holdgate = next();
    else if (f == "--hold-upstream-sessions") o.hold_upstream_sessions = next();
    else if (f == "--sessions") o.sessions = std::stoul(next());
    else if (f == "--calls") o.calls = std::stoll(next());
    else if (f == "--rounds") o.rounds = std::stoi(next());
    else if (f == "--warmup") o.warmup = std::stoll(next());
    else if (f == "--no-mcp-proxy") o.mcp_proxy = false;
    else if (f == "--no-everything") o.everything = false;
    else if (f == "--memory-sessions") o.memory_sessions = std::stoul(next());
    else if (f == "--holds") o.holds = std::stoul(next());
    else if (f == "--max-inflight") o.max_inflight = std::stoul(next());
    else if (f == "--idle-seconds") o.idle_seconds = std::stoi(next());
    else if (f == "--probes") o.healthz_probes = std::stoi(next());
    else if (f == "--singles") o.singles = std::stoul(next());
    else if (f == "--approvers") o.approvers = std::stoi(next());
    else if (f == "--storm-bulk") o.storm_bulk = static_cast<size_t>(std::stoul(next()));
    else if (f == "--agent-close") o.agent_close = true;
    else if (f == "--create-sessions") o.create_sessions = std::stoul(next());
    else if (f == "--create-calls") o.create_calls = std::stoll(next());
    else if (f == "--store-creations") o.store_creations = std::stoi(next());
    else if (f == "--growth-sessions") o.growth_sessions = ParseList(next());
    else if (f == "--growth-holds") o.growth_holds = ParseList(next());
    else if (f == "--growth-calls") o.growth_calls = std::stoll(next());
    else if (f == "--growth-rounds") o.growth_rounds = std::stoi(next());
    else if (f == "--task-holds") o.task_holds = ParseList(next());
    else if (f == "--task-gets") o.task_gets = std::stoul(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n%s", f.c_str(), kUsage);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const rlim_t nofile = RaiseOpenFilesLimit();  // children inherit it
  std::filesystem::create_directories(o.out_dir);
  if (nofile < o.holds + 100 && (scenario == "holds" || scenario == "all")) {
    std::fprintf(stderr, "warning: open-files limit %llu is below %zu held calls + 100\n",
                 static_cast<unsigned long long>(nofile), o.holds);
  }
  g_results["machine"] = MachineLine();
  g_results["scenario"] = scenario;
  g_results["started_at"] = FormatTimeMs(SystemClock::Instance().NowMs());
  Print("# holdgate bench: " + scenario + " (" + MachineLine() + ", open files " + std::to_string(nofile) + ")\n");

  if (scenario == "passthrough") {
    ScenarioPassthrough(o);
  } else if (scenario == "sessions") {
    ScenarioSessions(o, o.sessions, o.calls, o.rounds, o.warmup, o.memory_sessions);
  } else if (scenario == "holds") {
    ScenarioHolds(o);
  } else if (scenario == "growth") {
    ScenarioGrowth(o, nullptr);
  } else if (scenario == "tasks") {
    ScenarioTasks(o, false);
  } else if (scenario == "all") {
    ScenarioPassthrough(o);
    ScenarioSessions(o, o.sessions, o.calls, o.rounds, o.warmup, o.memory_sessions);
    Print("\n## holds (" + MachineLine() + ")\n");
    HoldRun r = RunHolds(o, o.holds, "holds-" + std::to_string(o.holds), o.idle_seconds, o.healthz_probes, o.singles);
    PrintHoldRun(r);
    g_results["holds"] = HoldRunJson(r);
    g_results["create_gateway"] = GatewayCreations(o, o.create_sessions, o.create_calls);
    ReportError("approval creations through the gateway", g_results["create_gateway"]);
    g_results["create_store"] = StoreCreations(o, o.store_creations);
    ScenarioGrowth(o, &r);
    ScenarioTasks(o, false);
    ScenarioReplicas(o, false);
  } else if (scenario == "replicas") {
    ScenarioReplicas(o, false);
  } else if (scenario == "smoke") {
    ScenarioSmoke(o);
    ScenarioTasks(o, true);
    ScenarioReplicas(o, true);
  } else if (scenario == "profile") {
    o.perf = true;
    Print("\n## profile: holdgate under perf (" + MachineLine() + ")\n");
    if (o.calls > 0) ReportError("profile pass-through", PassHttpDemo(o, o.sessions, o.calls, o.rounds, o.warmup, "profile-pass"));
    if (o.holds > 0) PrintHoldRun(RunHolds(o, o.holds, "profile-holds", 2, 50, o.singles));
  } else {
    std::fprintf(stderr, "unknown scenario %s\n%s", scenario.c_str(), kUsage);
    return 2;
  }

  g_results["finished_at"] = FormatTimeMs(SystemClock::Instance().NowMs());
  g_results["machine_after"] = MachineLine();
  g_results["failures"] = g_failures;
  const std::string results = o.out_dir + "/results-" + scenario + ".json";
  WriteText(results, g_results.dump(2) + "\n");
  Print("\nresults: " + results + "\nmachine at the end: " + MachineLine() + "\n");
  if (scenario == "smoke") {
    for (const auto& f : g_failures) std::fprintf(stderr, "smoke: NOT SANE: %s\n", f.c_str());
    Print(g_failures.empty() ? "smoke: OK (numbers present and sane; no timing assertions)\n" : "smoke: FAILED\n");
    return g_failures.empty() ? 0 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace holdgate::bench

int main(int argc, char** argv) { return holdgate::bench::Main(argc, argv); }
