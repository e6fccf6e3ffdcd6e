#pragma once
// GuardedServer: the httplib::Server both listeners (agents' /mcp, reviewers' API) run on,
// hardened where cpp-httplib 0.11.4 is not:
//   - a thread per connection (small stacks), so idle or held connections never queue other
//     requests behind a fixed pool; a thread whose connection ended waits up to 2 s as a spare
//     (at most 32) and serves the next connection, so reconnecting costs no thread creation;
//   - a cap on open connections, in total and per client IP; over it a connection gets a 503 and
//     is closed at once;
//   - deadlines for a whole request head (header_timeout, from its first byte) and a whole body
//     (body_timeout), and for the wait between keep-alive requests (idle_timeout), so a client
//     that trickles bytes cannot keep a connection past them (the library only bounds each read);
//   - request framing: Content-Length together with Transfer-Encoding, several Content-Lengths,
//     a Content-Length that is not a plain number, a Transfer-Encoding other than "chunked", or a
//     header name with spaces gets 400 and the connection closed, before any body is read
//     (request smuggling through a proxy that frames the request differently);
//   - writes: a response with a Content-Length leaves in one segment (its head is held back and
//     sent with the body), and a write costs one peek for a closed peer, not a poll first;
//   - with `park_replies`, a streamed reply can leave its thread (ParkConnection): the rest of the
//     reply and the wait for the connection's next request are kept by one epoll thread
//     (httpd/parked_connections.h), so a held call costs a socket, not a thread.
// Routes, handlers and the other settings are httplib's as usual. Configure before
// listen_after_bind(); the counters are thread-safe. Blocking: a connection's thread runs its
// requests' handlers.
#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/config.h"
#include "httpd/parked_connections.h"

namespace holdgate::httpd {

struct GuardOptions {
  ListenerLimits limits;
  size_t thread_stack_bytes = 256 * 1024;
  // Body of the 400 and 503 answers this layer writes itself, for `message`.
  std::function<std::string(const std::string& message)> error_body;
  std::string error_content_type = "application/json";
  // Lets handlers park their connections (ParkConnection); parked replies get `heartbeat` as a
  // chunk after heartbeat_ms without a write.
  bool park_replies = false;
  int64_t heartbeat_ms = 15'000;
  std::string heartbeat;
  int64_t parked_write_timeout_ms = 30'000;  // a parked reply whose writes stall this long is dropped
};

// For a chunked content provider running on a GuardedServer connection's thread, on its first
// call: hands the connection (its response head sent) to the server's parked-connection loop,
// which sends the rest of the body from `reply` and keeps the connection until its next request
// without a thread. On true the provider must return false at once without touching its sink
// (httplib then writes nothing more, and the provider's releaser sees success=false, which is
// then no failure). False when the connection cannot be parked: the server does not park, the
// thread serves no GuardedServer connection, or bytes of a next request have already been read;
// the provider then goes on as usual.
bool ParkConnection(std::shared_ptr<ParkedReply> reply);

// For a handler about to park its connection's thread (a held call waiting for its decision):
// returns to the kernel the pages of the calling thread's stack more than `keep_bytes` below the
// caller's frame. They hold nothing live (the stack grows down); touched again, they come back
// as zero pages. Deep work done earlier on the thread (parsing, the store) leaves them resident
// otherwise, for as long as the call is parked. Safe on any thread; never blocks.
void ReleaseStackBelowCaller(size_t keep_bytes = 4 * 1024);

class GuardedServer final : public httplib::Server {
 public:
  explicit GuardedServer(GuardOptions options);
  ~GuardedServer() override;

  size_t open_connections() const { return open_.load(); }
  // Connections parked now (without a thread), part of open_connections().
  size_t parked_connections() const { return parked_ ? parked_->size() : 0; }

  // The framing check alone: "" when the headers frame a request unambiguously, else why not.
  static std::string FramingError(const httplib::Headers& headers);

 private:
  class Threads;
  class QueueHandle;

  bool process_and_close_socket(socket_t sock) override;
  // Serves an admitted connection's requests (from its first request, or its next one when a
  // parked connection resumes), then closes it, unless a handler parked it.
  void Serve(socket_t sock, const std::string& ip, size_t keep_alive_left, bool first);
  // Reserves a slot for a connection from `ip`; false when a cap is reached.
  bool Admit(const std::string& ip);
  void Release(const std::string& ip);
  // A complete HTTP response refusing the connection (Connection: close).
  std::string Refusal(int status, const std::string& message) const;
  void Refuse(socket_t sock, int status, const std::string& message) const;

  const GuardOptions options_;
  std::unique_ptr<Threads> threads_;           // a thread per connection being served
  std::unique_ptr<ParkedConnections> parked_;  // null unless park_replies
  std::atomic<size_t> open_{0};
  std::mutex mu_;
  std::map<std::string, size_t> per_ip_;  // guarded by mu_
};

}  // namespace holdgate::httpd
