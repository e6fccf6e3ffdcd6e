#pragma once
// UpstreamNames: with several upstreams ("upstreams" in the config), which upstream a tool name
// belongs to as agents call it (the upstream whose prefix it starts with, the longest; what the
// Fleet routes by). The surfaces that show a call name its upstream through it: approvals and
// audit events in the review API and the page, notification payloads, the CLI. With one
// upstream it holds nothing and Of() answers "".
//
// One per process (GlobalUpstreamNames()), set by the server at start-up. Thread-safe: Set and
// Of may run concurrently; Of never blocks for long (a copy of a shared pointer under a mutex).
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace holdgate {

class UpstreamNames {
 public:
  struct Upstream {
    std::string name;
    std::string prefix;
  };
  void Set(std::vector<Upstream> upstreams);
  // The upstream `tool` belongs to, or "" (one upstream, or no prefix matches).
  std::string Of(std::string_view tool) const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<Upstream>> upstreams_;  // guarded by mu_
};

UpstreamNames& GlobalUpstreamNames();

}  // namespace holdgate
