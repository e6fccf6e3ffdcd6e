#include "cli/reviewer_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cli/review_client.h"
#include "common/clock.h"
#include "common/config.h"
#include "review/api_json.h"
#include "review/jwt_auth.h"
#include "store/audit.h"

namespace holdgate::cli {
namespace {

constexpr int kExitChainBroken = 6;

constexpr char kExitCodes[] = R"(
Exit codes: 0 ok, 1 server or network error, 2 usage error, 3 not found, 4 conflict (already
decided), 5 authentication or permission (no/invalid/expired token, or your role may not do this).
)";

constexpr char kConnection[] = R"(
Connection (every command that talks to holdgate):
  --url URL          review listener (default $HOLDGATE_URL or http://127.0.0.1:8081)
  --token TOKEN      reviewer JWT (default $HOLDGATE_TOKEN); --token-file FILE reads it from a file
)";

struct CommandHelp {
  const char* usage;
  const char* text;
};

const std::map<std::string, CommandHelp>& Helps() {
  static const std::map<std::string, CommandHelp> helps = {
      {"list",
       {"holdgate list [--state S[,S…]|--all] [--tool T] [--principal P] [--since TIME] [--until TIME]\n"
        "               [--limit N] [--json]",
        "Lists approvals, newest first: pending ones unless --state or --all says otherwise.\n"
        "States: pending approved executing completed failed rejected expired cancelled.\n"
        "TIME is RFC 3339 (2026-01-02T03:04:05Z), a date, or epoch milliseconds. --limit caps the rows\n"
        "(default 50; pages are followed). --json prints the API's approvals array.\n"}},
      {"show",
       {"holdgate show ID [--json]",
        "Shows one approval: arguments, votes, comments, timeline, who may still decide and what the\n"
        "agent will be told. --json prints the API's object.\n"}},
      {"approve",
       {"holdgate approve ID [--reason R] [--arguments JSON] [--json]",
        "Votes to approve. The call runs once the rule's quorum of distinct reviewers approved.\n"
        "--arguments replaces the tool arguments (only for rules with editable: true; the original is\n"
        "kept). Approving the same approval twice is harmless (exit 0).\n"}},
      {"reject",
       {"holdgate reject ID --reason R [--json]",
        "Rejects the call; the agent receives the reason. A reason is required.\n"}},
      {"watch",
       {"holdgate watch [--json] [--last-event-id N] [--count N]",
        "Follows approval events live (the /api/events stream), one line per event (--json: one JSON\n"
        "object per line). Reconnects after a dropped connection without losing events. --count stops\n"
        "after N events. Stop with Ctrl-C.\n"}},
      {"token",
       {"holdgate token --sub NAME --role reviewer|admin|auditor [--ttl 1h]\n"
        "               [--secret S | --secret-file FILE | --config FILE] [--issuer I] [--audience A]",
        "Mints an HS256 reviewer token and prints it. The secret is, in order: --secret, --secret-file,\n"
        "$HOLDGATE_JWT_SECRET, or from --config FILE (review.auth.jwt_secret, else the reviewer-secret\n"
        "file `holdgate serve` keeps beside the database). It must be at least 32 bytes. The server\n"
        "refuses tokens that live longer than its max_token_lifetime (24h by default).\n"
        "Exit codes: 0 ok, 2 usage error or no usable secret.\n"}},
      {"audit",
       {"holdgate audit [--type T] [--approval ID] [--principal P] [--actor A] [--tool T]\n"
        "                [--since TIME] [--until TIME] [--limit N] [--format table|jsonl|csv]\n"
        "       holdgate audit verify [--db FILE]",
        "Prints audit events (oldest first). table shows up to --limit rows (default 100); jsonl and csv\n"
        "export every matching event (--type accepts a prefix such as approval.*).\n"
        "`audit verify` walks the hash chain: through the API, or offline on a database file with --db\n"
        "(read-only; works while holdgate runs). It exits 6 when the chain is broken.\n"}},
  };
  return helps;
}

void PrintHelp(const std::string& command, std::ostream& out) {
  const CommandHelp& h = Helps().at(command);
  out << "usage: " << h.usage << "\n\n" << h.text;
  if (command != "token") out << kConnection << kExitCodes;
}

int Usage(const std::string& command, const std::string& problem) {
  std::cerr << "holdgate " << command << ": " << problem << "\n";
  PrintHelp(command, std::cerr);
  return kExitUsage;
}

// Flags: "--name value", "--name=value", or boolean "--name". Everything else is positional.
struct Args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;
  bool help = false;
  std::string error;

