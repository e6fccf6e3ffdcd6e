// The attack suite, against a real holdgate process: DNS rebinding (foreign Host/Origin), oversized
// and deeply nested JSON, invalid UTF-8, header and SSE injection through echoed values, path
// traversal on the static UI, CSRF on the review API, SQL metacharacters in every filter, XSS
// payloads, the JWT attack set, Slack replay on /slack/actions, hidden tools, self
// approval, and a reviewer token used as an agent key. Each: refused with the right status,
// nothing decided (checked through the review API and the upstream's request log), and the audit
// log records the attempt where holdgate audits that kind of refusal; the chain always verifies.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/crypto.h"
#include "integration/resilience_fixture.h"
#include "review/jwt_auth.h"
#include "unit/review/test_keys.h"

namespace holdgate::testing {
namespace {

using namespace resilience;

// A policy with a hidden tool (stats) and a held one (cancel_job).
std::string AttackPolicy() {
  return R"({"version":"1","default":"allow","hide":["stats"],"tools":{
    "cancel_job":{"action":"require_approval","approval":{"approvers":1,"timeout":"10m","hold":"60s"}},
    "slow_echo":{"action":"require_approval","approval":{"approvers":1,"timeout":"10m","hold":"60s"}}}})";
}

// Sends `request` verbatim on a new connection and returns everything the server answered.
std::string RawHttp(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = write(fd, request.data() + off, request.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

int StatusOf(const std::string& raw) {
  return raw.size() > 12 && raw.rfind("HTTP/1.", 0) == 0 ? std::atoi(raw.c_str() + 9) : 0;
}

std::string HeadersOf(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n")); }

struct Reply {
  int status = 0;
  std::string body;
  Json json;
  httplib::Headers headers;
};

// One request to the review listener with exactly these headers.
Reply Review(int port, const std::string& method, const std::string& path, const httplib::Headers& headers,
             const std::string& body = "") {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(30, 0);
  httplib::Result res = method == "GET" ? cli.Get(path.c_str(), headers)
                                        : cli.Post(path.c_str(), headers, body, "application/json");
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  auto parsed = ParseJson(res->body);
  if (parsed.ok()) r.json = parsed.value();
  return r;
}

httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// A held cancel_job call that stays pending while the test attacks it.
struct HeldCall {
  Instance& h;
  McpHttpClient agent;
  Json reply;
  std::thread thread;
  std::string id;
  HeldCall(Instance& inst, const std::string& job, const std::string& bearer = "", const std::string& reviewer_token = "")
      : h(inst), agent(inst.Agent(bearer)) {
    thread = std::thread([this, job] { reply = agent.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}}); });
    if (reviewer_token.empty()) {
      Json p = h.Reviewer().WaitForPending();
      REQUIRE(p.is_object());
      id = p["id"];
    } else {
      REQUIRE(WaitUntil([&] {
        Reply r = Review(h.gw().review_port, "GET", "/api/approvals?state=pending", Bearer(reviewer_token));
        if (r.status != 200 || r.json["approvals"].empty()) return false;
        id = r.json["approvals"][0]["id"];
        return true;
      }));
    }
  }
  ~HeldCall() {
    if (thread.joinable()) {  // a failed REQUIRE left it waiting: end the hold by killing holdgate
      h.Kill();
      thread.join();
    }
  }
  // Rejects it (so the agent thread ends) as `token`'s reviewer.
  void Finish(const std::string& token) {
    Review(h.gw().review_port, "POST", "/api/approvals/" + id + "/reject", Bearer(token), R"({"reason":"test over"})");
    thread.join();
  }
};

