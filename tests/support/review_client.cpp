#include "support/review_client.h"

#include <httplib.h>

#include "review/jwt_auth.h"
#include "support/process.h"

namespace holdgate::testing {

std::string MintToken(const std::string& sub, const std::string& role, int64_t ttl_s) {
  review::Role r = review::Role::kReviewer;
  review::ParseRole(role, &r);
  auto token = review::MintHs256(kTestJwtSecret, sub, r, ttl_s);
  return token.ok() ? token.value() : "";
}

ReviewClient::ReviewClient(int port, std::string sub, std::string role)
    : port_(port), token_(MintToken(sub, role)) {}

ReviewClient::Reply ReviewClient::Get(const std::string& path) {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_read_timeout(30, 0);
  Reply reply;
  auto res = cli.Get(path.c_str(), {{"Authorization", "Bearer " + token_}});
  if (!res) return reply;
  reply.status = res->status;
  auto parsed = ParseJson(res->body);
  if (parsed.ok()) reply.body = parsed.value();
  return reply;
}

ReviewClient::Reply ReviewClient::Post(const std::string& path, const Json& body) {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_read_timeout(30, 0);
  Reply reply;
  auto res = cli.Post(path.c_str(), {{"Authorization", "Bearer " + token_}}, DumpJson(body), "application/json");
  if (!res) return reply;
  reply.status = res->status;
  auto parsed = ParseJson(res->body);
  if (parsed.ok()) reply.body = parsed.value();
  return reply;
}

ReviewClient::Reply ReviewClient::Approve(const std::string& id, const std::string& reason) {
  Json body = Json::object();
  if (!reason.empty()) body["reason"] = reason;
  return Post("/api/approvals/" + id + "/approve", body);
}

ReviewClient::Reply ReviewClient::Reject(const std::string& id, const std::string& reason) {
  return Post("/api/approvals/" + id + "/reject", Json{{"reason", reason}});
}

Json ReviewClient::Pending() {
  Reply r = Get("/api/approvals?state=pending");
  return r.body.is_object() ? r.body.value("approvals", Json::array()) : Json::array();
}

Json ReviewClient::WaitForPending(int count, int timeout_ms) {
  Json found;
  WaitUntil([&] {
    Json list = Pending();
    if (list.is_array() && static_cast<int>(list.size()) == count) {
      found = list[0];
      return true;
    }
    return false;
  }, timeout_ms);
  return found;
}

}  // namespace holdgate::testing
