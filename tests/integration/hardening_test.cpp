// Issue 15 against a real `holdgate serve` / `holdgate stdio` with the demo upstream: no path
// around the policy through method names or notifications; slow clients cannot starve either
// listener; sessions are reclaimed and capped per principal; ambiguous request framing is refused
// on both listeners.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "mcp/jsonrpc.h"
#include "resilience_fixture.h"
#include "support/raw_conn.h"

namespace holdgate::testing::resilience {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kLatencyBoundMs = 500;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int64_t kLatencyBoundMs = 500;
#else
constexpr int64_t kLatencyBoundMs = 100;
#endif
#else
constexpr int64_t kLatencyBoundMs = 100;
#endif

using SteadyClock = std::chrono::steady_clock;

int64_t MsSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// The methods that must never reach the upstream: tools/call spelled so that a loose matcher
// (case-insensitive, trimming, C strings) would still read tools/call.
const std::vector<std::string>& DisguisedToolsCall() {
  static const std::vector<std::string> methods = {"Tools/Call", "TOOLS/CALL", std::string("tools/call\0", 11),
                                                   " tools/call", "tools/call\n"};
  return methods;
}

Json CancelJob(const std::string& method, const Json& id) {
  Json m = {{"jsonrpc", "2.0"}, {"method", method}, {"params", {{"name", "cancel_job"}, {"arguments", {{"job_id", "job-x"}}}}}};
  if (!id.is_null()) m["id"] = id;
  return m;
}

// Every line holdgate sent its upstream that mentions cancel_job.
int UpstreamLinesWith(const Instance& h, const std::string& needle) {
  std::istringstream in(ReadFile(h.File("upstream-in.log")));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

std::string WriteConfig(const TempDir& dir, const Json& config) {
  const std::string path = dir.File("config.json");
  WriteFile(path, DumpJson(config));
  return path;
}

}  // namespace

TEST_CASE("hardening: tools/call as a notification or under a disguised name never reaches the upstream",
          "[integration][hardening][methods]") {
  Instance h(HoldPolicy());
  REQUIRE(h.Start());
  McpHttpClient agent = h.Agent();
  int refused = 0;

  // A request method without an id: 400, not run, audited.
  HttpReply r = agent.Post(CancelJob("tools/call", nullptr));
  CHECK(r.status == 400);
  ++refused;
  for (const std::string& method : DisguisedToolsCall()) {
    INFO("method of " << method.size() << " bytes: " << method);
    r = agent.Post(CancelJob(method, agent.next_id()));
    CHECK(r.status == 200);
    Json response = r.Response();
    REQUIRE(response.is_object());
    CHECK(response["error"]["code"] == mcp::kMethodNotFound);
    r = agent.Post(CancelJob(method, nullptr));
    CHECK(r.status == 400);
    refused += 2;
  }
  // An unknown method is answered by holdgate itself (not audited: it is no request in disguise).
  r = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", agent.next_id()}, {"method", "jobs/cancel_all"}});
  REQUIRE(r.Response().is_object());
  CHECK(r.Response()["error"]["code"] == mcp::kMethodNotFound);
  // Known notifications and methods still work.
  CHECK(agent.Post(Json{{"jsonrpc", "2.0"}, {"method", "notifications/roots/list_changed"}}).status == 202);
  r = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", agent.next_id()}, {"method", "ping"}});
  CHECK(r.Response().contains("result"));

  // The notification is forwarded asynchronously: await it, then nothing else may have gone up.
  CHECK(WaitUntil([&] { return UpstreamLinesWith(h, "roots/list_changed") >= 1; }));
  CHECK(UpstreamLinesWith(h, "roots/list_changed") == 1);
  CHECK(UpstreamLinesWith(h, "cancel_job") == 0);
  CHECK(UpstreamLinesWith(h, "jobs/cancel_all") == 0);
  Json audit = h.Audit("call.refused");
  REQUIRE(audit.size() == static_cast<size_t>(refused));
  for (const Json& e : audit) {
    CHECK(e["principal"] == "local");
    CHECK(e["tool"] == "cancel_job");
    CHECK(e["detail"]["method"].is_string());
  }
  CHECK(audit[0]["detail"]["method"] == "tools/call");
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("hardening: the same method rules hold on stdio", "[integration][hardening][methods][stdio]") {
  TempDir dir;
  WriteFile(dir.File("policy.json"), HoldPolicy());
  const std::string ready = dir.File("ready.json");
  int to_child[2], from_child[2];
  REQUIRE(pipe2(to_child, O_CLOEXEC) == 0);
  REQUIRE(pipe2(from_child, O_CLOEXEC) == 0);
  std::vector<std::string> args = {HOLDGATE_BINARY, "stdio", "--review-listen", "127.0.0.1:0",
                                   "--db", dir.File("holdgate.db"), "--ready-file", ready,
                                   "--policy", dir.File("policy.json"), "--upstream-cmd",
                                   "tee -a " + dir.File("upstream-in.log") + " | " +
                                       std::string(HOLDGATE_DEMO_UPSTREAM) + " --stdio"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string secret = std::string("HOLDGATE_JWT_SECRET=") + kTestJwtSecret;
  std::string log = dir.File("holdgate.log");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(err, 2);
    putenv(secret.data());
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  FILE* out = fdopen(from_child[0], "r");
  auto send_line = [&](const Json& m) {
    std::string line = DumpJson(m) + "\n";
    REQUIRE(write(to_child[1], line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  };
  auto read_response = [&]() {
    char buf[65536];
    while (fgets(buf, sizeof buf, out) != nullptr) {
      auto parsed = ParseJson(buf);
      if (parsed.ok() && parsed.value().contains("id")) return parsed.value();
    }
    return Json();
  };
  send_line({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
             {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                         {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
  REQUIRE(read_response()["id"] == 1);
  send_line({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  send_line(CancelJob("tools/call", nullptr));
  int id = 10;
  for (const std::string& method : DisguisedToolsCall()) {
    send_line(CancelJob(method, nullptr));
    send_line(CancelJob(method, ++id));
    Json response = read_response();
    CHECK(response["id"] == id);
    CHECK(response["error"]["code"] == mcp::kMethodNotFound);
  }
  send_line({{"jsonrpc", "2.0"}, {"id", 99}, {"method", "ping"}});
  CHECK(read_response()["id"] == 99);  // every earlier line was handled before this answer

  Json doc = WaitForJsonFile(ready);
  REQUIRE(doc.is_object());
  const std::string review = doc.value("review", "");
  ReviewClient auditor(std::atoi(review.c_str() + review.rfind(':') + 1), "auditor-bot", "auditor");
  auto audit = auditor.Get("/api/audit?type=call.refused&limit=100");
  REQUIRE(audit.status == 200);
  CHECK(audit.body["events"].size() == 1 + 2 * DisguisedToolsCall().size());
  CHECK(ReadFile(dir.File("upstream-in.log")).find("cancel_job") == std::string::npos);

  close(to_child[1]);  // EOF: holdgate stdio ends
  int status = 0;
  for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  fclose(out);
}

TEST_CASE("hardening: Content-Length with Transfer-Encoding, or two Content-Lengths, get 400 on both listeners",
          "[integration][hardening][smuggling]") {
  Instance h(HoldPolicy());
  REQUIRE(h.Start());
  McpHttpClient agent = h.Agent();
  const std::string call = DumpJson(CancelJob("tools/call", 7));
  struct Target {
    int port;
    std::string head;
  };
  const std::vector<Target> targets = {
      {h.gw().mcp_port, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Accept: application/json, text/event-stream\r\nMcp-Session-Id: " + agent.session_id() + "\r\n"},
      {h.gw().review_port, "POST /api/approvals/x/approve HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Authorization: Bearer " + MintToken("bob") + "\r\nContent-Type: application/json\r\n"}};
  const std::vector<std::string> framings = {
      "Content-Length: " + std::to_string(call.size()) + "\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked\r\nContent-Length: " + std::to_string(call.size()) + "\r\n",
      "Content-Length: " + std::to_string(call.size()) + "\r\nContent-Length: 2\r\n"};
  for (const Target& t : targets) {
    for (const std::string& framing : framings) {
      INFO("port " << t.port << "\n" << framing);
      RawConn c(t.port);
      REQUIRE(c.ok());
      REQUIRE(c.Send(t.head + framing + "\r\n" + call));
      bool closed = false;
      std::string reply = c.ReadAll(5000, &closed);
      CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
      CHECK(reply.find("Connection: close") != std::string::npos);
      CHECK(closed);
    }
  }
  CHECK(UpstreamLinesWith(h, "cancel_job") == 0);
  CHECK(h.Approvals("all").empty());
  CHECK(h.Running());
}

TEST_CASE("hardening: 60 slow clients on each listener neither starve /healthz nor outlive header_timeout",
          "[integration][hardening][slowloris]") {
  TempDir cfg;
  const Json limits = {{"header_timeout", "2s"}};
  Instance h(HoldPolicy(), {"--config", WriteConfig(cfg, {{"mcp", limits}, {"review", limits}})});
  REQUIRE(h.Start());
  McpHttpClient agent = h.Agent();
  constexpr int kSlow = 60;
  struct Slow {
    std::unique_ptr<RawConn> conn;
    SteadyClock::time_point started;
    int64_t closed_after_ms = -1;
  };
  std::vector<Slow> slow;
  for (int port : {h.gw().mcp_port, h.gw().review_port}) {
    for (int i = 0; i < kSlow; ++i) {
      Slow s{std::make_unique<RawConn>(port), SteadyClock::now()};
      REQUIRE(s.conn->ok());
      REQUIRE(s.conn->Send(port == h.gw().mcp_port ? "POST /mcp HTTP/1.1\r\n" : "GET /api/approvals HTTP/1.1\r\n"));
      slow.push_back(std::move(s));
    }
  }
  // One header line per connection every 300 ms, as a slowloris client does, until each is cut.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    for (int round = 0; !stop.load(); ++round) {
      for (Slow& s : slow) {
        if (s.closed_after_ms >= 0) continue;
        if (s.conn->PeerClosed() || !s.conn->Send("X-Trickle-" + std::to_string(round) + ": 1\r\n")) {
          s.closed_after_ms = MsSince(s.started);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  struct StopTrickle {  // also when an assertion below ends the test early
    std::atomic<bool>& stop;
    std::thread& thread;
    ~StopTrickle() {
      stop.store(true);
      if (thread.joinable()) thread.join();
    }
  } stop_trickle{stop, trickle};
  // Meanwhile a reviewer's probe and an agent's call are answered at once.
  int64_t worst_healthz = 0, worst_ping = 0;
  const auto probe_start = SteadyClock::now();
  constexpr int kProbes = 8;
  for (int i = 0; i < kProbes; ++i) {
    auto t0 = SteadyClock::now();
    httplib::Client review("127.0.0.1", h.gw().review_port);
    review.set_read_timeout(5, 0);
    auto health = review.Get("/healthz");
    worst_healthz = std::max(worst_healthz, MsSince(t0));
    REQUIRE(health);
    CHECK(health->status == 200);
    t0 = SteadyClock::now();
    HttpReply ping = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", agent.next_id()}, {"method", "ping"}});
    worst_ping = std::max(worst_ping, MsSince(t0));
    CHECK(ping.status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int64_t probing_ms = MsSince(probe_start);
  WARN("with " << kSlow << " slow connections on each listener: /healthz worst " << worst_healthz
               << " ms, /mcp ping worst " << worst_ping << " ms (" << kProbes << " probes over " << probing_ms << " ms)");
  CHECK(probing_ms < 1900);  // the probes ran while every slow connection was still open
  // The bound is 100 ms. Under ASan (several times slower, and run beside another test
  // process) the same starvation would show as seconds; the bound there is 500 ms.
  CHECK(worst_healthz < kLatencyBoundMs);
  CHECK(worst_ping < kLatencyBoundMs);
  // Every slow connection is cut at its header deadline (2 s), not served and not kept.
  REQUIRE(WaitUntil([&] { return std::all_of(slow.begin(), slow.end(), [](const Slow& s) { return s.closed_after_ms >= 0; }); },
                    8000));
  stop.store(true);
  if (trickle.joinable()) trickle.join();
  int64_t first = INT64_MAX, last = 0;
  for (const Slow& s : slow) {
    first = std::min(first, s.closed_after_ms);
    last = std::max(last, s.closed_after_ms);
  }
  WARN("slow connections closed after " << first << ".." << last << " ms (header_timeout 2000 ms)");
  CHECK(first >= 1700);
  CHECK(last <= 3500);
  CHECK(h.Running());
}

TEST_CASE("hardening: a principal at max_sessions_per_principal is refused while another still initializes",
          "[integration][hardening][sessions]") {
  TempDir cfg;
  const Json mcp = {{"max_sessions_per_principal", 3},
                    {"agent_keys", Json::array({Json{{"name", "a"}, {"principal", "agent-a"}, {"sha256", Sha256Hex("key-a")}},
                                                Json{{"name", "b"}, {"principal", "agent-b"}, {"sha256", Sha256Hex("key-b")}}})}};
  Instance h(HoldPolicy(), {"--config", WriteConfig(cfg, {{"mcp", mcp}})});
  REQUIRE(h.Start());
  std::vector<McpHttpClient> a_sessions;
  for (int i = 0; i < 3; ++i) a_sessions.push_back(h.Agent("key-a"));
  McpHttpClient fourth("127.0.0.1", h.gw().mcp_port);
  fourth.set_bearer("key-a");
  HttpReply refused = fourth.Post({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                                   {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                                               {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
  CHECK(refused.status == 429);
  REQUIRE(refused.Response().is_object());
  CHECK(refused.Response()["id"] == 1);
  CHECK(Str(refused.Response()["error"], "message").find("agent-a") != std::string::npos);
  // The other principal is not affected, and A's existing sessions still work.
  McpHttpClient b = h.Agent("key-b");
  CHECK_FALSE(b.session_id().empty());
  HttpReply ping = a_sessions[0].Post({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}});
  CHECK(ping.status == 200);
  // Ending one of A's sessions makes room.
  CHECK(a_sessions[0].Delete().status == 200);
  CHECK_FALSE(h.Agent("key-a").session_id().empty());
}

}  // namespace holdgate::testing::resilience