size_t CountAudit(const Json& events, const std::string& key, const std::string& needle) {
  size_t n = 0;
  for (const auto& e : events) {
    if (DumpJson(e.value(key, Json())).find(needle) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("attacks: foreign Host and Origin on /mcp and on the review API (DNS rebinding, CSRF)", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  HeldCall call(h, "job-csrf");
  const int mcp = h.gw().mcp_port, review = h.gw().review_port;
  const std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  McpHttpClient agent = h.Agent();

  SECTION("/mcp refuses foreign Host and Origin with 403 and keeps serving") {
    for (auto headers : std::vector<std::multimap<std::string, std::string>>{
             {{"Host", "evil.example.com"}},
             {{"Host", "evil.example.com:" + std::to_string(mcp)}},
             {{"Host", "127.0.0.1.evil.example.com"}},
             {{"Origin", "http://evil.example.com"}},
             {{"Origin", "null"}},
             {{"Origin", "http://localhost.evil.example.com"}},
             {{"Origin", "http://127.0.0.1@evil.example.com"}},
             {{"Host", "evil.example.com"}, {"Origin", "http://evil.example.com"}}}) {
      HttpReply r = agent.PostRaw(ping, headers);
      INFO(headers.begin()->first << ": " << headers.begin()->second);
      CHECK(r.status == 403);
    }
    // A tools/call behind a foreign Origin never reaches the policy, the store or the upstream.
    HttpReply r = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", 9}, {"method", "tools/call"},
                                  {"params", {{"name", "cancel_job"}, {"arguments", {{"job_id", "job-rebind"}}}}}},
                             {{"Origin", "http://evil.example.com"}});
    CHECK(r.status == 403);
    CHECK(agent.Post(Json::parse(ping), {{"Host", "localhost:" + std::to_string(mcp)}}).status == 200);
    CHECK(agent.Post(Json::parse(ping), {{"Origin", "http://127.0.0.1:" + std::to_string(mcp)}}).status == 200);
  }

  SECTION("review API: a foreign Origin POST is refused (403) even with a valid token; audited; nothing decided") {
    const std::string token = MintToken("bob");
    for (const std::string origin : {"http://evil.example.com", "null", "http://127.0.0.1:1"}) {
      INFO(origin);
      Reply r = Review(review, "POST", "/api/approvals/" + call.id + "/approve",
                       {{"Authorization", "Bearer " + token}, {"Origin", origin}}, "{}");
      CHECK(r.status == 403);
      CHECK(r.json["error"] == "forbidden_origin");
    }
    // A browser's cross-site fetch without Origin (Sec-Fetch-Site) is refused too.
    Reply sfs = Review(review, "POST", "/api/approvals/" + call.id + "/approve",
                       {{"Authorization", "Bearer " + token}, {"Sec-Fetch-Site", "cross-site"}}, "{}");
    CHECK(sfs.status == 403);
    // Two Origin headers (one allowed, one not) are refused.
    std::string twice = RawHttp(review, "POST /api/approvals/" + call.id + "/approve HTTP/1.1\r\nHost: 127.0.0.1:" +
                                            std::to_string(review) + "\r\nAuthorization: Bearer " + token +
                                            "\r\nOrigin: http://127.0.0.1:" + std::to_string(review) +
                                            "\r\nOrigin: http://evil.example.com\r\nContent-Type: application/json\r\n"
                                            "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    CHECK(StatusOf(twice) == 403);
    CHECK(Str(h.Approval(call.id), "state") == "pending");
    CHECK(h.Approval(call.id)["votes"].empty());
    CHECK(CountAudit(h.Audit("auth.failed"), "detail", "\"origin\"") >= 5);
  }

  SECTION("review API under a rebinding Host: no token, no access") {
    // A page on evil.example.com rebound to 127.0.0.1 sends Host and Origin of its own name; it
    // has no reviewer token (those live in the real origin's storage), so it gets nothing.
    const std::string evil = "evil.example.com:" + std::to_string(review);
    Reply list = Review(review, "GET", "/api/approvals", {{"Host", evil}});
    CHECK(list.status == 401);
    Reply post = Review(review, "POST", "/api/approvals/" + call.id + "/approve",
                        {{"Host", evil}, {"Origin", "http://" + evil}}, "{}");
    CHECK(post.status == 401);
    CHECK(Str(h.Approval(call.id), "state") == "pending");
  }
  call.Finish(MintToken("carol"));
  CHECK(h.UpstreamCalls("cancel_job") == 0);
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("attacks: oversized and deeply nested JSON on both listeners", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  HeldCall call(h, "job-big");
  McpHttpClient agent = h.Agent();
  const std::string token = MintToken("bob");

  // Arguments nested close to the parser's limit are either refused at the door (-32700) or held
  // and then readable everywhere (API, CLI, audit, verify): never a half-written or unreadable row.
  // (The API nests them a few levels deeper than /mcp accepted them; clients must cope.)
  auto pending_deep = [&] {
    Reply r = Review(h.gw().review_port, "GET", "/api/approvals?state=pending", Bearer(token));
    auto parsed = ParseJson(r.body, 512);
    Json out = Json::array();
    if (r.status == 200 && parsed.ok()) {
      for (auto& a : parsed.value()["approvals"]) {
        if (a["tool"] == "slow_echo") out.push_back(a["id"]);
      }
    }
    return out;
  };
  int held_count = 0;
  for (int depth : {40, 58, 60, 61, 62, 63, 80, 100000}) {
    std::string nested = std::string(depth, '[') + std::string(depth, ']');
    std::string body = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow_echo","arguments":{"message":"x","deep":)" +
                       nested + R"(},"_meta":{"progressToken":"d"}}})";
    McpHttpClient a = h.Agent();
    a.set_read_timeout_s(60);
    std::atomic<bool> answered{false};
    HttpReply refused;
    std::thread t([&] {
      refused = a.PostRaw(body);
      answered.store(true);
    });
    // Held (visible as pending) or refused (answered at once).
    Json ids;
    REQUIRE(WaitUntil([&] {
      ids = pending_deep();
      return !ids.empty() || answered.load();
    }, 20000));
    const bool held = !ids.empty();
    INFO("depth " << depth << (held ? " held" : " refused"));
    if (held) {
      ++held_count;
      const std::string id = ids[0];
      Reply detail = Review(h.gw().review_port, "GET", "/api/approvals/" + id, Bearer(token));
      CHECK(detail.status == 200);
      CHECK(ParseJson(detail.body, 512).ok());
      // The reviewer CLI lists it.
      CommandResult cli = RunReviewerCli({"list", "--json", "--url=" + h.ReviewUrl(), "--token=" + token});
      CHECK(cli.code == 0);
      CHECK(cli.out.find(id) != std::string::npos);
      CHECK(Review(h.gw().review_port, "POST", "/api/approvals/" + id + "/reject", Bearer(token),
                   R"({"reason":"too deep"})").status == 200);
    }
    t.join();
    if (!held) {
      CHECK(refused.status == 400);
      CHECK(refused.Response()["error"]["code"] == -32700);
    }
    CHECK((depth < 80 || !held));  // past the limit: always refused
    CHECK(Review(h.gw().review_port, "GET", "/api/audit?limit=5", Bearer(token)).status == 200);
    CHECK(Review(h.gw().review_port, "GET", "/api/audit/verify", Bearer(token)).json["ok"] == true);
  }
  CHECK(held_count >= 3);

  // The review API: a body over its limit is refused; a deep or huge JSON decides nothing.
  const std::string path = "/api/approvals/" + call.id + "/approve";
  Reply big = Review(h.gw().review_port, "POST", path, Bearer(token), R"({"reason":")" + std::string(600 * 1024, 'r') + "\"}");
  CHECK(big.status == 413);
  Reply deep = Review(h.gw().review_port, "POST", path, Bearer(token),
                      R"({"reason":"x","arguments":)" + std::string(5000, '[') + std::string(5000, ']') + "}");
  CHECK(deep.status == 400);
  Reply not_json = Review(h.gw().review_port, "POST", path, Bearer(token), "{\"reason\": \"x\"");
  CHECK(not_json.status == 400);
  Reply long_reason = Review(h.gw().review_port, "POST", "/api/approvals/" + call.id + "/reject", Bearer(token),
                             R"({"reason":")" + std::string(100 * 1024, 'r') + "\"}");
  CHECK(long_reason.status == 400);
  CHECK(Str(h.Approval(call.id), "state") == "pending");
  CHECK(h.Approval(call.id)["votes"].empty());
  // /mcp: over the body limit -> 413 (4 MiB default), and the gateway keeps serving.
  HttpReply huge = agent.PostRaw(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cancel_job","arguments":{"job_id":")" +
                                 std::string(5 * 1024 * 1024, 'j') + "\"}}}");
  CHECK(huge.status == 413);
  call.Finish(MintToken("carol"));
  CHECK(h.UpstreamCalls("cancel_job") == 0);
  CHECK(h.Running());
}

