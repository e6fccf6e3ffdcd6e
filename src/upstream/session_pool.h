#pragma once
// SessionPool: upstream sessions of their own for agent sessions (config upstream.sessions
// "per_agent"). Each is a full Upstream — a Streamable HTTP session, or a child process over
// stdio — initialized with the agent's own clientInfo, capabilities and protocol version, so the
// upstream shows the agent what it would show it directly (tool lists that depend on the client's
// capabilities, its own log level, subscriptions and protocol version). At most `max_sessions`
// exist at once (for stdio: children, each with the server's full memory footprint); a session
// being closed still counts until it is gone.
//
// Thread-safe. Open blocks (spawn and handshake, up to the initialize timeout); Close never
// blocks: a session is stopped (HTTP DELETE, child exit) on the pool's own closer thread. Stop
// blocks until every session is closed.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "common/json_util.h"
#include "common/status.h"
#include "upstream/upstream.h"

namespace holdgate::upstream {

enum class SessionMode { kPerAgent, kShared };
// "per_agent" / "shared". False for anything else.
bool ParseSessionMode(const std::string& text, SessionMode* out);
const char* SessionModeName(SessionMode mode);

// What an agent said about itself in its initialize.
struct AgentHello {
  Json client_info;              // its clientInfo (null: holdgate's own is sent)
  Json capabilities;             // its ClientCapabilities
  std::string protocol_version;  // the version it asked for (one holdgate supports)
};

// Whether an agent speaking `protocol_version` gets an upstream session of its own: 2025-03-26 and
// later do; older agents stay on holdgate's shared session.
bool WantsOwnSession(const std::string& protocol_version);

class SessionPool {
 public:
  // Receives what one session's upstream says outside any request (notifications, server->client
  // requests on the GET stream or between calls), with the upstream it came from. Called on that
  // upstream's reader threads; must not block.
  using UnsolicitedFn = std::function<void(const std::shared_ptr<Upstream>&, const Json&)>;
  // Builds one (not yet started) upstream; tests inject their own.
  using Factory = std::function<std::unique_ptr<Upstream>(const Options&)>;

  // `base`: command or url, timeouts. The default factory picks stdio or HTTP by base.command.
  SessionPool(Options base, size_t max_sessions, Factory factory = nullptr);
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // Starts a session initialized with `hello` and returns it started. kResourceExhausted when
  // max_sessions are open; the upstream's own error when it cannot be reached or refuses.
  Result<std::shared_ptr<Upstream>> Open(const AgentHello& hello, UnsolicitedFn unsolicited);
  // Ends a session opened here: its in-flight requests get an error; never blocks. Null is ignored.
  void Close(std::shared_ptr<Upstream> session);
  // Closes every session and refuses new ones. Blocks until done.
  void Stop();

  size_t open_sessions() const;  // opened and not yet fully closed
  size_t max_sessions() const { return max_sessions_; }

 private:
  void RunCloser();

  const Options base_;
  const size_t max_sessions_;
  const Factory factory_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                                 // guarded by mu_
  size_t count_ = 0;                                      // guarded by mu_: open + starting + closing
  std::unordered_set<std::shared_ptr<Upstream>> open_;    // guarded by mu_
  std::deque<std::shared_ptr<Upstream>> closing_;         // guarded by mu_
  std::thread closer_;
};

}  // namespace holdgate::upstream
