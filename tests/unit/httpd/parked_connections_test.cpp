// ParkedConnections over socketpairs: the rest of a reply as chunks, heartbeats, the peer leaving,
// the wait for the next request, close-after, idle timeout and Stop.
#include <catch2/catch.hpp>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "httpd/parked_connections.h"
#include "support/raw_conn.h"

namespace holdgate::httpd {
namespace {

using testing::RawConn;

// A reply fed by the test: Push/End from the test thread, read by the loop.
class FakeReply final : public ParkedReply {
 public:
  explicit FakeReply(bool close_after = false) : close_after_(close_after) {}
  void Push(const std::string& text, bool end = false) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_ += text;
      ended_ = ended_ || end;
      wake = wake_;
    }
    if (wake) wake();
  }
  void SetWakeup(std::function<void()> wake) override {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
  }
  bool TakeReady(std::string* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    out->append(ready_);
    ready_.clear();
    return ended_;
  }
  bool CloseAfter() const override { return close_after_; }
  void Abandoned() override { ++abandoned; }

  std::atomic<int> abandoned{0};

 private:
  const bool close_after_;
  std::mutex mu_;
  std::string ready_;                // guarded by mu_
  bool ended_ = false;               // guarded by mu_
  std::function<void()> wake_;       // guarded by mu_
};

// What the loop hands back: resumed sockets and closed peers, awaited by the test.
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int, size_t>> resumed;  // fd, keep_alive_left
  std::vector<std::string> closed;

  template <typename Pred>
  bool WaitFor(Pred pred, int timeout_ms = 5000) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return pred(); });
  }
};

ParkedConnectionOptions Options(Outcomes& outcomes, int64_t heartbeat_ms = 60'000, int64_t idle_ms = 60'000) {
  ParkedConnectionOptions o;
  o.heartbeat_ms = heartbeat_ms;
  o.heartbeat = ": ping\n\n";
  o.idle_timeout_ms = idle_ms;
  o.write_timeout_ms = 5'000;
  o.resume = [&outcomes](int fd, const std::string&, size_t left) {
    std::lock_guard<std::mutex> lock(outcomes.mu);
    outcomes.resumed.emplace_back(fd, left);
    outcomes.cv.notify_all();
  };
  o.closed = [&outcomes](const std::string& peer) {
    std::lock_guard<std::mutex> lock(outcomes.mu);
    outcomes.closed.push_back(peer);
    outcomes.cv.notify_all();
  };
  return o;
}

// A connected pair: `ours` goes to the loop, the returned RawConn is the peer.
RawConn Pair(int* ours) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  *ours = fds[0];
  return RawConn::Adopt(fds[1]);
}

}  // namespace

TEST_CASE("parked: the rest of a reply goes out as chunks, the next request resumes the connection",
          "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes));
  int fd;
  RawConn peer = Pair(&fd);
  auto reply = std::make_shared<FakeReply>();
  reply->Push("event one\n\n");  // ready before the loop takes the connection
  parked.Adopt(fd, "peer-a", reply, /*close_after=*/false, /*keep_alive_left=*/7);
  CHECK(peer.ReadUntil("event one\n\n\r\n", 5000) == "b\r\nevent one\n\n\r\n");
  CHECK(parked.size() == 1);

  reply->Push("final\n\n", /*end=*/true);
  CHECK(peer.ReadUntil("0\r\n\r\n", 5000) == "7\r\nfinal\n\n\r\n0\r\n\r\n");

  REQUIRE(peer.Send("POST /mcp HTTP/1.1\r\n"));
  REQUIRE(outcomes.WaitFor([&] { return !outcomes.resumed.empty(); }));
  CHECK(outcomes.resumed[0].first == fd);
  CHECK(outcomes.resumed[0].second == 7);
  CHECK(outcomes.closed.empty());
  CHECK(reply->abandoned == 0);
  CHECK(parked.size() == 0);
  close(fd);  // handed back: the test plays the thread that would serve it
}

TEST_CASE("parked: a peer that leaves before the reply ended abandons it, once", "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes));
  int fd;
  auto reply = std::make_shared<FakeReply>();
  {
    RawConn peer = Pair(&fd);
    parked.Adopt(fd, "peer-b", reply, false, 10);
    reply->Push("progress\n\n");
    CHECK(peer.ReadUntil("progress", 5000).find("progress") != std::string::npos);
  }  // the peer closes
  REQUIRE(outcomes.WaitFor([&] { return outcomes.closed.size() == 1; }));
  CHECK(outcomes.closed[0] == "peer-b");
  CHECK(reply->abandoned == 1);
  CHECK(parked.size() == 0);
  reply->Push("late answer\n\n", true);  // a late answer goes nowhere and breaks nothing
  CHECK(outcomes.resumed.empty());
}

TEST_CASE("parked: a quiet reply gets heartbeats", "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes, /*heartbeat_ms=*/50));
  int fd;
  RawConn peer = Pair(&fd);
  auto reply = std::make_shared<FakeReply>();
  parked.Adopt(fd, "peer-c", reply, false, 10);
  const std::string beat = "8\r\n: ping\n\n\r\n";
  std::string got = peer.ReadUntil(beat + beat, 5000);
  CHECK(got.substr(0, 2 * beat.size()) == beat + beat);
  reply->Push("done\n\n", true);
  CHECK(peer.ReadUntil("0\r\n\r\n", 5000).find("6\r\ndone\n\n\r\n0\r\n\r\n") != std::string::npos);
  CHECK(reply->abandoned == 0);
}