  std::string Get(const std::string& name, const std::string& def = "") const {
    auto it = values.find(name);
    return it == values.end() ? def : it->second;
  }
  bool Has(const std::string& name) const { return values.count(name) > 0; }
};

Args ParseArgs(const std::vector<std::string>& in, size_t start, std::set<std::string> valued,
               const std::set<std::string>& booleans) {
  for (const char* g : {"--url", "--token", "--token-file"}) valued.insert(g);
  Args a;
  for (size_t i = start; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (s == "--help" || s == "-h") {
      a.help = true;
      continue;
    }
    if (s.rfind("--", 0) != 0 || s == "--") {
      a.positional.push_back(s);
      continue;
    }
    std::string name = s, value;
    bool has_value = false;
    if (size_t eq = s.find('='); eq != std::string::npos) {
      name = s.substr(0, eq);
      value = s.substr(eq + 1);
      has_value = true;
    }
    if (valued.count(name)) {
      if (!has_value) {
        if (i + 1 >= in.size()) {
          a.error = name + " needs a value";
          return a;
        }
        value = in[++i];
      }
      a.values[name] = value;
    } else if (booleans.count(name) && !has_value) {
      a.flags.insert(name);
    } else {
      a.error = "unknown flag " + name;
      return a;
    }
  }
  return a;
}

bool ReadFileTrimmed(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  *out = s;
  return true;
}

// Connects per --url/--token (or the environment). Prints the problem and returns nullptr.
std::unique_ptr<ReviewClient> Connect(const Args& a, int* exit_code) {
  std::string url = a.Get("--url");
  if (url.empty()) {
    const char* env = std::getenv("HOLDGATE_URL");
    url = env != nullptr && *env != '\0' ? env : "http://127.0.0.1:8081";
  }
  std::string token = a.Get("--token");
  if (token.empty() && a.Has("--token-file")) {
    if (!ReadFileTrimmed(a.Get("--token-file"), &token)) {
      std::cerr << "holdgate: cannot read --token-file " << a.Get("--token-file") << "\n";
      *exit_code = kExitUsage;
      return nullptr;
    }
  }
  if (token.empty()) {
    const char* env = std::getenv("HOLDGATE_TOKEN");
    if (env != nullptr) token = env;
  }
  auto client = ReviewClient::Create(url, token);
  if (!client.ok()) {
    std::cerr << "holdgate: " << client.status().message() << "\n";
    *exit_code = kExitUsage;
    return nullptr;
  }
  return std::move(*client);
}

int Fail(const ApiReply& r) {
  std::cerr << "holdgate: " << DescribeFailure(r) << "\n";
  return ExitCodeFor(r);
}

// Agent-supplied text goes to a terminal: never pass control characters (escape sequences) through.
std::string Printable(const std::string& s, size_t max = std::string::npos) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) out += '?';
    else out += static_cast<char>(c);
  }
  if (out.size() > max) out = out.substr(0, max > 1 ? max - 1 : 0) + "~";
  return out;
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return DumpJson(*it);
}

