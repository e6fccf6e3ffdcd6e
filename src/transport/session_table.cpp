#include "transport/session_table.h"

namespace holdgate::transport {

SessionTable::AddResult SessionTable::Add(std::shared_ptr<Session> session) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sessions_.size() >= limits_.max_sessions) return AddResult::kFull;
  size_t& mine = per_principal_[session->principal()];
  if (mine >= limits_.max_per_principal) return AddResult::kPrincipalFull;
  ++mine;
  const std::string id = session->id();
  sessions_[id] = Entry{std::move(session), clock_.NowMs(), 0};
  return AddResult::kAdded;
}

std::shared_ptr<Session> SessionTable::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  it->second.last_used_ms = clock_.NowMs();
  return it->second.session;
}

std::shared_ptr<Session> SessionTable::Remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  auto session = it->second.session;
  Erase(it);
  return session;
}

std::shared_ptr<void> SessionTable::Open(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    ++it->second.open;
  }
  // The guard may outlive the table's use of this session (removed meanwhile): it then does nothing.
  return std::shared_ptr<void>(static_cast<void*>(this), [this, id](void*) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    --it->second.open;
    it->second.last_used_ms = clock_.NowMs();
  });
}

std::vector<std::shared_ptr<Session>> SessionTable::TakeIdle() {
  std::vector<std::shared_ptr<Session>> idle;
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto next = std::next(it);
    if (it->second.open == 0 && now - it->second.last_used_ms >= limits_.idle_timeout_ms) {
      idle.push_back(it->second.session);
      Erase(it);
    }
    it = next;
  }
  return idle;
}

std::vector<std::shared_ptr<Session>> SessionTable::TakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Session>> all;
  for (auto& [id, e] : sessions_) all.push_back(e.session);
  sessions_.clear();
  per_principal_.clear();
  return all;
}

std::vector<std::shared_ptr<Session>> SessionTable::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Session>> all;
  for (const auto& [id, e] : sessions_) all.push_back(e.session);
  return all;
}

size_t SessionTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

size_t SessionTable::CountFor(const std::string& principal) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_principal_.find(principal);
  return it == per_principal_.end() ? 0 : it->second;
}

void SessionTable::Erase(std::unordered_map<std::string, Entry>::iterator it) {
  auto p = per_principal_.find(it->second.session->principal());
  if (p != per_principal_.end() && --p->second == 0) per_principal_.erase(p);
  sessions_.erase(it);
}

}  // namespace holdgate::transport