TEST_CASE("parked: heartbeats due together all go out, a few per round", "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes, /*heartbeat_ms=*/50));
  constexpr int kConns = 100;  // more than one round's worth
  std::vector<RawConn> peers;
  std::vector<std::shared_ptr<FakeReply>> replies;
  for (int i = 0; i < kConns; ++i) {
    int fd;
    peers.push_back(Pair(&fd));
    replies.push_back(std::make_shared<FakeReply>());
    parked.Adopt(fd, "p", replies.back(), false, 10);
  }
  const std::string beat = "8\r\n: ping\n\n\r\n";
  int with_two = 0;
  for (auto& peer : peers) {
    if (peer.ReadUntil(beat + beat, 5000).substr(0, 2 * beat.size()) == beat + beat) ++with_two;
  }
  CHECK(with_two == kConns);
  for (auto& r : replies) CHECK(r->abandoned == 0);
}

TEST_CASE("parked: close-after and an exhausted keep-alive close the connection after the reply",
          "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes));
  const bool reply_says_close = GENERATE(true, false);
  int fd;
  RawConn peer = Pair(&fd);
  auto reply = std::make_shared<FakeReply>(reply_says_close);
  // Not closing by the reply's word: by a keep-alive allowance of zero.
  parked.Adopt(fd, "peer-d", reply, false, reply_says_close ? 5 : 0);
  reply->Push("answer\n\n", true);
  bool closed = false;
  CHECK(peer.ReadAll(5000, &closed) == "8\r\nanswer\n\n\r\n0\r\n\r\n");
  CHECK(closed);
  REQUIRE(outcomes.WaitFor([&] { return outcomes.closed.size() == 1; }));
  CHECK(outcomes.resumed.empty());
  CHECK(reply->abandoned == 0);
}

TEST_CASE("parked: a connection with no next request within the idle timeout is closed", "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes, 60'000, /*idle_ms=*/100));
  int fd;
  RawConn peer = Pair(&fd);
  auto reply = std::make_shared<FakeReply>();
  reply->Push("answer\n\n", true);
  const auto start = std::chrono::steady_clock::now();
  parked.Adopt(fd, "peer-e", reply, false, 10);
  bool closed = false;
  CHECK(peer.ReadAll(5000, &closed) == "8\r\nanswer\n\n\r\n0\r\n\r\n");
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(100));
  REQUIRE(outcomes.WaitFor([&] { return outcomes.closed.size() == 1; }));
  CHECK(outcomes.resumed.empty());
}

TEST_CASE("parked: Stop sends what is ready, abandons unfinished replies, a later Adopt closes at once",
          "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes));
  int fd1, fd2;
  RawConn finished_peer = Pair(&fd1);
  RawConn waiting_peer = Pair(&fd2);
  auto finished = std::make_shared<FakeReply>();
  auto waiting = std::make_shared<FakeReply>();
  parked.Adopt(fd1, "p1", finished, false, 10);
  parked.Adopt(fd2, "p2", waiting, false, 10);
  finished->Push("deferred\n\n", true);
  CHECK(finished_peer.ReadUntil("0\r\n\r\n", 5000) == "a\r\ndeferred\n\n\r\n0\r\n\r\n");
  parked.Stop();
  bool closed = false;
  finished_peer.ReadAll(5000, &closed);
  CHECK(closed);
  waiting_peer.ReadAll(5000, &closed);
  CHECK(closed);
  CHECK(finished->abandoned == 0);
  CHECK(waiting->abandoned == 1);
  CHECK(outcomes.closed.size() == 2);

  int fd3;
  RawConn late_peer = Pair(&fd3);
  auto late = std::make_shared<FakeReply>();
  parked.Adopt(fd3, "p3", late, false, 10);
  CHECK(late->abandoned == 1);
  late_peer.ReadAll(5000, &closed);
  CHECK(closed);
  CHECK(outcomes.closed.size() == 3);
  CHECK(outcomes.resumed.empty());
  CHECK(parked.size() == 0);
}

}  // namespace holdgate::httpd

namespace holdgate::httpd {

TEST_CASE("parked: adoptions and answers racing from several threads all go out (no lost wake-up)",
          "[httpd][parked]") {
  Outcomes outcomes;
  ParkedConnections parked(Options(outcomes));
  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::vector<RawConn> peers;
  std::vector<int> fds;
  for (int i = 0; i < kThreads * kEach; ++i) {
    int fd;
    peers.push_back(Pair(&fd));
    fds.push_back(fd);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * kEach; i < (t + 1) * kEach; ++i) {
        auto reply = std::make_shared<FakeReply>(/*close_after=*/true);
        parked.Adopt(fds[static_cast<size_t>(i)], "p" + std::to_string(i), reply, false, 10);
        reply->Push("answer " + std::to_string(i) + "\n\n", true);
      }
    });
  }
  for (auto& t : threads) t.join();
  // Each answer goes out within the loop's own reaction time: far below a sweep or a heartbeat.
  int complete = 0;
  for (int i = 0; i < kThreads * kEach; ++i) {
    bool closed = false;
    const std::string got = peers[static_cast<size_t>(i)].ReadAll(3000, &closed);
    if (closed && got.find("answer " + std::to_string(i) + "\n\n") != std::string::npos) ++complete;
  }
  CHECK(complete == kThreads * kEach);
  CHECK(outcomes.WaitFor([&] { return outcomes.closed.size() == kThreads * kEach; }));
  for (int round = 0; round < 20; ++round) {  // Stop racing a wake-up must still return
    Outcomes o2;
    ParkedConnections p2(Options(o2));
    int fd;
    RawConn peer = Pair(&fd);
    auto reply = std::make_shared<FakeReply>();
    p2.Adopt(fd, "q", reply, false, 10);
    std::thread pusher([&] { reply->Push("x\n\n", true); });
    p2.Stop();
    pusher.join();
    CHECK(p2.size() == 0);
  }
}

}  // namespace holdgate::httpd
