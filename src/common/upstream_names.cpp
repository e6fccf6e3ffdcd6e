#include "common/upstream_names.h"

namespace holdgate {

void UpstreamNames::Set(std::vector<Upstream> upstreams) {
  auto shared = std::make_shared<const std::vector<Upstream>>(std::move(upstreams));
  std::lock_guard<std::mutex> lock(mu_);
  upstreams_ = std::move(shared);
}

std::string UpstreamNames::Of(std::string_view tool) const {
  std::shared_ptr<const std::vector<Upstream>> list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    list = upstreams_;
  }
  if (!list) return "";
  const Upstream* best = nullptr;
  for (const Upstream& u : *list) {
    if (tool.substr(0, u.prefix.size()) != u.prefix) continue;
    if (best == nullptr || u.prefix.size() > best->prefix.size()) best = &u;
  }
  return best == nullptr ? "" : best->name;
}

UpstreamNames& GlobalUpstreamNames() {
  static UpstreamNames* names = new UpstreamNames();  // never destroyed: read until exit
  return *names;
}

}  // namespace holdgate