std::string Pretty(const Json& j, int indent) {
  std::string text = j.dump(2, ' ', false, Json::error_handler_t::replace);  // escapes control chars
  std::string pad(static_cast<size_t>(indent), ' ');
  std::string out = pad;
  for (char c : text) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

// "3m ago" / "in 5m" relative to now for an RFC 3339 string; "" for null.
std::string Relative(const Json& t) {
  if (!t.is_string()) return "";
  int64_t ms = 0;
  if (!review::ParseTimeParam(t.get<std::string>(), &ms)) return t.get<std::string>();
  int64_t d = (ms - SystemClock::Instance().NowMs()) / 1000;
  bool future = d > 0;
  int64_t a = d < 0 ? -d : d;
  std::string n = a < 60 ? std::to_string(a) + "s" : a < 3600 ? std::to_string(a / 60) + "m"
                  : a < 86400 ? std::to_string(a / 3600) + "h" : std::to_string(a / 86400) + "d";
  return future ? "in " + n : n + " ago";
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

// ---- list -----------------------------------------------------------------------------------

int RunList(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--state", "--tool", "--principal", "--since", "--until", "--limit"}, {"--json", "--all"});
  if (a.help) return PrintHelp("list", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("list", a.error);
  if (!a.positional.empty()) return Usage("list", "unexpected argument " + a.positional[0]);
  int limit = 50;
  if (a.Has("--limit")) {
    try {
      limit = std::stoi(a.Get("--limit"));
    } catch (...) {
      limit = 0;
    }
    if (limit < 1 || limit > 100000) return Usage("list", "--limit must be a positive number");
  }
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  std::multimap<std::string, std::string> params;
  std::string state = a.flags.count("--all") ? "all" : a.Get("--state", "pending");
  params.emplace("state", state);
  for (const char* f : {"--tool", "--principal", "--since", "--until"}) {
    if (a.Has(f)) params.emplace(std::string(f).substr(2), a.Get(f));
  }
  Json all = Json::array();
  std::string cursor;
  while (static_cast<int>(all.size()) < limit) {
    auto p = params;
    p.emplace("limit", std::to_string(std::min(500, limit - static_cast<int>(all.size()))));
    if (!cursor.empty()) p.emplace("cursor", cursor);
    ApiReply r = client->Get("/api/approvals", p);
    if (!r.ok()) return Fail(r);
    if (!r.body.is_object() || !r.body["approvals"].is_array()) {
      std::cerr << "holdgate: unexpected answer from " << client->url() << "\n";
      return kExitError;
    }
    for (auto& x : r.body["approvals"]) all.push_back(x);
    cursor = r.body["next_cursor"].is_string() ? r.body["next_cursor"].get<std::string>() : "";
    if (cursor.empty()) break;
  }
  if (a.flags.count("--json")) {
    std::cout << all.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (all.empty()) {
    std::cout << "No " << (state == "all" ? "" : state + " ") << "approvals.\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "STATE", "TOOL", "PRINCIPAL", "CREATED", "EXPIRES", "APPROVALS"}};
  for (const auto& x : all) {
    rows.push_back({Printable(Str(x, "id")), Str(x, "state"), Printable(Str(x, "tool"), 32),
                    Printable(Str(x, "principal"), 24), Relative(x["created_at"]),
                    x["expires_at"].is_null() ? "never" : Relative(x["expires_at"]),
                    std::to_string(x.value("approvals_so_far", 0)) + "/" + std::to_string(x.value("approvals_needed", 1))});
  }
  PrintTable(rows);
  return kExitOk;
}

// ---- show -----------------------------------------------------------------------------------

int RunShow(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {}, {"--json"});
  if (a.help) return PrintHelp("show", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("show", a.error);
  if (a.positional.size() != 1) return Usage("show", "give exactly one approval ID");
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  ApiReply r = client->Get("/api/approvals/" + UrlEncode(a.positional[0]));
  if (!r.ok()) return Fail(r);
  const Json& d = r.body;
  if (a.flags.count("--json")) {
    std::cout << d.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::cout << "Approval " << Printable(Str(d, "id")) << "  (" << Str(d, "state") << ")\n";
  std::cout << "  tool:       " << Printable(Str(d, "tool")) << "\n";
  std::cout << "  principal:  " << Printable(Str(d, "principal"));
  if (!Str(d, "session_id").empty()) std::cout << "  (session " << Printable(Str(d, "session_id")) << ")";
  std::cout << "\n";
  if (!Str(d, "rule").empty()) std::cout << "  rule:       " << Printable(Str(d, "rule")) << "\n";
  if (d.contains("risk") && !d["risk"].is_null()) std::cout << "  risk:       " << Printable(DumpJson(d["risk"])) << "\n";
  std::cout << "  created:    " << Str(d, "created_at") << " (" << Relative(d["created_at"]) << ")\n";
  std::cout << "  expires:    "
            << (d["expires_at"].is_null() ? "never" : Str(d, "expires_at") + " (" + Relative(d["expires_at"]) + ")")
            << "\n";
  std::cout << "  approvals:  " << d.value("approvals_so_far", 0) << " of " << d.value("approvals_needed", 1);
  const Json rv = d.value("reviewers", Json::object());
  std::string who;
  if (rv.is_object() && rv.value("roles", Json::array()).size() > 0) who += "roles " + Printable(DumpJson(rv["roles"]));
  if (rv.is_object() && rv.value("names", Json::array()).size() > 0) {
    who += (who.empty() ? "" : " or ") + std::string("names ") + Printable(DumpJson(rv["names"]));
  }
  std::cout << "  from " << (who.empty() ? "any reviewer" : who) << "\n";
  if (!d["decided_at"].is_null()) {
    std::cout << "  decided:    by " << Printable(Str(d, "decided_by")) << " via " << Str(d, "decided_via") << " at "
              << Str(d, "decided_at");
    if (!Str(d, "reason").empty()) std::cout << ": " << Printable(Str(d, "reason"));
    std::cout << "\n";
  }
  std::cout << "  arguments:\n" << Pretty(d["arguments"], 4) << "\n";
  if (d.contains("edited_arguments") && !d["edited_arguments"].is_null()) {
    std::cout << "  edited arguments (what runs):\n" << Pretty(d["edited_arguments"], 4) << "\n";
  }
  if (d.contains("votes") && !d["votes"].empty()) {
    std::cout << "  votes:\n";
    for (const auto& v : d["votes"]) {
      std::cout << "    " << Printable(Str(v, "reviewer")) << "  " << Str(v, "decision") << "  via " << Str(v, "via")
                << "  " << Str(v, "at");
      if (!Str(v, "reason").empty()) std::cout << "  \"" << Printable(Str(v, "reason")) << "\"";
      std::cout << "\n";
    }
  }
  if (d.contains("comments") && !d["comments"].empty()) {
    std::cout << "  comments:\n";
    for (const auto& c : d["comments"]) {
      std::cout << "    " << Str(c, "at") << "  " << Printable(Str(c, "author")) << ": " << Printable(Str(c, "body")) << "\n";
    }
  }
  if (d.contains("result") && !d["result"].is_null()) {
    std::cout << "  upstream result:\n" << Pretty(d["result"], 4) << "\n";
  }
  if (d.contains("timeline") && !d["timeline"].empty()) {
    std::cout << "  timeline:\n";
    for (const auto& e : d["timeline"]) {
      std::cout << "    " << Str(e, "ts") << "  " << Printable(Str(e, "type"));
      if (!Str(e, "actor").empty()) std::cout << "  by " << Printable(Str(e, "actor"));
      if (!Str(e, "via").empty()) std::cout << " via " << Printable(Str(e, "via"));
      std::cout << "\n";
    }
  }
  if (d.contains("may_decide")) {
    const Json& you = d["may_decide"]["you"];
    std::cout << "  you:        " << (you.value("can_decide", false) ? "may decide" : "may not decide") << " ("
              << Printable(you.value("why", std::string())) << ")\n";
  }
  if (!Str(d, "agent_message").empty()) std::cout << "  agent told: " << Printable(Str(d, "agent_message")) << "\n";
  if (!Str(d, "review_url").empty()) std::cout << "  review:     " << Printable(Str(d, "review_url")) << "\n";
  return kExitOk;
}

// ---- approve / reject -----------------------------------------------------------------------

int RunDecide(const std::vector<std::string>& args, bool approve) {
  const std::string cmd = approve ? "approve" : "reject";
  Args a = approve ? ParseArgs(args, 1, {"--reason", "--arguments"}, {"--json"})
                   : ParseArgs(args, 1, {"--reason"}, {"--json"});
  if (a.help) return PrintHelp(cmd, std::cout), kExitOk;
  if (!a.error.empty()) return Usage(cmd, a.error);
  if (a.positional.size() != 1) return Usage(cmd, "give exactly one approval ID");
  Json body = Json::object();
  if (a.Has("--reason")) body["reason"] = a.Get("--reason");
  if (!approve && a.Get("--reason").find_first_not_of(" \t") == std::string::npos) {
    return Usage(cmd, "--reason is required to reject");
  }
  if (a.Has("--arguments")) {
    auto parsed = ParseJson(a.Get("--arguments"));
    if (!parsed.ok() || !parsed->is_object()) return Usage(cmd, "--arguments must be a JSON object");
    body["arguments"] = *parsed;
  }
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  const std::string id = a.positional[0];
  ApiReply r = client->Post("/api/approvals/" + UrlEncode(id) + "/" + cmd, body);
  if (!r.ok()) return Fail(r);
  if (a.flags.count("--json")) {
    std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  const Json& o = r.body["outcome"];
  const std::string state = Str(o, "state");
  if (!o.value("changed", true)) {
    std::cout << "You had already voted on " << Printable(id) << "; it is " << state << ".\n";
  } else if (state == "pending") {
    std::cout << "Vote recorded on " << Printable(id) << ": " << o.value("approvals_so_far", 0) << " of "
              << o.value("approvals_needed", 1) << " approvals; still pending.\n";
  } else {
    std::cout << (state == "approved" ? "Approved " : state == "rejected" ? "Rejected " : "Now " + state + ": ")
              << Printable(id) << " (" << Printable(Str(o, "message")) << ").\n";
  }
  return kExitOk;
}

// ---- watch ----------------------------------------------------------------------------------

int RunWatch(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--last-event-id", "--count"}, {"--json"});
  if (a.help) return PrintHelp("watch", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("watch", a.error);
  if (!a.positional.empty()) return Usage("watch", "unexpected argument " + a.positional[0]);
  long long count = -1;
  if (a.Has("--count")) {
    try {
      count = std::stoll(a.Get("--count"));
    } catch (...) {
      count = 0;
    }
    if (count < 1) return Usage("watch", "--count must be a positive number");
  }
  std::string last_id = a.Get("--last-event-id");
  if (!last_id.empty() && last_id.find_first_not_of("0123456789") != std::string::npos) {
    return Usage("watch", "--last-event-id must be a number");
  }
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  const bool json = a.flags.count("--json") > 0;
  long long seen = 0;
  int failures = 0;
  bool done = false;
  while (!done) {
    std::string buffer;
    std::multimap<std::string, std::string> headers;
    if (!last_id.empty()) headers.emplace("Last-Event-ID", last_id);
    ApiReply r = client->Stream("/api/events", {}, headers, [&](std::string_view chunk) {
      for (char c : chunk) {
        if (c != '\r') buffer += c;
      }
      size_t end;
      while ((end = buffer.find("\n\n")) != std::string::npos) {
        std::string frame = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        std::string id, event, data;
        std::istringstream lines(frame);
        std::string line;
        while (std::getline(lines, line)) {
          if (line.rfind("id: ", 0) == 0) id = line.substr(4);
          else if (line.rfind("event: ", 0) == 0) event = line.substr(7);
          else if (line.rfind("data: ", 0) == 0) data += line.substr(6);
        }
        if (!id.empty()) last_id = id;
        if (event != "approval") continue;
        auto ev = ParseJson(data, 512);  // an agent's arguments nest deep inside (see review_client.cpp)
        if (!ev.ok()) continue;
        if (json) {
          std::cout << DumpJson(*ev) << std::endl;
        } else {
          const Json& ap = (*ev)["approval"];
          std::cout << Str(*ev, "ts") << "  " << Printable(Str(*ev, "type"), 24) << "  " << Printable(Str(ap, "id"))
                    << "  " << Printable(Str(ap, "tool"), 32) << "  principal=" << Printable(Str(ap, "principal"), 24)
                    << "  state=" << Str(ap, "state");
          if (!Str(*ev, "actor").empty()) std::cout << "  by " << Printable(Str(*ev, "actor"), 32);
          std::cout << std::endl;
        }
        failures = 0;
        if (count > 0 && ++seen >= count) {
          done = true;
          return false;
        }
      }
      return true;
    });
    if (done) break;
    if (r.status != 0 && !r.ok()) return Fail(r);  // 401/403/… will not get better by retrying
    ++failures;
    if (failures > 30) {
      std::cerr << "holdgate watch: giving up: " << DescribeFailure(r) << "\n";
      return kExitError;
    }
    if (r.status == 0) std::cerr << "holdgate watch: " << DescribeFailure(r) << "; retrying\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 250 * failures)));
  }
  return kExitOk;
}

// ---- token ----------------------------------------------------------------------------------

// The HS256 secret and iss/aud from a config file: review.auth.jwt_secret, else the reviewer-secret
// file beside the database (where `holdgate serve` generates one).
Status SecretFromConfig(const std::string& path, std::string* secret, std::string* issuer, std::string* audience) {
  auto cfg = LoadConfigFile(path);
  if (!cfg.ok()) return cfg.status();
  const Json auth = cfg->review.is_object() && cfg->review.contains("auth") ? cfg->review["auth"] : Json::object();
  std::string base = std::filesystem::path(path).parent_path().string();
  auto jwt = review::ParseJwtConfig(auth, base);
  if (!jwt.ok()) return jwt.status();
  *issuer = jwt->issuer;
  *audience = jwt->audience;
  if (auth.is_object() && auth.contains("jwt_secret")) {
    *secret = jwt->hs256_secret;
    return Status::Ok();
  }
  std::filesystem::path db = cfg->db_path;
  if (db.is_relative()) db = std::filesystem::path(base.empty() ? "." : base) / db;
  std::filesystem::path file = db.parent_path() / "reviewer-secret";
  if (ReadFileTrimmed(file.string(), secret) && !secret->empty()) return Status::Ok();
  // Relative to the working directory, as `holdgate serve` resolves it.
  file = std::filesystem::path(cfg->db_path).parent_path() / "reviewer-secret";
  if (ReadFileTrimmed(file.string(), secret) && !secret->empty()) return Status::Ok();
  return NotFound("no review.auth.jwt_secret in " + path + " and no reviewer-secret beside its database");
}

int RunToken(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--sub", "--role", "--ttl", "--secret", "--secret-file", "--config", "--issuer", "--audience"},
                     {});
  if (a.help) return PrintHelp("token", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("token", a.error);
  if (!a.positional.empty()) return Usage("token", "unexpected argument " + a.positional[0]);
  if (a.Get("--sub").empty()) return Usage("token", "--sub is required");
  review::Role role;
  if (!review::ParseRole(a.Get("--role"), &role)) return Usage("token", "--role must be reviewer, admin or auditor");
  const int64_t ttl_ms = ParseDurationMs(a.Get("--ttl", "1h"));
  if (ttl_ms < 1000) return Usage("token", "--ttl must be a duration such as 30m, 1h or 8h");
  std::string secret, issuer = a.Get("--issuer"), audience = a.Get("--audience"), from;
  if (a.Has("--secret")) {
    secret = a.Get("--secret");
    from = "--secret";
  } else if (a.Has("--secret-file")) {
    if (!ReadFileTrimmed(a.Get("--secret-file"), &secret)) return Usage("token", "cannot read " + a.Get("--secret-file"));
    from = a.Get("--secret-file");
  } else if (const char* env = std::getenv("HOLDGATE_JWT_SECRET"); env != nullptr && *env != '\0') {
    secret = env;
    from = "HOLDGATE_JWT_SECRET";
  } else if (a.Has("--config")) {
    std::string iss, aud;
    Status s = SecretFromConfig(a.Get("--config"), &secret, &iss, &aud);
    if (!s.ok()) return Usage("token", s.message());
    if (issuer.empty()) issuer = iss;
    if (audience.empty()) audience = aud;
    from = a.Get("--config");
  } else {
    return Usage("token", "no secret: use --secret, --secret-file, HOLDGATE_JWT_SECRET or --config");
  }
  if (secret.size() < review::kMinHs256SecretBytes) {
    std::cerr << "holdgate token: the secret from " << from << " has " << secret.size()
              << " bytes; at least 32 are required\n";
    return kExitUsage;
  }
  if (ttl_ms > 24LL * 3600 * 1000) {
    std::cerr << "holdgate token: warning: the server refuses tokens living longer than its max_token_lifetime "
                 "(24h unless configured)\n";
  }
  auto token = review::MintHs256(secret, a.Get("--sub"), role, ttl_ms / 1000, issuer, audience);
  if (!token.ok()) return Usage("token", token.status().message());
  std::cout << *token << "\n";
  return kExitOk;
}

// ---- audit ----------------------------------------------------------------------------------

int RunAuditVerify(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 2, {"--db"}, {"--json"});
  if (a.help) return PrintHelp("audit", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("audit", a.error);
  if (!a.positional.empty()) return Usage("audit", "unexpected argument " + a.positional[0]);
  Json v;
  if (a.Has("--db")) {
    auto verdict = store::VerifyAuditChainFile(a.Get("--db"));
    if (!verdict.ok()) {
      std::cerr << "holdgate audit verify: " << verdict.status().message() << "\n";
      return verdict.status().code() == Code::kNotFound ? kExitNotFound : kExitError;
    }
    v = Json{{"ok", verdict->ok}, {"rows_checked", verdict->rows_checked},
             {"broken_seq", verdict->broken_seq == 0 ? Json(nullptr) : Json(verdict->broken_seq)},
             {"why", verdict->why}, {"head_seq", verdict->head_seq}, {"head_hash", verdict->head_hash}};
  } else {
    int code = kExitOk;
    auto client = Connect(a, &code);
    if (!client) return code;
    ApiReply r = client->Get("/api/audit/verify");
    if (!r.ok()) return Fail(r);
    v = r.body;
  }
  const bool ok = v.value("ok", false);
  if (a.flags.count("--json")) {
    std::cout << v.dump(2) << "\n";
  } else if (ok) {
    std::cout << "Audit chain OK: " << v.value("rows_checked", 0) << " rows, head seq " << v.value("head_seq", 0)
              << ", head hash " << Str(v, "head_hash") << "\n";
  } else {
    std::cout << "Audit chain BROKEN at seq " << Str(v, "broken_seq") << ": " << Printable(Str(v, "why")) << " ("
              << v.value("rows_checked", 0) << " rows checked)\n";
  }
  return ok ? kExitOk : kExitChainBroken;
}

int RunAudit(const std::vector<std::string>& args) {
  if (args.size() > 1 && args[1] == "verify") return RunAuditVerify(args);
  Args a = ParseArgs(args, 1, {"--type", "--approval", "--principal", "--actor", "--tool", "--since", "--until", "--limit",
                               "--format"},
                     {});
  if (a.help) return PrintHelp("audit", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("audit", a.error);
  if (!a.positional.empty()) return Usage("audit", "unexpected argument " + a.positional[0]);
  const std::string format = a.Get("--format", "table");
  if (format != "table" && format != "jsonl" && format != "csv") return Usage("audit", "--format must be table, jsonl or csv");
  int limit = 100;
  if (a.Has("--limit")) {
    try {
      limit = std::stoi(a.Get("--limit"));
    } catch (...) {
      limit = 0;
    }
    if (limit < 1) return Usage("audit", "--limit must be a positive number");
  }
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  std::multimap<std::string, std::string> params;
  const std::map<std::string, std::string> names = {{"--type", "type"},       {"--approval", "approval_id"},
                                                    {"--principal", "principal"}, {"--actor", "actor"},
                                                    {"--tool", "tool"},       {"--since", "since"},
                                                    {"--until", "until"}};
  for (const auto& [flag, param] : names) {
    if (a.Has(flag)) params.emplace(param, a.Get(flag));
  }
  if (format != "table") {
    params.emplace("format", format);
    ApiReply r = client->Stream("/api/audit/export", params, {}, [](std::string_view chunk) {
      std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      return static_cast<bool>(std::cout);
    });
    std::cout.flush();
    if (!r.ok()) return Fail(r);
    if (!r.error.empty()) {
      std::cerr << "holdgate audit: the export was cut off: " << r.error << "\n";
      return kExitError;
    }
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"SEQ", "TIME", "TYPE", "APPROVAL", "ACTOR", "VIA", "DECISION", "TOOL"}};
  std::string cursor;
  int n = 0;
  while (n < limit) {
    auto p = params;
    p.emplace("limit", std::to_string(std::min(1000, limit - n)));
    if (!cursor.empty()) p.emplace("cursor", cursor);
    ApiReply r = client->Get("/api/audit", p);
    if (!r.ok()) return Fail(r);
    for (const auto& e : r.body["events"]) {
      rows.push_back({Str(e, "seq"), Str(e, "ts"), Printable(Str(e, "type"), 28), Printable(Str(e, "approval_id")),
                      Printable(Str(e, "actor"), 24), Printable(Str(e, "via")), Printable(Str(e, "decision"), 12),
                      Printable(Str(e, "tool"), 28)});
      ++n;
    }
    cursor = r.body["next_cursor"].is_string() ? r.body["next_cursor"].get<std::string>() : "";
    if (cursor.empty()) break;
  }
  if (rows.size() == 1) {
    std::cout << "No audit events.\n";
    return kExitOk;
  }
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

int RunReviewerCommand(const std::vector<std::string>& args) {
  if (args.empty()) return -1;
  const std::string& cmd = args[0];
  if (cmd == "list") return RunList(args);
  if (cmd == "show") return RunShow(args);
  if (cmd == "approve") return RunDecide(args, true);
  if (cmd == "reject") return RunDecide(args, false);
  if (cmd == "watch") return RunWatch(args);
  if (cmd == "token") return RunToken(args);
  if (cmd == "audit") return RunAudit(args);
  return -1;
}

}  // namespace holdgate::cli
