#pragma once
// Bench harness: MCP agents on top of the connection loop.
//   InitDriver       opens N sessions (initialize + notifications/initialized), one per connection.
//   CallDriver       closed loop: each connection keeps one tools/call in flight until a fixed number
//                    of calls is answered; records per-call latency.
//   HoldDriver       N agents, paced, each making one call that the gateway holds; records when each
//                    call was held (first progress notification) and answered. Its counters and
//                    per-agent timestamps may be read from other threads.
//   SequentialCaller one session, one call at a time, blocking (for baselines taken between steps).
// Drivers run on the loop's thread.
#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bench/harness/conn_loop.h"
#include "bench/harness/measure.h"
#include "common/json_util.h"

namespace holdgate::bench {

constexpr char kClientProtocolVersion[] = "2025-06-18";

inline std::string InitializeBody() {
  return std::string(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")") +
         kClientProtocolVersion + R"(","capabilities":{},"clientInfo":{"name":"holdgate-bench","version":"1"}}})";
}
inline std::string InitializedBody() { return R"({"jsonrpc":"2.0","method":"notifications/initialized"})"; }

// tools/call with `arguments_json` (an object); a progress token when `progress_token` is not empty.
inline std::string ToolCallBody(uint64_t id, std::string_view tool, std::string_view arguments_json,
                                std::string_view progress_token = {}) {
  std::string b = R"({"jsonrpc":"2.0","id":)";
  b += std::to_string(id);
  b += R"(,"method":"tools/call","params":{"name":")";
  b += tool;
  b += R"(","arguments":)";
  b += arguments_json;
  if (!progress_token.empty()) {
    b += R"(,"_meta":{"progressToken":")";
    b += progress_token;
    b += R"("})";
  }
  b += "}}";
  return b;
}

// How a tools/call ended, judged from the JSON-RPC response text.
enum class Outcome { kOk = 0, kToolError, kNotExecuted, kRpcError, kMalformed };

inline const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kToolError: return "tool isError";
    case Outcome::kNotExecuted: return "not executed (deferred/rejected)";
    case Outcome::kRpcError: return "JSON-RPC error";
    case Outcome::kMalformed: return "malformed";
  }
  return "?";
}

inline Outcome Classify(std::string_view message) {
  const bool has_result = message.find("\"result\"") != std::string_view::npos;
  if (!has_result) {
    return message.find("\"error\"") != std::string_view::npos ? Outcome::kRpcError : Outcome::kMalformed;
  }
  if (message.find("NOT executed") != std::string_view::npos || message.find("ot executed") != std::string_view::npos) {
    return Outcome::kNotExecuted;
  }
  if (message.find("\"isError\":true") != std::string_view::npos) return Outcome::kToolError;
  return Outcome::kOk;
}

// A JSON-RPC response (has an id, no method) rather than a notification or server request.
inline bool IsResponse(std::string_view message) {
  return message.find("\"method\"") == std::string_view::npos &&
         (message.find("\"result\"") != std::string_view::npos || message.find("\"error\"") != std::string_view::npos);
}

// The response of a complete reply: the JSON body, or the SSE event that carries it.
inline std::string_view FinalMessage(Conn& c) {
  if (!c.parser.head().event_stream) return c.parser.body();
  auto& events = c.parser.events();
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (IsResponse(*it)) return *it;
  }
  return {};
}

// Connections opened at once before the first ones are answered: servers on httplib's default
// listen backlog (5) drop SYNs from bigger bursts, and the retransmits cost a second or more.
constexpr size_t kConnectBurst = 16;

struct SessionInfo {
  std::string id;
  std::string protocol;
};

class InitDriver final : public Driver {
 public:
  InitDriver(const Endpoint& ep, size_t n) : ep_(ep), n_(n) {}

  void Start(Loop& loop) {
    while (opened_ < std::min(n_, kConnectBurst)) OpenNext(loop);
  }
  void OnResponse(Loop& loop, Conn& c) override {
    if (c.stage == 0) {
      std::string_view msg = FinalMessage(c);
      auto parsed = ParseJson(msg);
      if (c.parser.head().status != 200 || !parsed.ok() || !parsed->contains("result")) {
        Failed(c, "initialize answered HTTP " + std::to_string(c.parser.head().status) + ": " +
                      std::string(msg.substr(0, 200)));
        return OpenNext(loop);
      }
      c.session_id = c.parser.head().session_id;
      c.protocol = (*parsed)["result"].value("protocolVersion", kClientProtocolVersion);
      c.stage = 1;
      loop.Send(c, BuildMcpPost(ep_, c.session_id, c.protocol, InitializedBody()));
      return;
    }
    int status = c.parser.head().status;
    if (status != 202 && status != 200) {
      Failed(c, "notifications/initialized answered HTTP " + std::to_string(status));
      return OpenNext(loop);
    }
    c.stage = 2;
    ++done_;
    OpenNext(loop);
  }
  void OnFailed(Loop& loop, Conn& c, const std::string& why) override {
    Failed(c, why);
    OpenNext(loop);
  }
  bool Done() const override { return done_ + failed_ == n_; }

