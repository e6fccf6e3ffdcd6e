#pragma once
// ParkedConnections: one epoll thread that keeps connections whose threads have gone: a
// streamed (chunked) reply still being sent, such as a held call waiting for its decision, and
// afterwards the wait for the connection's next request. A parked connection costs a socket and
// a few hundred bytes, not a thread with its stack and malloc cache.
//
// For each connection it owns:
//   - the rest of the reply: ParkedReply::TakeReady is asked for bytes whenever the reply wakes
//     the loop, and they go out as chunks; when the reply has ended, the last chunk is written;
//   - a heartbeat (the given bytes, as a chunk) after heartbeat_ms without a write;
//   - the peer leaving (FIN, reset) before the reply ended: ParkedReply::Abandoned, then close;
//   - a write that makes no progress for write_timeout_ms: Abandoned, then close;
//   - after the reply, unless the connection is to close: the wait for the next request, up to
//     idle_timeout_ms; when its first bytes arrive the socket goes back to `resume` (a thread
//     serves it again), else it is closed.
// Every connection handed over ends in exactly one of `resume` or `closed` (with its peer
// address), so its owner can keep count of open connections.
//
// Threads: Adopt, Stop and the wake-ups from replies may be called from any thread. ParkedReply
// methods and the callbacks run on the loop's thread (Abandoned and `closed` also in Stop and in
// an Adopt after Stop, on the calling thread). Never blocks except Stop, which joins the loop.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace holdgate::httpd {

// The source of a parked reply's body.
class ParkedReply {
 public:
  virtual ~ParkedReply() = default;
  // Installs the function the reply calls (on any thread, never under a lock the loop could
  // wait for) whenever TakeReady has something new; null uninstalls it. Called by the loop.
  virtual void SetWakeup(std::function<void()> wake) = 0;
  // Appends to `out` what is to be sent now, and returns true when the reply has ended (nothing
  // more will come). Never blocks.
  virtual bool TakeReady(std::string* out) = 0;
  // The connection closes once this reply has ended (asked then).
  virtual bool CloseAfter() const = 0;
  // False for a body that cannot carry the loop's heartbeat (a JSON reply). Asked once, at Adopt.
  virtual bool WantsHeartbeats() const { return true; }
  // The reply will never be sent: the peer left, a write stalled, or holdgate is stopping.
  virtual void Abandoned() = 0;
};

struct ParkedConnectionOptions {
  int64_t heartbeat_ms = 15'000;
  std::string heartbeat;            // body bytes of a heartbeat; empty: none
  int64_t idle_timeout_ms = 5'000;  // after a reply, the wait for the next request
  int64_t write_timeout_ms = 30'000;
  // Runs on the loop's thread with a connection whose next request has begun to arrive.
  // `keep_alive_left` is how many more requests the connection may carry.
  std::function<void(int fd, const std::string& peer, size_t keep_alive_left)> resume;
  // Runs once the connection is closed.
  std::function<void(const std::string& peer)> closed;
};

class ParkedConnections {
 public:
  explicit ParkedConnections(ParkedConnectionOptions options);
  ~ParkedConnections();  // Stop()s
  ParkedConnections(const ParkedConnections&) = delete;
  ParkedConnections& operator=(const ParkedConnections&) = delete;

  // Takes over `fd` (a connected socket whose response head has been sent) with `reply` for
  // the rest of its body. `close_after` closes it after the reply whatever the reply says;
  // keep_alive_left as for `resume`. After Stop, the reply is Abandoned and the socket closed.
  void Adopt(int fd, std::string peer, std::shared_ptr<ParkedReply> reply, bool close_after,
             size_t keep_alive_left);

  // Sends what is ready for every reply (without waiting), then Abandons the replies that have not
  // ended and closes every connection; later Adopts close at once. Joins the loop. Idempotent.
  void Stop();

  // Connections parked now (replying or waiting for a next request).
  size_t size() const { return count_.load(); }

 private:
  struct Conn;
  struct Wakeups;
  using SteadyClock = std::chrono::steady_clock;

  void Loop();
  void TakeAdopted();
  // Takes the adopted connections and sends what woken replies have ready.
  void TakeQueued();
  void OnSocketEvent(Conn& conn, uint32_t events);
  // Takes what the reply has ready into the output and sends what it can.
  void Pump(Conn& conn);
  // Sends buffered output; moves a finished reply on to idle or closed. False when closed.
  bool Flush(Conn& conn);
  void Watch(Conn& conn, uint32_t events);
  void Close(uint64_t id, bool abandon);
  // Closes connections past their idle or write deadline and lists those due a heartbeat.
  void Sweep(SteadyClock::time_point now);
  bool HeartbeatDue(const Conn& conn, SteadyClock::time_point now) const;
  // Sends a few of the listed heartbeats (the loop comes back for the rest after its events).
  void SendHeartbeats(SteadyClock::time_point now);
  // At stop: takes what is ready, then closes every connection.
  void Drain();

  const ParkedConnectionOptions options_;
  const std::shared_ptr<Wakeups> wakeups_;  // outlives the loop: replies may still call in
  int epoll_fd_ = -1;
  std::thread thread_;
  std::atomic<size_t> count_{0};

  std::mutex mu_;
  struct Adoption {
    int fd;
    std::string peer;
    std::shared_ptr<ParkedReply> reply;
    bool close_after;
    size_t keep_alive_left;
  };
  std::vector<Adoption> adopted_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
  std::vector<uint64_t> heartbeats_due_;
};

}  // namespace holdgate::httpd