TEST_CASE("attacks: invalid UTF-8 and hostile unicode never crash, audit rows are written and verify", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  McpHttpClient agent = h.Agent();
  const int review = h.gw().review_port;

  // Raw invalid UTF-8 inside a JSON string is not JSON: refused at the door.
  for (std::string bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("abc\x80"), std::string("\xf4\x90\x80\x80")}) {
    HttpReply r = agent.PostRaw(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cancel_job","arguments":{"job_id":")" +
                                bad + "\"}}}");
    CHECK(r.status == 400);
    CHECK(r.Response()["error"]["code"] == -32700);
  }
  // Lone surrogate escapes likewise.
  CHECK(agent.PostRaw(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cancel_job","arguments":{"job_id":"\udc00"}}})").status == 400);

  // Valid but hostile unicode is held, stored, audited and shown byte for byte.
  const std::string nasty = std::string("nul\0x", 5) + "\xe2\x80\xae" "RTL \xef\xbb\xbf BOM \xf0\x9f\x92\xa3 \x7f \u2028";
  Json reply;
  std::thread t([&] { reply = agent.CallTool("cancel_job", {{"job_id", nasty}}, {{"progressToken", 1}}); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(pending["arguments"]["job_id"] == nasty);
  REQUIRE(h.Reviewer("bob").Reject(pending["id"], std::string("no \xe2\x80\xae thanks")).status == 200);
  t.join();
  CHECK(IsError(reply));

  // Invalid UTF-8 where holdgate copies request data into the audit log: the path of an
  // unauthenticated request (percent-decoded by the server), a filter value, a header.
  for (std::string path : {"/api/approvals/%ff%fe", "/api/%c0%af..%c0%af", "/api/approvals?tool=%ff&principal=%fe%ff",
                           "/api/audit?type=%ed%a0%80*&actor=%80"}) {
    INFO(path);
    Reply unauth = Review(review, "GET", path, {{"Authorization", "Bearer not.a.token"}, {"X-Holdgate-Client", "\xff"}});
    CHECK(unauth.status == 401);
    Reply authed = Review(review, "GET", path, Bearer(MintToken("alice")));
    CHECK(authed.status != 500);
    CHECK(authed.status != 0);
  }
  // Invalid UTF-8 in an MCP header and session id.
  HttpReply hdr = agent.PostRaw(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", {{"Mcp-Session-Id", "\xff\xfe"}});
  CHECK(hdr.status == 404);
  CHECK(h.Running());
  Json failed = h.Audit("auth.failed");
  CHECK(failed.size() >= 4);
  CHECK(h.AuditVerify()["ok"] == true);
  REQUIRE(h.Terminate() == 0);
  CommandResult offline = AuditVerifyOffline(h.DbPath());
  INFO(offline.out);
  CHECK(offline.code == 0);
}

TEST_CASE("attacks: header and SSE injection through values holdgate echoes", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  const int review = h.gw().review_port, mcp = h.gw().mcp_port;
  McpHttpClient agent = h.Agent();

  // Values echoed into JSON or SSE data: request id, progress token, tool arguments. An SSE
  // reply must carry exactly the progress notifications and one response, however many blank
  // lines and "data:" prefixes the values hold.
  const std::string inject = "x\r\n\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"evil\",\"result\":{}}\r\n\r\nevent: boom\n\n";
  Json call = {{"jsonrpc", "2.0"}, {"id", inject}, {"method", "tools/call"},
               {"params", {{"name", "slow_echo"}, {"arguments", {{"message", inject}}}, {"_meta", {{"progressToken", inject}}}}}};
  HttpReply r;
  std::thread t([&] { r = agent.Post(call); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(pending["arguments"]["message"] == inject);
  REQUIRE(h.Reviewer("bob").Approve(pending["id"]).status == 200);
  t.join();
  REQUIRE(r.status == 200);
  int responses = 0;
  for (const auto& m : r.messages) {
    INFO(DumpJson(m));
    if (m.contains("id")) {
      ++responses;
      CHECK(m["id"] == inject);
      CHECK(m.contains("result"));
    } else {
      CHECK(m["method"] == "notifications/progress");
      CHECK(m["params"]["progressToken"] == inject);
    }
  }
  CHECK(responses == 1);
  CHECK(r.body.find("\nevent: boom") == std::string::npos);

  // CRLF in values that could reach a response header: percent-encoded in paths and query
  // strings (decoded by the server), and a raw header that tries to split itself.
  for (std::string target : {"/api/audit/export?format=csv%0d%0aSet-Cookie:%20pwned=1",
                             "/%0d%0aSet-Cookie:%20pwned=1", "/api/approvals/x%0d%0aSet-Cookie:%20pwned=1",
                             "/js/app.js%0d%0aSet-Cookie:%20pwned=1"}) {
    INFO(target);
    std::string raw = RawHttp(review, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                          MintToken("alice") + "\r\nConnection: close\r\n\r\n");
    CHECK(StatusOf(raw) >= 400);
    CHECK(HeadersOf(raw).find("pwned") == std::string::npos);
  }
  std::string split = RawHttp(mcp, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: abc%0d%0aSet-Cookie: pwned=1\r\n"
                                   "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
                                   "Content-Length: 40\r\nConnection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
  CHECK(StatusOf(split) == 404);
  CHECK(HeadersOf(split).find("pwned") == std::string::npos);
  // Refusals that quote the Host or Origin put them in a JSON body, never a header.
  std::string host = RawHttp(mcp, "POST /mcp HTTP/1.1\r\nHost: evil.example.com\r\nOrigin: http://e.com/<script>\r\n"
                                  "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(StatusOf(host) == 403);
  CHECK(HeadersOf(host).find("application/json") != std::string::npos);
  CHECK(h.UpstreamCalls("slow_echo") == 1);
}

TEST_CASE("attacks: path traversal on the static UI never leaves the embedded files", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  WriteFile(h.File("secret.txt"), "TOP-SECRET-CONTENT");
  const int review = h.gw().review_port;
  for (const std::string& target : std::vector<std::string>{
        "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/js/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/css/..%5c..%5c..%5cetc%5cpasswd",
        "/%252e%252e/%252e%252e/etc/passwd", "/....//....//etc/passwd", "/.%2e/.%2e/etc/passwd",
        "/js/../../holdgate.db", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/index.html%00.png", "//etc/passwd",
        "/" + h.File("secret.txt"), "/..;/..;/etc/passwd", "/api/../../etc/passwd"}) {
    INFO(target);
    std::string raw = RawHttp(review, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    int status = StatusOf(raw);
    CHECK(status >= 400);
    CHECK(status < 500);
    CHECK(raw.find("root:") == std::string::npos);
    CHECK(raw.find("SQLite format") == std::string::npos);
    CHECK(raw.find("TOP-SECRET-CONTENT") == std::string::npos);
  }
  // The real UI is still served.
  CHECK(StatusOf(RawHttp(review, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) == 200);
}

TEST_CASE("attacks: SQL metacharacters in every filter are data, not SQL", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  HeldCall call(h, "job-sql");
  ReviewClient alice = h.Reviewer("alice");
  const size_t audit_before = h.Audit().size();
  const std::vector<std::string> payloads = {
      "' OR '1'='1", "\" OR \"\"=\"", "x'; DROP TABLE approvals; --", "x\"; DELETE FROM audit_events; --",
      "%", "_", "*", "' UNION SELECT * FROM votes --", "1) OR (1=1", "\\", "'||(SELECT hash FROM audit_events)||'",
      "x' AND 1=(SELECT COUNT(*) FROM sqlite_master) --", std::string("\0'", 2)};
  auto enc = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
    return out;
  };
  for (const auto& p : payloads) {
    INFO(p);
    const std::string v = enc(p);
    for (std::string path : {"/api/approvals?state=all&tool=" + v, "/api/approvals?state=all&principal=" + v,
                             "/api/approvals?cursor=" + v, "/api/approvals?since=" + v, "/api/approvals?state=" + v,
                             "/api/audit?type=" + v, "/api/audit?approval_id=" + v, "/api/audit?principal=" + v,
                             "/api/audit?actor=" + v, "/api/audit?tool=" + v, "/api/audit?cursor=" + v,
                             "/api/audit?until=" + v, "/api/audit?order=" + v, "/api/audit/export?type=" + v,
                             "/api/audit/export?format=csv&tool=" + v, "/api/deliveries?approval_id=" + v,
                             "/api/deliveries?target=" + v, "/api/deliveries?state=" + v, "/api/approvals/" + v,
                             "/api/audit?limit=" + v}) {
      INFO(path);
      auto r = alice.Get(path);
      CHECK(r.status != 500);
      CHECK(r.status != 0);
      if (r.status == 200 && r.body.is_object() && r.body.contains("approvals")) CHECK(r.body["approvals"].empty());
      // (type=* is the documented "every type" prefix filter, not an injection.)
      const bool wildcard = p == "*" && path.find("type=") != std::string::npos;
      if (r.status == 200 && r.body.is_object() && r.body.contains("events") && !wildcard) CHECK(r.body["events"].empty());
    }
  }
  // Nothing changed: the approval is still there and pending, no audit row was added or removed
  // (reads are not audited), the chain holds.
  CHECK(Str(h.Approval(call.id), "state") == "pending");
  CHECK(h.Approvals("all").size() == 1);
  CHECK(h.Audit().size() == audit_before);
  CHECK(h.AuditVerify()["ok"] == true);
  // Metacharacters inside tool arguments and reasons are stored verbatim.
  call.Finish(MintToken("carol"));
  McpHttpClient agent = h.Agent();
  Json reply;
  std::thread t([&] { reply = agent.CallTool("cancel_job", {{"job_id", payloads[2]}}, {{"progressToken", 2}}); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(pending["arguments"]["job_id"] == payloads[2]);
  REQUIRE(h.Reviewer("bob").Reject(pending["id"], payloads[3]).status == 200);
  t.join();
  CHECK(Text(reply).find(payloads[3]) != std::string::npos);
  CHECK(h.Approvals("all").size() == 2);
  CHECK(h.UpstreamCalls("cancel_job") == 0);
}

TEST_CASE("attacks: XSS payloads in arguments come back JSON-escaped, as data", "[integration][attacks]") {
  Instance h(AttackPolicy());
  REQUIRE(h.Start());
  const std::string xss = "<script>alert(1)</script>\"><img src=x onerror=alert(2)><svg/onload=alert(3)>"
                          "javascript:alert(4)</textarea>{{constructor.constructor('alert(5)')()}}";
  McpHttpClient agent = h.Agent();
  Json reply;
  std::thread t([&] {
    reply = agent.CallTool("cancel_job", {{"job_id", xss}, {xss, xss}}, {{"progressToken", 1}});
  });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];
  const int review = h.gw().review_port;
  for (const std::string& path : std::vector<std::string>{"/api/approvals/" + id, "/api/approvals?state=pending",
                                                          "/api/audit?approval_id=" + id}) {
    INFO(path);
    Reply r = Review(review, "GET", path, Bearer(MintToken("alice")));
    REQUIRE(r.status == 200);
    std::string ct;
    for (auto& [k, v] : r.headers) {
      if (strcasecmp(k.c_str(), "Content-Type") == 0) ct = v;
    }
    CHECK(ct.rfind("application/json", 0) == 0);
    CHECK(r.headers.count("X-Content-Type-Options") == 1);
    CHECK(r.json.is_object());  // parses: the payload's quotes were escaped
    CHECK(DumpJson(r.json).find(DumpJson(Json(xss))) != std::string::npos);
  }
  Reply detail = Review(review, "GET", "/api/approvals/" + id, Bearer(MintToken("alice")));
  CHECK(detail.json["arguments"]["job_id"] == xss);
  CHECK(detail.json["arguments"][xss] == xss);
  // The CSV export is a download, not a page.
  Reply csv = Review(review, "GET", "/api/audit/export?format=csv&approval_id=" + id, Bearer(MintToken("alice")));
  CHECK(csv.status == 200);
  bool attachment = false;
  for (auto& [k, v] : csv.headers) {
    if (strcasecmp(k.c_str(), "Content-Disposition") == 0 && v.rfind("attachment", 0) == 0) attachment = true;
  }
  CHECK(attachment);
  REQUIRE(h.Reviewer("bob").Reject(id, xss).status == 200);
  t.join();
  CHECK(IsError(reply));
  CHECK(h.UpstreamCalls("cancel_job") == 0);
}

TEST_CASE("attacks: the JWT attack set gets 401 and decides nothing", "[integration][attacks][jwt]") {
  const std::string secret = kTestJwtSecret;
  testkeys::KeyPair rsa = testkeys::Generate("RSA");
  testkeys::KeyPair other_rsa = testkeys::Generate("RSA");
  TempDir keys;
  WriteFile(keys.File("rs.pem"), rsa.public_pem);
  const Json config = {{"review", {{"auth", {{"jwt_secret", secret}, {"issuer", "holdgate-test"}, {"audience", "reviewers"},
                                             {"public_keys", {{{"kid", "rs1"}, {"alg", "RS256"}, {"pem_file", keys.File("rs.pem")}}}}}}}}};
  WriteFile(keys.File("config.json"), DumpJson(config));
  Instance h(AttackPolicy(), {"--config", keys.File("config.json")});
  REQUIRE(h.Start());
  const int review = h.gw().review_port;
  const int64_t now = SystemClock::Instance().NowMs() / 1000;
  auto good_claims = [&](const std::string& sub) {
    return Json{{"sub", sub}, {"role", "reviewer"}, {"iat", now}, {"exp", now + 600}, {"iss", "holdgate-test"}, {"aud", "reviewers"}};
  };
  const std::string good = testkeys::HandSign({{"alg", "HS256"}, {"typ", "JWT"}}, good_claims("bob"), "HS256", secret);
  const std::string good_rs = testkeys::HandSign({{"alg", "RS256"}, {"kid", "rs1"}}, good_claims("rita"), "RS256", rsa.private_pem);
  REQUIRE(Review(review, "GET", "/api/me", Bearer(good)).status == 200);
  REQUIRE(Review(review, "GET", "/api/me", Bearer(good_rs)).status == 200);

  // The held call is created, then attacked.
  McpHttpClient agent = h.Agent();
  Json reply;
  std::thread t([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-jwt"}}, {{"progressToken", 1}}); });
  std::string id;
  REQUIRE(WaitUntil([&] {
    Reply r = Review(review, "GET", "/api/approvals?state=pending", Bearer(good));
    if (r.status != 200 || r.json["approvals"].empty()) return false;
    id = r.json["approvals"][0]["id"];
    return true;
  }));

  auto with = [&](Json claims, std::initializer_list<std::pair<const char*, Json>> changes) {
    for (auto& [k, v] : changes) {
      if (v.is_null()) claims.erase(k);
      else claims[k] = v;
    }
    return claims;
  };
  std::string tampered = good;
  {
    size_t d1 = tampered.find('.'), d2 = tampered.find('.', d1 + 1);
    Json forged = with(good_claims("bob"), {{"role", "admin"}});
    tampered = tampered.substr(0, d1 + 1) + review::Base64UrlEncode(forged.dump()) + tampered.substr(d2);
  }
  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"alg none", testkeys::HandSign({{"alg", "none"}}, good_claims("mallory"), "", "")},
      {"alg NoNe", testkeys::HandSign({{"alg", "NoNe"}}, good_claims("mallory"), "", "")},
      {"HS256 signed with the RS256 public key", testkeys::HandSign({{"alg", "HS256"}, {"kid", "rs1"}}, good_claims("mallory"), "HS256", rsa.public_pem)},
      {"HS256 signed with the public key, no kid", testkeys::HandSign({{"alg", "HS256"}}, good_claims("mallory"), "HS256", rsa.public_pem)},
      {"RS256 signed by another key", testkeys::HandSign({{"alg", "RS256"}, {"kid", "rs1"}}, good_claims("mallory"), "RS256", other_rsa.private_pem)},
      {"expired", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"iat", now - 7200}, {"exp", now - 3600}}), "HS256", secret)},
      {"no exp", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"exp", nullptr}}), "HS256", secret)},
      {"not yet valid", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"nbf", now + 3600}}), "HS256", secret)},
      {"wrong iss", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"iss", "someone-else"}}), "HS256", secret)},
      {"no iss", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"iss", nullptr}}), "HS256", secret)},
      {"wrong aud", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"aud", "agents"}}), "HS256", secret)},
      {"aud array", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"aud", Json::array({"reviewers"})}}), "HS256", secret)},
      {"tampered payload", tampered},
      {"wrong secret", testkeys::HandSign({{"alg", "HS256"}}, good_claims("bob"), "HS256", secret + "x")},
      {"too long-lived", testkeys::HandSign({{"alg", "HS256"}}, with(good_claims("bob"), {{"exp", now + 400 * 24 * 3600}}), "HS256", secret)},
      {"HS512", testkeys::HandSign({{"alg", "HS512"}}, good_claims("bob"), "HS256", secret)},
      {"unknown kid", testkeys::HandSign({{"alg", "RS256"}, {"kid", "nope"}}, good_claims("rita"), "RS256", rsa.private_pem)},
      {"crit header", testkeys::HandSign({{"alg", "HS256"}, {"crit", {"exp"}}}, good_claims("bob"), "HS256", secret)},
      {"garbage", "not.a.jwt"},
      {"two dots only", ".."},
      {"empty signature", good.substr(0, good.rfind('.') + 1)},
  };
  for (const auto& [name, token] : attacks) {
    INFO(name);
    Reply list = Review(review, "GET", "/api/approvals", Bearer(token));
    CHECK(list.status == 401);
    bool challenged = false;
    for (auto& [k, v] : list.headers) challenged |= strcasecmp(k.c_str(), "WWW-Authenticate") == 0;
    CHECK(challenged);
    Reply approve = Review(review, "POST", "/api/approvals/" + id + "/approve", Bearer(token), "{}");
    CHECK(approve.status == 401);
  }
  // Bearer scheme games.
  for (httplib::Headers headers : std::vector<httplib::Headers>{
           {{"Authorization", "Basic " + Base64Encode("bob:" + secret)}},
           {{"Authorization", "bearer"}},
           {{"Authorization", "Bearer " + good}, {"Authorization", "Bearer " + good}},
           {{"Cookie", "token=" + good}}}) {
    CHECK(Review(review, "POST", "/api/approvals/" + id + "/approve", headers, "{}").status == 401);
  }
  CHECK(Review(review, "GET", "/api/approvals?access_token=" + good, {}).status == 401);

  Reply detail = Review(review, "GET", "/api/approvals/" + id, Bearer(good));
  CHECK(detail.json["state"] == "pending");
  CHECK(detail.json["votes"].empty());
  // Every refusal was audited (within the default 60/minute budget), with its reason.
  Reply audit = Review(review, "GET", "/api/audit?type=auth.failed&limit=500", Bearer(good));
  REQUIRE(audit.status == 200);
  CHECK(audit.json["events"].size() >= 40);
  Reply verify = Review(review, "GET", "/api/audit/verify", Bearer(good));
  CHECK(verify.json["ok"] == true);
  CHECK(Review(review, "POST", "/api/approvals/" + id + "/reject", Bearer(good), R"({"reason":"test over"})").status == 200);
  t.join();
  CHECK(IsError(reply));
  CHECK(h.UpstreamCalls("cancel_job") == 0);
}