  size_t failed() const { return failed_; }
  const std::string& first_error() const { return first_error_; }
  std::vector<SessionInfo> Sessions(Loop& loop) const {
    std::vector<SessionInfo> out;
    for (size_t i = 0; i < loop.size(); ++i) {
      if (loop.conn(i).stage == 2) out.push_back({loop.conn(i).session_id, loop.conn(i).protocol});
    }
    return out;
  }

 private:
  void OpenNext(Loop& loop) {
    if (opened_ >= n_) return;
    ++opened_;
    Conn& c = loop.NewConn();
    loop.Send(c, BuildMcpPost(ep_, "", "", InitializeBody()));
  }
  void Failed(Conn& c, const std::string& why) {
    if (c.stage < 0) return;
    c.stage = -1;
    ++failed_;
    if (first_error_.empty()) first_error_ = why;
  }

  Endpoint ep_;
  size_t n_;
  size_t opened_ = 0;
  size_t done_ = 0;
  size_t failed_ = 0;
  std::string first_error_;
};

// Opens `n` sessions; blocks. On failure returns fewer and sets *error.
inline std::vector<SessionInfo> OpenSessions(const Endpoint& ep, size_t n, std::string* error) {
  Loop loop(ep);
  InitDriver init(ep, n);
  init.Start(loop);
  if (!loop.Run(init, 100, 60000)) *error = "timed out opening sessions";
  else if (init.failed()) *error = init.first_error();
  return init.Sessions(loop);
}

struct CallSpec {
  std::string tool;
  // arguments JSON object for the seq-th call (seq counts every call this driver makes).
  std::function<std::string(uint64_t seq)> arguments;
  Outcome expected = Outcome::kOk;
};

class CallDriver final : public Driver {
 public:
  CallDriver(const Endpoint& ep, std::vector<SessionInfo> sessions, CallSpec spec, int64_t total,
             std::function<void()> on_measure_start)
      : ep_(ep), sessions_(std::move(sessions)), spec_(std::move(spec)), total_(total),
        on_start_(std::move(on_measure_start)) {
    latencies_.Reserve(static_cast<size_t>(total));
  }

  // One connection per session; each first makes one warm-up call (not measured). Connections
  // open kConnectBurst at a time.
  void Start(Loop& loop) {
    while (opened_ < std::min(sessions_.size(), kConnectBurst)) OpenNext(loop);
  }

  void OnResponse(Loop& loop, Conn& c) override {
    const int64_t now = NowNs();
    Outcome o = c.parser.head().status == 200 ? Classify(FinalMessage(c)) : Outcome::kMalformed;
    if (c.stage == 0) {
      if (o != spec_.expected) Note(o, c);
      return Warmed(loop, c);
    }
    latencies_.Add(now - c.sent_ns);
    if (o != spec_.expected) Note(o, c);
    Completed(loop, c, now);
  }
  void OnFailed(Loop& loop, Conn& c, const std::string& why) override {
    ++errors_;
    if (first_error_.empty()) first_error_ = why;
    if (c.stage == 0) return Warmed(loop, c);
    Completed(loop, c, NowNs());
  }
  bool Done() const override { return measuring_ && completed_ >= total_; }

