#include "support/mcp_http_client.h"

#include <httplib.h>

#include "transport/sse.h"

namespace holdgate::testing {

std::string HttpReply::Header(const std::string& name) const {
  for (auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return "";
}

Json HttpReply::Response() const {
  for (const auto& m : messages) {
    if (m.is_object() && m.contains("id") && (m.contains("result") || m.contains("error"))) return m;
  }
  return nullptr;
}

McpHttpClient::McpHttpClient(std::string host, int port, std::string path)
    : host_(std::move(host)), port_(port), path_(std::move(path)) {}

HttpReply McpHttpClient::PostRaw(const std::string& body, const std::multimap<std::string, std::string>& extra) {
  httplib::Client cli(host_, port_);
  cli.set_read_timeout(read_timeout_s_, 0);
  httplib::Headers headers = {{"Accept", "application/json, text/event-stream"}};
  if (!session_id_.empty()) headers.emplace("Mcp-Session-Id", session_id_);
  if (!bearer_.empty()) headers.emplace("Authorization", "Bearer " + bearer_);
  for (auto& [k, v] : extra) {
    headers.erase(k);
    if (!v.empty()) headers.emplace(k, v);
  }
  std::string content_type = "application/json";
  if (auto it = extra.find("Content-Type"); it != extra.end()) content_type = it->second;
  headers.erase("Content-Type");
  HttpReply reply;
  auto res = cli.Post(path_.c_str(), headers, body, content_type.c_str());
  if (!res) return reply;
  reply.status = res->status;
  reply.body = res->body;
  reply.content_type = res->get_header_value("Content-Type");
  for (auto& [k, v] : res->headers) reply.headers.emplace(k, v);
  if (reply.content_type.rfind("text/event-stream", 0) == 0) {
    transport::SseParser parser([&](const transport::SseEvent& ev) {
      if (ev.data.empty()) return;
      auto parsed = ParseJson(ev.data);
      if (parsed.ok()) reply.messages.push_back(parsed.value());
    });
    parser.Feed(reply.body);
  } else if (!reply.body.empty()) {
    auto parsed = ParseJson(reply.body);
    if (parsed.ok()) reply.messages.push_back(parsed.value());
  }
  return reply;
}

HttpReply McpHttpClient::Post(const Json& message, const std::multimap<std::string, std::string>& headers) {
  return PostRaw(DumpJson(message), headers);
}

HttpReply McpHttpClient::Get(const std::multimap<std::string, std::string>& extra, int read_timeout_s) {
  httplib::Client cli(host_, port_);
  cli.set_read_timeout(read_timeout_s, 0);
  httplib::Headers headers = {{"Accept", "text/event-stream"}};
  if (!session_id_.empty()) headers.emplace("Mcp-Session-Id", session_id_);
  for (auto& [k, v] : extra) {
    headers.erase(k);
    if (!v.empty()) headers.emplace(k, v);
  }
  HttpReply reply;
  auto res = cli.Get(path_.c_str(), headers);
  if (!res) return reply;
  reply.status = res->status;
  reply.body = res->body;
  reply.content_type = res->get_header_value("Content-Type");
  return reply;
}

bool McpHttpClient::ReadGetStreamUntil(const std::string& needle, int timeout_ms) {
  httplib::Client cli(host_, port_);
  cli.set_read_timeout(timeout_ms / 1000 + 1, 0);
  httplib::Headers headers = {{"Accept", "text/event-stream"}};
  if (!session_id_.empty()) headers.emplace("Mcp-Session-Id", session_id_);
  std::string seen;
  bool found = false;
  cli.Get(path_.c_str(), headers, [&](const char* data, size_t n) {
    seen.append(data, n);
    found = seen.find(needle) != std::string::npos;
    return !found;  // stop reading once it is there
  });
  return found;
}

HttpReply McpHttpClient::Delete() {
  httplib::Client cli(host_, port_);
  httplib::Headers headers;
  if (!session_id_.empty()) headers.emplace("Mcp-Session-Id", session_id_);
  if (!bearer_.empty()) headers.emplace("Authorization", "Bearer " + bearer_);
  HttpReply reply;
  auto res = cli.Delete(path_.c_str(), headers);
  if (res) reply.status = res->status;
  return reply;
}

Json McpHttpClient::Initialize(const Json& capabilities, const std::string& bearer) {
  if (!bearer.empty()) bearer_ = bearer;
  session_id_.clear();
  Json init = {{"jsonrpc", "2.0"}, {"id", next_id()}, {"method", "initialize"},
               {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", capabilities},
                           {"clientInfo", {{"name", "holdgate-test"}, {"version", "0"}}}}}};
  HttpReply r = Post(init);
  session_id_ = r.Header("Mcp-Session-Id");
  Post(Json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  Json resp = r.Response();
  return resp.is_null() ? Json() : resp.value("result", Json());
}

Json McpHttpClient::CallTool(const std::string& name, const Json& arguments, const Json& meta) {
  Json params = {{"name", name}, {"arguments", arguments}};
  if (!meta.is_null()) params["_meta"] = meta;
  HttpReply r = Post(Json{{"jsonrpc", "2.0"}, {"id", next_id()}, {"method", "tools/call"}, {"params", params}});
  return r.Response();
}

Json McpHttpClient::ListTools() {
  HttpReply r = Post(Json{{"jsonrpc", "2.0"}, {"id", next_id()}, {"method", "tools/list"}, {"params", Json::object()}});
  return r.Response();
}

}  // namespace holdgate::testing
