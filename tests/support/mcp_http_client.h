#pragma once
// A minimal Streamable HTTP MCP client for C++ integration tests: raw POSTs (to test bad input)
// and whole exchanges (initialize, tools/call) with SSE replies parsed into messages. Blocking;
// one client per thread.
#include <map>
#include <string>
#include <vector>

#include "common/json_util.h"

namespace holdgate::testing {

struct HttpReply {
  int status = 0;  // 0: connection failed
  std::string content_type;
  std::string body;
  std::multimap<std::string, std::string> headers;
  std::vector<Json> messages;  // JSON body or every SSE data event, parsed
  std::string Header(const std::string& name) const;
  // The JSON-RPC response among `messages` (the one with an id and result/error), or null.
  Json Response() const;
};

class McpHttpClient {
 public:
  McpHttpClient(std::string host, int port, std::string path = "/mcp");

  // POSTs `body` as is, with default MCP headers (+ session id once known) unless overridden.
  HttpReply PostRaw(const std::string& body, const std::multimap<std::string, std::string>& headers = {});
  HttpReply Post(const Json& message, const std::multimap<std::string, std::string>& headers = {});
  HttpReply Get(const std::multimap<std::string, std::string>& headers = {}, int read_timeout_s = 5);
  HttpReply Delete();
  // Opens the session's GET stream and reads until `needle` appears (true) or timeout (false).
  bool ReadGetStreamUntil(const std::string& needle, int timeout_ms);

  // initialize + notifications/initialized; remembers the session id. Returns the result.
  Json Initialize(const Json& capabilities = Json::object(), const std::string& bearer = "");
  // tools/call; returns the whole final JSON-RPC response.
  Json CallTool(const std::string& name, const Json& arguments, const Json& meta = nullptr);
  Json ListTools();

  const std::string& session_id() const { return session_id_; }
  void set_session_id(std::string id) { session_id_ = std::move(id); }
  void set_bearer(std::string token) { bearer_ = std::move(token); }
  void set_read_timeout_s(int s) { read_timeout_s_ = s; }
  int next_id() { return ++next_id_; }

 private:
  std::string host_;
  int port_;
  std::string path_;
  std::string session_id_;
  std::string bearer_;
  int next_id_ = 0;
  int read_timeout_s_ = 120;
};

}  // namespace holdgate::testing