TEST_CASE("attacks: hidden tools, self-approval and a reviewer token on /mcp", "[integration][attacks]") {
  const std::string agent_key = "hg_agent_" + RandomHex(24);
  TempDir cfg;
  const Json config = {{"mcp", {{"agent_keys", {{{"name", "ci-agent"}, {"principal", "agent-a"}, {"sha256", Sha256Hex(agent_key)}}}}}}};
  WriteFile(cfg.File("config.json"), DumpJson(config));
  Instance h(AttackPolicy(), {"--config", cfg.File("config.json")});
  REQUIRE(h.Start());
  const int review = h.gw().review_port;

  SECTION("a reviewer token is not an agent key; no key, no session") {
    McpHttpClient c("127.0.0.1", h.gw().mcp_port);
    HttpReply none = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                                 {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                                             {"clientInfo", {{"name", "x"}, {"version", "1"}}}}}});
    CHECK(none.status == 401);
    for (const std::string& token : {MintToken("agent-a"), MintToken("admin", "admin"), Sha256Hex(agent_key), agent_key + "x"}) {
      c.set_bearer(token);
      HttpReply r = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                                {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                                            {"clientInfo", {{"name", "x"}, {"version", "1"}}}}}});
      CHECK(r.status == 401);
      CHECK(r.Header("WWW-Authenticate").find("Bearer") == 0);
    }
    CHECK(h.Agent(agent_key).ListTools().contains("result"));
  }

  SECTION("a hidden tool called by name: -32602 Unknown tool, audited, never forwarded") {
    McpHttpClient agent = h.Agent(agent_key);
    Json list = agent.ListTools();
    for (const auto& t : list["result"]["tools"]) CHECK(t["name"] != "stats");
    Json r = agent.CallTool("stats", Json::object());
    CHECK(r["error"]["code"] == -32602);
    CHECK(r["error"]["message"].get<std::string>().find("stats") != std::string::npos);
    Json hidden = h.Audit("call.hidden");
    REQUIRE(hidden.size() == 1);
    CHECK(hidden[0]["tool"] == "stats");
    CHECK(hidden[0]["principal"] == "agent-a");
    CHECK(h.UpstreamCalls("stats") == 0);
  }

  SECTION("the agent approving its own call: 403, nothing decided; others still can") {
    HeldCall call(h, "job-self", agent_key);
    CHECK(h.Approval(call.id)["principal"] == "agent-a");
    for (const std::string role : {"reviewer", "admin"}) {
      Reply r = Review(review, "POST", "/api/approvals/" + call.id + "/approve", Bearer(MintToken("agent-a", role)), "{}");
      CHECK(r.status == 403);
    }
    // Over the CLI as well.
    CommandResult cli = RunReviewerCli({"approve", call.id, "--url=" + h.ReviewUrl(), "--token=" + MintToken("agent-a")});
    CHECK(cli.code == 5);
    Json detail = h.Approval(call.id);
    CHECK(detail["state"] == "pending");
    CHECK(detail["votes"].empty());
    CHECK(h.UpstreamCalls("cancel_job") == 0);
    // Any other reviewer may decide it.
    REQUIRE(h.Reviewer("bob").Approve(call.id).status == 200);
    call.thread.join();
    CHECK_FALSE(IsError(call.reply));
    CHECK(h.UpstreamCalls("cancel_job", "job-self") == 1);
  }
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("attacks: Slack replay on /slack/actions", "[integration][attacks][slack]") {
  const std::string signing = "slack-signing-secret-0123456789abcdef";
  TempDir cfg;
  Json slack = {{"webhook_url", "https://hooks.slack.invalid/services/T0/B0/X0"}, {"signing_secret", signing}};
  slack["users"] = Json{{"U1", "sam"}};
  Json config = Json::object();
  config["notify"]["slack"] = slack;
  WriteFile(cfg.File("config.json"), DumpJson(config));
  Instance h(AttackPolicy(), {"--config", cfg.File("config.json")});
  REQUIRE(h.Start());
  const int review = h.gw().review_port;
  HeldCall call(h, "job-slack");
  const std::string payload = DumpJson(Json{{"type", "block_actions"}, {"user", {{"id", "U1"}}},
                                            {"actions", {{{"action_id", "holdgate_approve"}, {"value", call.id}}}}});
  std::string body = "payload=";
  for (unsigned char c : payload) {
    char b[4];
    snprintf(b, sizeof b, "%%%02X", c);
    body += b;
  }
  const std::string ts = std::to_string(SystemClock::Instance().NowMs() / 1000);
  const std::string sig = "v0=" + HmacSha256Hex(signing, "v0:" + ts + ":" + body);
  auto post = [&](const std::string& timestamp, const std::string& signature) {
    httplib::Client cli("127.0.0.1", review);
    auto res = cli.Post("/slack/actions", {{"X-Slack-Request-Timestamp", timestamp}, {"X-Slack-Signature", signature}},
                        body, "application/x-www-form-urlencoded");
    return res ? res->status : 0;
  };
  const int first = post(ts, sig);
  // A 404 means holdgate serve does not route /slack/actions: a failure, not a skip.
  REQUIRE(first == 200);
  REQUIRE(WaitUntil([&] { return Str(h.Approval(call.id), "state") == "completed"; }));
  // The same signed request again, a stale one, and a forged one: refused, nothing more happens.
  CHECK(post(ts, sig) >= 400);
  const std::string old_ts = std::to_string(SystemClock::Instance().NowMs() / 1000 - 600);
  CHECK(post(old_ts, "v0=" + HmacSha256Hex(signing, "v0:" + old_ts + ":" + body)) >= 400);
  CHECK(post(ts, "v0=" + HmacSha256Hex("wrong", "v0:" + ts + ":" + body)) >= 400);
  call.thread.join();
  CHECK_FALSE(IsError(call.reply));
  CHECK(h.UpstreamCalls("cancel_job", "job-slack") == 1);
  Json detail = h.Approval(call.id);
  CHECK(detail["votes"].size() == 1);
  CHECK(detail["decided_via"] == "slack");
  // The refusals are audited (replayed, stale, bad signature).
  Json refused = h.Audit("slack.refused");
  INFO(refused.dump());
  CHECK(refused.size() == 3);
  CHECK(CountAudit(refused, "detail", "replayed") == 1);
  CHECK(h.AuditVerify()["ok"] == true);
}

}  // namespace holdgate::testing