  const Samples& latencies() const { return latencies_; }
  double seconds() const { return static_cast<double>(end_ns_ - start_ns_) / 1e9; }
  int64_t completed() const { return completed_; }
  int64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void Send(Loop& loop, Conn& c) {
    uint64_t seq = seq_++;
    loop.Send(c, BuildMcpPost(ep_, c.session_id, c.protocol,
                              ToolCallBody(c.next_id++, spec_.tool, spec_.arguments(seq))));
  }
  void OpenNext(Loop& loop) {
    if (opened_ >= sessions_.size()) return;
    const SessionInfo& s = sessions_[opened_++];
    Conn& c = loop.NewConn();
    c.session_id = s.id;
    c.protocol = s.protocol;
    c.stage = 0;
    Send(loop, c);
  }
  void Warmed(Loop& loop, Conn& c) {
    c.stage = 1;
    if (++warmed_ < sessions_.size()) return OpenNext(loop);
    measuring_ = true;
    if (on_start_) on_start_();
    start_ns_ = NowNs();
    for (size_t i = 0; i < loop.size(); ++i) Issue(loop, loop.conn(i));
  }
  void Issue(Loop& loop, Conn& c) {
    if (issued_ >= total_) return;
    ++issued_;
    Send(loop, c);
  }
  void Completed(Loop& loop, Conn& c, int64_t now) {
    if (++completed_ == total_) end_ns_ = now;
    Issue(loop, c);
  }
  void Note(Outcome o, Conn& c) {
    ++errors_;
    if (first_error_.empty()) {
      first_error_ = std::string(OutcomeName(o)) + ", HTTP " + std::to_string(c.parser.head().status) + ": " +
                     std::string(FinalMessage(c).substr(0, 300));
    }
  }

  Endpoint ep_;
  std::vector<SessionInfo> sessions_;
  CallSpec spec_;
  int64_t total_;
  std::function<void()> on_start_;
  uint64_t seq_ = 0;
  size_t opened_ = 0;
  size_t warmed_ = 0;
  bool measuring_ = false;
  int64_t issued_ = 0;
  int64_t completed_ = 0;
  int64_t errors_ = 0;
  std::string first_error_;
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  Samples latencies_;
};

// N agents each holding one call. Agent i uses connection i and job id "<prefix><i>".
class HoldDriver final : public Driver {
 public:
  struct Agent {
    std::atomic<int64_t> held_ns{0};
    std::atomic<int64_t> answered_ns{0};
    std::atomic<int> outcome{-1};
    std::string session;  // written before held_ns is set
  };

  HoldDriver(const Endpoint& ep, size_t n, size_t max_inflight, std::string job_prefix, bool close_after_answer)
      : ep_(ep), n_(n), max_inflight_(max_inflight), prefix_(std::move(job_prefix)),
        close_after_answer_(close_after_answer), agents_(n) {}

  void OnTick(Loop& loop, int64_t) override { Pump(loop); }

  void OnHead(Loop& loop, Conn& c) override {
    if (c.stage != kCall) return;
    --inflight_;
    if (c.parser.head().status == 200) established_.fetch_add(1);
    Pump(loop);
  }

  void OnEvents(Loop& loop, Conn& c) override {
    const int64_t now = NowNs();
    Agent& a = agents_[c.id];
    for (const std::string& ev : c.parser.events()) {
      if (ev.find("notifications/progress") != std::string::npos) {
        if (a.held_ns.load(std::memory_order_relaxed) == 0) {
          a.held_ns.store(now, std::memory_order_release);
          int64_t zero = 0;
          first_held_ns_.compare_exchange_strong(zero, now);
          last_held_ns_.store(now);
          held_.fetch_add(1, std::memory_order_release);
        }
      } else if (IsResponse(ev)) {
        Answer(a, Classify(ev), now);
      }
    }
    c.parser.events().clear();
  }

