#pragma once
// SessionTable: the HTTP transport's live sessions, with caps (in total and per principal) and
// idle expiry measured on an injected Clock. A session is idle when no request or stream of it
// is open and none has ended for `idle_timeout_ms`; an open request (a held call, a GET stream)
// keeps it alive however long it lasts. Thread-safe; never blocks beyond its own mutex.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "transport/session.h"

namespace holdgate::transport {

struct SessionLimits {
  size_t max_sessions = 100000;
  size_t max_per_principal = 1000;
  int64_t idle_timeout_ms = 3'600'000;
};

class SessionTable {
 public:
  // REQUIRES: clock outlives the table.
  SessionTable(SessionLimits limits, const Clock& clock) : limits_(limits), clock_(clock) {}

  enum class AddResult { kAdded, kPrincipalFull, kFull };
  AddResult Add(std::shared_ptr<Session> session);

  // The session with this id (null when unknown), marked used now.
  std::shared_ptr<Session> Find(const std::string& id);
  // Removes and returns the session (null when unknown).
  std::shared_ptr<Session> Remove(const std::string& id);

  // Marks a request or stream of `id` open until the returned guard is destroyed; an open session
  // never expires.
  std::shared_ptr<void> Open(const std::string& id);

  // Removes and returns every idle session. The caller closes them.
  std::vector<std::shared_ptr<Session>> TakeIdle();
  std::vector<std::shared_ptr<Session>> TakeAll();
  std::vector<std::shared_ptr<Session>> Snapshot() const;

  size_t size() const;
  size_t CountFor(const std::string& principal) const;
  const SessionLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    int64_t last_used_ms = 0;
    int open = 0;  // requests and streams in progress
  };
  void Erase(std::unordered_map<std::string, Entry>::iterator it);  // REQUIRES: mu_ held

  const SessionLimits limits_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> sessions_;         // guarded by mu_
  std::unordered_map<std::string, size_t> per_principal_;  // guarded by mu_
};

}  // namespace holdgate::transport