  void OnResponse(Loop& loop, Conn& c) override {
    Agent& a = agents_[c.id];
    const int status = c.parser.head().status;
    switch (c.stage) {
      case kInit: {
        auto parsed = ParseJson(FinalMessage(c));
        if (status != 200 || !parsed.ok() || !parsed->contains("result")) {
          return Fail(loop, c, "initialize answered HTTP " + std::to_string(status));
        }
        c.session_id = c.parser.head().session_id;
        c.protocol = (*parsed)["result"].value("protocolVersion", kClientProtocolVersion);
        c.stage = kInitialized;
        loop.Send(c, BuildMcpPost(ep_, c.session_id, c.protocol, InitializedBody()));
        return;
      }
      case kInitialized: {
        if (status != 202 && status != 200) return Fail(loop, c, "initialized answered HTTP " + std::to_string(status));
        a.session = c.session_id;
        c.stage = kCall;
        std::string args = R"({"job_id":")" + prefix_ + std::to_string(c.id) + "\"}";
        loop.Send(c, BuildMcpPost(ep_, c.session_id, c.protocol,
                                  ToolCallBody(c.next_id++, "cancel_job", args, "p" + std::to_string(c.id))));
        return;
      }
      case kCall: {
        if (a.answered_ns.load() == 0) {
          if (status != 200) return Fail(loop, c, "tools/call answered HTTP " + std::to_string(status));
          std::string_view msg = FinalMessage(c);
          Answer(a, msg.empty() ? Outcome::kMalformed : Classify(msg), NowNs());
        }
        c.stage = kDone;
        if (close_after_answer_) loop.Close(c);
        return;
      }
      default:
        return;
    }
  }

  void OnFailed(Loop& loop, Conn& c, const std::string& why) override { Fail(loop, c, why); }
  bool Done() const override { return false; }  // runs until Loop::Stop()

  size_t n() const { return n_; }
  size_t held() const { return held_.load(std::memory_order_acquire); }
  size_t established() const { return established_.load(); }
  size_t answered() const { return answered_.load(); }
  size_t failed() const { return failed_.load(); }
  int64_t first_held_ns() const { return first_held_ns_.load(); }
  int64_t last_held_ns() const { return last_held_ns_.load(); }
  Agent& agent(size_t i) { return agents_[i]; }
  std::string first_error() const {
    std::lock_guard<std::mutex> lock(error_mu_);
    return first_error_;
  }

 private:
  enum Stage { kInit = 0, kInitialized, kCall, kDone, kFailed };

  void Pump(Loop& loop) {
    while (inflight_ < max_inflight_ && next_ < n_) {
      Conn& c = loop.NewConn();  // connection i is agent i
      c.stage = kInit;
      ++inflight_;
      ++next_;
      loop.Send(c, BuildMcpPost(ep_, "", "", InitializeBody()));
    }
  }

  void Answer(Agent& a, Outcome o, int64_t now) {
    if (a.answered_ns.load() != 0) return;
    a.outcome.store(static_cast<int>(o));
    a.answered_ns.store(now, std::memory_order_release);
    answered_.fetch_add(1, std::memory_order_release);
  }

  void Fail(Loop& loop, Conn& c, const std::string& why) {
    if (c.stage == kFailed) return;
    Agent& a = agents_[c.id];
    if (c.stage != kDone && a.answered_ns.load() == 0) {
      if (c.stage < kCall || !c.head_seen) --inflight_;
      failed_.fetch_add(1);
      std::lock_guard<std::mutex> lock(error_mu_);
      if (first_error_.empty()) first_error_ = "agent " + std::to_string(c.id) + ": " + why;
    }
    c.stage = kFailed;
    loop.Close(c);
    Pump(loop);
  }

  Endpoint ep_;
  size_t n_;
  size_t max_inflight_;
  std::string prefix_;
  bool close_after_answer_;
  std::vector<Agent> agents_;
  size_t inflight_ = 0;
  size_t next_ = 0;
  std::atomic<int64_t> first_held_ns_{0};
  std::atomic<int64_t> last_held_ns_{0};
  std::atomic<size_t> held_{0};
  std::atomic<size_t> established_{0};
  std::atomic<size_t> answered_{0};
  std::atomic<size_t> failed_{0};
  mutable std::mutex error_mu_;
  std::string first_error_;
};

// One session, one call at a time; Call() blocks until the reply. For baselines between steps.
class SequentialCaller {
 public:
  explicit SequentialCaller(const Endpoint& ep) : ep_(ep), loop_(ep) {}

  bool Open(std::string* error) {
    auto sessions = OpenSessions(ep_, 1, error);
    if (sessions.empty()) return false;
    session_ = sessions[0];
    conn_ = &loop_.NewConn();
    return true;
  }

  // Returns the latency in ns (or -1) and the response text.
  int64_t Call(std::string_view tool, std::string_view arguments, std::string* response) {
    OneReply driver;
    loop_.Send(*conn_, BuildMcpPost(ep_, session_.id, session_.protocol, ToolCallBody(next_id_++, tool, arguments)));
    if (!loop_.Run(driver, 1000, 30000) || driver.failed) return -1;
    if (response) *response = std::string(FinalMessage(*conn_));
    return driver.done_ns - conn_->sent_ns;
  }

 private:
  struct OneReply final : Driver {
    bool done = false;
    bool failed = false;
    int64_t done_ns = 0;
    void OnResponse(Loop&, Conn&) override {
      done_ns = NowNs();
      done = true;
    }
    void OnFailed(Loop&, Conn&, const std::string&) override { done = failed = true; }
    bool Done() const override { return done; }
  };

  Endpoint ep_;
  Loop loop_;
  SessionInfo session_;
  Conn* conn_ = nullptr;
  uint64_t next_id_ = 1;
};

}  // namespace holdgate::bench
