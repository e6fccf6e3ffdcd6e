#include "cli/reviewer_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "cli/review_client.h"
#include "common/clock.h"
#include "common/config.h"
#include "review/api_json.h"
#include "review/jwt_auth.h"
#include "store/audit.h"
#include "store/audit_checkpoint.h"
#include "store/store.h"

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
        "States: pending approved executing completed failed rejected expired cancelled lapsed.\n"
        "TIME is RFC 3339 (2026-01-02T03:04:05Z), a date, or epoch milliseconds. --limit caps the rows\n"
        "(default 50; pages are followed). --json prints the API's approvals array.\n"}},
      {"show",
       {"holdgate show ID [--json]",
        "Shows one approval: arguments, votes, comments, timeline, who may still decide and what the\n"
        "agent will be told. --json prints the API's object.\n"}},
      {"approve",
       {"holdgate approve ID [ID...] [--reason R] [--arguments JSON] [--json]\n"
        "       holdgate approve ID --remember DURATION [--scope session] [--any-arguments] [--reason R]\n"
        "       holdgate approve --all (--tool T | --principal P | --rule R)... [--reason R] [--json]",
        "Votes to approve. The call runs once the rule's quorum of distinct reviewers approved.\n"
        "--arguments replaces the tool arguments (one ID only; rules with editable: true; the original\n"
        "is kept). Approving the same approval twice is harmless (exit 0). Several IDs, or --all with\n"
        "a filter (every pending approval that matches, at most 500), are one bulk decision: each\n"
        "approval checked on its own, the votes written together; the exit code is the first\n"
        "failure's.\n"
        "--remember 30m also remembers the approval (a grant, one ID only): for that long the same\n"
        "principal's identical call of the same tool runs at once, audited as allowed by the grant.\n"
        "--scope session binds it to the call's MCP session; --any-arguments covers any arguments\n"
        "(only where the rule allows it). The rule caps the duration; critical rules are not\n"
        "rememberable by default. See `holdgate grants` and `holdgate revoke`.\n"}},
      {"policy check --url",
       {"holdgate policy check --url URL --tool T [--arguments JSON] [--principal P] [--session S] [--upstream NAME] [--json]",
        "Asks the running holdgate (admin token) what its active policy would do with this call:\n"
        "allowed, denied, hidden or held, by which rule and why, and whether a live grant covers it.\n"
        "Nothing is held, counted or run; the check is audited (policy.checked). --upstream asks an\n"
        "upstream's own policy file instead, with the tool named as that file names it (no prefix).\n"}},
      {"policy reload",
       {"holdgate policy reload [--url URL] [--upstream NAME] [--json]",
        "Makes the running holdgate re-read its policy file (admin token). A file with errors is\n"
        "refused with every problem listed, and the previous policy stays. Audited. --upstream\n"
        "re-reads that upstream's own policy file only.\n"}},
      {"grants",
       {"holdgate grants [--all] [--json]",
        "Lists live grants (remembered approvals), newest first: what each covers, who made it, when it\n"
        "expires, how often it was used. --all also lists revoked and expired ones. --json prints the\n"
        "API's grants array.\n"}},
      {"tools",
       {"holdgate tools [--refresh] [--json]",
        "Lists every tool of the upstream as holdgate treats it: the decision for a typical call\n"
        "(allow, deny, hide or hold, with the rule that decides; \"depends on arguments\" when a rule\n"
        "looks at them), the risk level and whether it comes from the policy or from the tool's MCP\n"
        "annotations, and how often it was called, denied and held in the last 24 hours (audited\n"
        "calls: allowed ones count only with audit_all_calls). --refresh asks the upstream for\n"
        "tools/list again instead of the answer cached for 30 s. --json prints the API's answer.\n"}},
      {"revoke",
       {"holdgate revoke GRANT_ID [--reason R] [--json]",
        "Revokes a grant: the next call it covered is held for approval again. Admins may revoke any\n"
        "grant, reviewers the ones they made. Audited as grant.revoked.\n"}},
      {"reject",
       {"holdgate reject ID [ID...] --reason R [--json]\n"
        "       holdgate reject --all (--tool T | --principal P | --rule R)... --reason R [--json]",
        "Rejects the call; the agent receives the reason. A reason is required. Several IDs, or --all\n"
        "with a filter, are one bulk decision, each approval checked on its own; the exit code is the\n"
        "first failure's.\n"}},
      {"watch",
       {"holdgate watch [--json] [--last-event-id N] [--count N]",
        "Follows approval events live (the /api/events stream), one line per event (--json: one JSON\n"
        "object per line). Reconnects after a dropped connection without losing events. --count stops\n"
        "after N events. Stop with Ctrl-C.\n"}},
      {"token",
       {"holdgate token --sub NAME --role reviewer|admin|auditor [--ttl 1h]\n"
        "               [--secret S | --secret-file FILE | --config FILE] [--issuer I] [--audience A]",
        "Mints an HS256 reviewer token and prints it. The secret is, in order: --secret, --secret-file,\n"
        "--config FILE (review.auth.jwt_secret, else the reviewer-secret file `holdgate serve` keeps\n"
        "beside the database), $HOLDGATE_JWT_SECRET, $HOLDGATE_CONFIG (as --config), else\n"
        "data/reviewer-secret in the current folder (what `holdgate serve` writes with its default\n"
        "database). It must be at least 32 bytes. The server\n"
        "refuses tokens that live longer than its max_token_lifetime (24h by default).\n"
        "Exit codes: 0 ok, 2 usage error or no usable secret.\n"}},
      {"audit",
       {"holdgate audit [--type T] [--approval ID] [--principal P] [--actor A] [--tool T]\n"
        "                [--since TIME] [--until TIME] [--limit N] [--format table|jsonl|csv]\n"
        "       holdgate audit verify [--db FILE] [--archive FILE]... [--checkpoint-key KEY |\n"
        "                             --checkpoint-key-file FILE | --config FILE]\n"
        "                             [--checkpoint-file FILE] [--json]\n"
        "       holdgate audit archive --db FILE (--before TIME|AGE | --through-seq N) --out FILE\n"
        "                              [--checkpoint-key KEY | --checkpoint-key-file FILE | --config FILE]\n"
        "                              [--checkpoint-file FILE] [--json]",
        "Prints audit events (oldest first). table shows up to --limit rows (default 100); jsonl and csv\n"
        "export every matching event (--type accepts a prefix such as approval.*).\n"
        "`audit verify` walks the hash chain: through the API, or offline on a database file with --db\n"
        "(read-only; works while holdgate runs) starting from its newest archive anchor. --archive (may\n"
        "repeat) checks archive files written by `audit archive`: every line's hash and link and the\n"
        "trailer; several must continue one another, and with --db each archive's head must be one of\n"
        "the database's anchors (archives from seq 1 must reach the database's start). A checkpoint\n"
        "key (--checkpoint-key, --checkpoint-key-file, $HOLDGATE_AUDIT_CHECKPOINT_KEY, or\n"
        "audit.checkpoint in --config FILE) also checks every audit.checkpoint event's HMAC and that a\n"
        "signed checkpoint vouches for the archive anchor the chain starts from (rows cut at the start\n"
        "behind a forged anchor). The checkpoint file (--checkpoint-file, or audit.checkpoint.file in\n"
        "--config) must have every signed head on the chain: a head past its end means rows were cut\n"
        "off the end.\n"
        "It exits 6 when a chain is broken and names the first bad row (seq) or archive line.\n"
        "`audit archive` (retention) writes the events older than --before (RFC 3339 time, or an age\n"
        "such as 90d or 12h) and/or up to --through-seq to a new JSON-lines file --out (mode 0600, never\n"
        "overwritten; last line: a trailer with first_seq, last_seq, count, start_hash, head_hash), then\n"
        "in one transaction records an anchor (last seq + hash), prunes those rows and appends an\n"
        "audit.archived event. Works on the database directly, also while holdgate runs (SQLite's\n"
        "write lock, or on PostgreSQL (--db postgresql://…) the chain lock every replica's appends\n"
        "take, orders it with the servers' writes; on PostgreSQL run it as a role that may DELETE from\n"
        "audit_events, the tables' owner). It refuses a chain that does not verify.\n"
        "With the checkpoint key (required once the chain has checkpoints) the prune also appends a\n"
        "signed checkpoint that vouches for the new anchor, and appends it to the checkpoint file.\n"
        "Keep every archive: together, in order, they are the history before the database's anchor.\n"}},
      {"deliveries",
       {"holdgate deliveries [--state pending|delivering|delivered|dead|all] [--approval ID] [--target T]\n"
        "                     [--limit N] [--json]\n"
        "       holdgate deliveries --endpoints [--json]",
        "Lists notification deliveries (webhook and Slack outbox rows), oldest first: attempts, state,\n"
        "the receiver's last answer and the next try. Default --state all, --limit 100 (pages are\n"
        "followed). --json prints the API's deliveries array.\n"
        "--endpoints lists the configured targets instead, and whether one is disabled (a receiver\n"
        "that answered 410 Gone stays disabled, also across restarts, until re-enabled).\n"}},
      {"redeliver",
       {"holdgate redeliver DELIVERY_ID [--json]\n"
        "       holdgate redeliver --endpoint TARGET [--json]",
        "Queues a delivery again (for example one that is dead after its retries ran out, or delivered\n"
        "to a receiver that lost it). The same webhook-id is sent, so receivers can deduplicate.\n"
        "--endpoint re-enables a disabled target (webhook:NAME or slack) and queues again every\n"
        "delivery given up because it was disabled.\n"
        "Needs an admin token; the request is audited (delivery.requeued, endpoint.enable_requested).\n"}},
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

// --limit N as a number in [1, max]; `def` when absent. False on anything else.
bool ParseLimit(const Args& a, int def, int max, int* out) {
  *out = def;
  if (!a.Has("--limit")) return true;
  try {
    *out = std::stoi(a.Get("--limit"));
  } catch (...) {
    return false;
  }
  return *out >= 1 && *out <= max;
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

// The RISK column: the risk's level, "-" when the rule gave none.
std::string RiskLevel(const Json& approval) {
  const Json risk = approval.value("risk", Json());
  if (risk.is_object() && risk.contains("level") && risk["level"].is_string()) return risk["level"].get<std::string>();
  return "-";
}

int RunList(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--state", "--tool", "--principal", "--since", "--until", "--limit"}, {"--json", "--all"});
  if (a.help) return PrintHelp("list", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("list", a.error);
  if (!a.positional.empty()) return Usage("list", "unexpected argument " + a.positional[0]);
  int limit = 0;
  if (!ParseLimit(a, 50, 100000, &limit)) return Usage("list", "--limit must be a positive number");
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
  // With several upstreams the API names each approval's upstream: a column of its own.
  const bool upstreams = std::any_of(all.begin(), all.end(), [](const Json& x) { return x.contains("upstream"); });
  std::vector<std::vector<std::string>> rows = {{"ID", "STATE", "RISK", "TOOL", "PRINCIPAL", "CREATED", "EXPIRES", "APPROVALS"}};
  if (upstreams) rows[0].insert(rows[0].begin() + 4, "UPSTREAM");
  for (const auto& x : all) {
    rows.push_back({Printable(Str(x, "id")), Str(x, "state"), Printable(RiskLevel(x), 10), Printable(Str(x, "tool"), 32),
                    Printable(Str(x, "principal"), 24), Relative(x["created_at"]),
                    x["expires_at"].is_null() ? "never" : Relative(x["expires_at"]),
                    std::to_string(x.value("approvals_so_far", 0)) + "/" + std::to_string(x.value("approvals_needed", 1))});
    if (upstreams) rows.back().insert(rows.back().begin() + 4, Printable(Str(x, "upstream"), 24));
  }
  PrintTable(rows);
  return kExitOk;
}

// ---- show -----------------------------------------------------------------------------------

// "critical (Destructive)" from {"level": "critical", "category": "Destructive", ...}; other keys
// follow as "key: value"; a risk that is not an object is printed as JSON.
std::string RiskText(const Json& risk) {
  if (!risk.is_object()) return DumpJson(risk);
  std::string out = risk.value("level", Json()).is_string() ? risk["level"].get<std::string>() : "";
  if (risk.contains("category") && risk["category"].is_string()) {
    out += (out.empty() ? "" : " ") + std::string("(") + risk["category"].get<std::string>() + ")";
  }
  for (auto it = risk.begin(); it != risk.end(); ++it) {
    if (it.key() == "level" || it.key() == "category") continue;
    out += (out.empty() ? "" : "; ") + it.key() + ": " + (it.value().is_string() ? it.value().get<std::string>() : DumpJson(it.value()));
  }
  return out.empty() ? "-" : out;
}

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
  if (!Str(d, "upstream").empty()) std::cout << "  upstream:   " << Printable(Str(d, "upstream")) << "\n";
  std::cout << "  principal:  " << Printable(Str(d, "principal"));
  if (!Str(d, "session_id").empty()) std::cout << "  (session " << Printable(Str(d, "session_id")) << ")";
  std::cout << "\n";
  if (!Str(d, "rule").empty()) std::cout << "  rule:       " << Printable(Str(d, "rule")) << "\n";
  if (!Str(d, "rule_reason").empty()) std::cout << "  why held:   " << Printable(Str(d, "rule_reason")) << "\n";
  if (d.contains("risk") && !d["risk"].is_null()) std::cout << "  risk:       " << Printable(RiskText(d["risk"])) << "\n";
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

void PrintDecision(const std::string& id, const Json& reply);

int RunDecide(const std::vector<std::string>& args, bool approve) {
  const std::string cmd = approve ? "approve" : "reject";
  Args a = approve ? ParseArgs(args, 1, {"--reason", "--arguments", "--tool", "--principal", "--rule", "--remember", "--scope"},
                               {"--json", "--all", "--any-arguments"})
                   : ParseArgs(args, 1, {"--reason", "--tool", "--principal", "--rule"}, {"--json", "--all"});
  if (a.help) return PrintHelp(cmd, std::cout), kExitOk;
  if (!a.error.empty()) return Usage(cmd, a.error);
  const bool all = a.flags.count("--all") > 0;
  const bool filtered = a.Has("--tool") || a.Has("--principal") || a.Has("--rule");
  if (all && !a.positional.empty()) return Usage(cmd, "give approval IDs or --all, not both");
  if (all && !filtered) return Usage(cmd, "--all needs at least one of --tool, --principal, --rule");
  if (!all && filtered) return Usage(cmd, "--tool, --principal and --rule go with --all");
  if (all && a.Has("--arguments")) return Usage(cmd, "--arguments needs exactly one approval ID");
  if (!all && a.positional.empty()) return Usage(cmd, "give one or more approval IDs, or --all with a filter");
  if (a.positional.size() > 1 && a.Has("--arguments")) return Usage(cmd, "--arguments needs exactly one approval ID");
  const bool remember = a.Has("--remember");
  if (!remember && (a.Has("--scope") || a.flags.count("--any-arguments"))) {
    return Usage(cmd, "--scope and --any-arguments go with --remember");
  }
  if (remember && (all || a.positional.size() != 1)) return Usage(cmd, "--remember needs exactly one approval ID");
  if (remember && a.Has("--arguments")) return Usage(cmd, "an approval with edited arguments cannot be remembered");
  const std::string scope = a.Get("--scope", "principal");
  if (scope != "principal" && scope != "session") return Usage(cmd, "--scope must be principal or session");
  Json body = Json::object();
  if (a.Has("--reason")) body["reason"] = a.Get("--reason");
  if (remember) {
    if (ParseDurationMs(a.Get("--remember")) <= 0) return Usage(cmd, "--remember needs a duration such as 30m or 1h");
    body["remember"] = {{"for", a.Get("--remember")},
                        {"scope", scope},
                        {"arguments", a.flags.count("--any-arguments") ? "any" : "same"}};
  }
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
  if (!all && a.positional.size() == 1) {
    ApiReply r = client->Post("/api/approvals/" + UrlEncode(a.positional[0]) + "/" + cmd, body);
    if (!r.ok()) return Fail(r);
    if (a.flags.count("--json")) {
      std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
      return kExitOk;
    }
    PrintDecision(a.positional[0], r.body);
    if (r.body.contains("grant") && r.body["grant"].is_object()) {
      const Json& g = r.body["grant"];
      std::cout << "Remembered as " << Printable(Str(g, "id")) << " until " << Str(g, "expires_at") << ": "
                << Printable(Str(g, "principal")) << "'s " << (Str(g, "arguments") == "any" ? "calls" : "identical calls")
                << " of " << Printable(Str(g, "tool"))
                << (Str(g, "scope") == "session" ? " in this session" : "") << " run without asking.\n";
    }
    if (r.body.contains("grant_error")) {
      std::cerr << "holdgate: " << Printable(Str(r.body, "grant_error")) << "\n";
      return kExitConflict;
    }
    return kExitOk;
  }
  // Several, or --all: one bulk request (POST /api/approvals/decide), every approval checked on its
  // own, the votes written in one transaction. One failing does not stop the others; the exit
  // code is the first failure's (0 when all succeeded).
  Json bulk = {{"approve", approve}};
  if (body.contains("reason")) bulk["reason"] = body["reason"];
  if (all) {
    Json filter = Json::object();
    for (const char* f : {"tool", "principal", "rule"}) {
      if (a.Has(std::string("--") + f)) filter[f] = a.Get(std::string("--") + f);
    }
    bulk["filter"] = filter;
  } else {
    bulk["ids"] = a.positional;
  }
  ApiReply r = client->Post("/api/approvals/decide", bulk);
  if (!r.ok()) return Fail(r);
  int first_failure = kExitOk;
  Json results = Json::array();
  for (const Json& item : r.body.value("results", Json::array())) {
    const std::string id = Str(item, "id");
    if (!item.value("ok", false)) {
      const std::string error = Str(item, "error");
      const int code = error == "already_decided" || error == "already_voted" ? kExitConflict
                       : error == "not_found"      ? kExitNotFound
                       : error == "forbidden"      ? kExitAuth
                       : error == "unavailable"    ? kExitError
                                                   : kExitUsage;
      if (first_failure == kExitOk) first_failure = code;
      results.push_back(item);
      if (!a.flags.count("--json")) {
        std::cerr << "holdgate: " << Printable(id) << ": " << Printable(error) << ": " << Printable(Str(item, "message"))
                  << "\n";
      }
      continue;
    }
    results.push_back(item);
    if (!a.flags.count("--json")) {
      PrintDecision(id, Json{{"outcome", {{"changed", item.value("changed", true)},
                                          {"state", Str(item, "state")},
                                          {"message", Str(item, "message")}}}});
    }
  }
  if (a.flags.count("--json")) {
    std::cout << results.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else if (all && results.empty()) {
    std::cout << "No pending approval matches.\n";
  }
  return first_failure;
}

// One line saying what a vote did, from the API's decision reply.
void PrintDecision(const std::string& id, const Json& reply) {
  const Json& o = reply["outcome"];
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
}

// ---- grants / revoke ------------------------------------------------------------------------

int RunGrants(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {}, {"--json", "--all"});
  if (a.help) return PrintHelp("grants", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("grants", a.error);
  if (!a.positional.empty()) return Usage("grants", "unexpected argument " + a.positional[0]);
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  std::multimap<std::string, std::string> params;
  if (a.flags.count("--all")) params.emplace("all", "1");
  ApiReply r = client->Get("/api/grants", params);
  if (!r.ok()) return Fail(r);
  const Json grants = r.body.value("grants", Json::array());
  if (a.flags.count("--json")) {
    std::cout << grants.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (grants.empty()) {
    std::cout << (a.flags.count("--all") ? "No grants.\n" : "No live grants.\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "TOOL", "PRINCIPAL", "SCOPE", "ARGUMENTS", "BY", "EXPIRES", "USES"}};
  for (const auto& g : grants) {
    rows.push_back({Printable(Str(g, "id")), Str(g, "state"), Printable(Str(g, "tool"), 32),
                    Printable(Str(g, "principal"), 24), Str(g, "scope"), Str(g, "arguments"),
                    Printable(Str(g, "created_by"), 24), Relative(g["expires_at"]), std::to_string(g.value("uses", 0))});
  }
  PrintTable(rows);
  return kExitOk;
}

// ---- tools ---------------------------------------------------------------------------------

int RunTools(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {}, {"--json", "--refresh"});
  if (a.help) return PrintHelp("tools", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("tools", a.error);
  if (!a.positional.empty()) return Usage("tools", "unexpected argument " + a.positional[0]);
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  std::multimap<std::string, std::string> params;
  if (a.flags.count("--refresh")) params.emplace("refresh", "1");
  ApiReply r = client->Get("/api/tools", params);
  if (!r.ok()) return Fail(r);
  if (a.flags.count("--json")) {
    std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  const Json upstreams = r.body.value("upstreams", Json::array());
  const bool several = upstreams.size() > 1;  // then every row names its upstream too
  for (const auto& up : upstreams) {
    const Json tools = up.value("tools", Json::array());
    std::cout << "upstream " << Printable(Str(up, "name"));
    if (up.contains("prefix")) std::cout << " (prefix \"" << Printable(Str(up, "prefix")) << "\")";
    std::cout << ": " << tools.size() << " tools";
    if (!up.value("available", true)) std::cout << " (DOWN: " << Printable(Str(up, "error"), 120) << ")";
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows = {{"TOOL", "DECISION", "RULE", "RISK", "CALLS/24H", "DENIED", "HELD"}};
    if (several) rows[0].insert(rows[0].begin() + 1, "UPSTREAM");
    for (const auto& t : tools) {
      const Json d = t.value("decision", Json::object());
      const Json risk = t.value("risk", Json::object());
      const Json n = t.value("last_24h", Json::object());
      std::string decision = Str(d, "action");
      if (d.value("depends_on_arguments", false)) decision += " (depends on arguments)";
      if (d.value("shadow", false)) decision += " [shadow]";
      rows.push_back({Printable(Str(t, "name"), 40), decision, Printable(Str(d, "rule"), 40),
                      Str(risk, "level") + " (from " + Str(risk, "source") + ")",
                      std::to_string(n.value("calls", 0)), std::to_string(n.value("denied", 0)),
                      std::to_string(n.value("held", 0))});
      if (several) rows.back().insert(rows.back().begin() + 1, Printable(Str(up, "name"), 24));
    }
    PrintTable(rows);
  }
  return kExitOk;
}

int RunRevoke(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--reason"}, {"--json"});
  if (a.help) return PrintHelp("revoke", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("revoke", a.error);
  if (a.positional.size() != 1) return Usage("revoke", "give exactly one GRANT_ID");
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  Json body = Json::object();
  if (a.Has("--reason")) body["reason"] = a.Get("--reason");
  ApiReply r = client->Post("/api/grants/" + UrlEncode(a.positional[0]) + "/revoke", body);
  if (!r.ok()) return Fail(r);
  if (a.flags.count("--json")) {
    std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::cout << "Revoked " << Printable(a.positional[0]) << ": the calls it covered need approval again.\n";
  return kExitOk;
}

// ---- policy check --url / policy reload --url ----------------------------------------------

int RemotePolicy(const std::vector<std::string>& args) {
  const bool reload = !args.empty() && args[0] == "reload";
  Args a = reload ? ParseArgs(args, 1, {"--upstream"}, {"--json"})
                  : ParseArgs(args, 1, {"--tool", "--arguments", "--principal", "--session", "--upstream"}, {"--json"});
  if (a.help) return PrintHelp(reload ? "policy reload" : "policy check --url", std::cout), kExitOk;
  if (!a.error.empty()) return Usage(reload ? "policy reload" : "policy check --url", a.error);
  if (!a.positional.empty()) return Usage(reload ? "policy reload" : "policy check --url", "unexpected argument " + a.positional[0]);
  Json body = Json::object();
  if (!reload) {
    if (!a.Has("--tool")) return Usage("policy check --url", "--tool is required");
    body["tool"] = a.Get("--tool");
    if (a.Has("--arguments")) {
      auto parsed = ParseJson(a.Get("--arguments"));
      if (!parsed.ok() || !parsed->is_object()) return Usage("policy check --url", "--arguments must be a JSON object");
      body["arguments"] = *parsed;
    }
    if (a.Has("--principal")) body["principal"] = a.Get("--principal");
    if (a.Has("--session")) body["session_id"] = a.Get("--session");
  }
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  std::string path = reload ? "/api/policy/reload" : "/api/policy/check";
  if (a.Has("--upstream")) path += "?upstream=" + UrlEncode(a.Get("--upstream"));
  ApiReply r = client->Post(path, body);
  if (!r.ok()) return Fail(r);
  if (a.flags.count("--json")) {
    std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (reload) {
    std::cout << "Policy reloaded: hash " << Str(r.body, "hash") << " (" << Printable(Str(r.body, "path"));
    if (!Str(r.body, "upstream").empty()) std::cout << ", upstream " << Printable(Str(r.body, "upstream"));
    std::cout << ").\n";
    return kExitOk;
  }
  const std::string action = Str(r.body, "action");
  std::cout << Printable(a.Get("--tool")) << ": "
            << (action == "hold" ? "held for approval" : action == "allow" ? "allowed" : action == "deny" ? "denied"
                : action == "hide" ? "hidden (unknown tool to the agent)" : action)
            << "  (rule " << Printable(Str(r.body, "rule")) << ")\n";
  if (!Str(r.body, "reason").empty()) std::cout << "  reason: " << Printable(Str(r.body, "reason")) << "\n";
  if (r.body.contains("risk") && !r.body["risk"].is_null()) std::cout << "  risk:   " << Printable(RiskText(r.body["risk"])) << "\n";
  if (r.body.contains("approval")) {
    const Json& ap = r.body["approval"];
    std::cout << "  approval: " << ap.value("approvers", 1) << " approver(s), timeout " << Str(ap, "timeout")
              << ", remember " << (ap["remember"].is_object() ? "up to " + Str(ap["remember"], "max") : std::string("not allowed"))
              << "\n";
  }
  if (r.body.contains("grant")) {
    std::cout << "  but grant " << Printable(Str(r.body["grant"], "id")) << " by " << Printable(Str(r.body["grant"], "created_by"))
              << " covers it until " << Str(r.body["grant"], "expires_at") << ": it would run at once\n";
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
  } else if (a.Has("--config")) {
    // An explicit --config wins over the environment.
    std::string iss, aud;
    Status s = SecretFromConfig(a.Get("--config"), &secret, &iss, &aud);
    if (!s.ok()) return Usage("token", s.message());
    if (issuer.empty()) issuer = iss;
    if (audience.empty()) audience = aud;
    from = a.Get("--config");
  } else if (const char* env = std::getenv("HOLDGATE_JWT_SECRET"); env != nullptr && *env != '\0') {
    secret = env;
    from = "HOLDGATE_JWT_SECRET";
  } else if (const char* cfg = std::getenv("HOLDGATE_CONFIG"); cfg != nullptr && *cfg != '\0') {
    std::string iss, aud;
    Status s = SecretFromConfig(cfg, &secret, &iss, &aud);
    if (!s.ok()) return Usage("token", s.message());
    if (issuer.empty()) issuer = iss;
    if (audience.empty()) audience = aud;
    from = cfg;
  } else if (ReadFileTrimmed("data/reviewer-secret", &secret) && !secret.empty()) {
    // What `holdgate serve` generates with its defaults, run from this folder.
    from = "data/reviewer-secret";
  } else {
    return Usage("token",
                 "no secret: use --secret, --secret-file, --config, HOLDGATE_JWT_SECRET or HOLDGATE_CONFIG, or run this "
                 "in the folder where `holdgate serve` keeps data/reviewer-secret");
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

// Pulls every "--archive FILE" / "--archive=FILE" out of args (the flag may repeat).
std::vector<std::string> TakeArchives(std::vector<std::string>* args, std::string* error) {
  std::vector<std::string> out, rest;
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& s = (*args)[i];
    if (s == "--archive") {
      if (i + 1 >= args->size()) {
        *error = "--archive needs a value";
        return out;
      }
      out.push_back((*args)[++i]);
    } else if (s.rfind("--archive=", 0) == 0) {
      out.push_back(s.substr(10));
    } else {
      rest.push_back(s);
    }
  }
  *args = std::move(rest);
  return out;
}

// The checkpoint key and file for an offline verify or an archive: --checkpoint-key,
// --checkpoint-key-file, $HOLDGATE_AUDIT_CHECKPOINT_KEY, or audit.checkpoint of --config (key and
// file); --checkpoint-file overrides the config's file. "" when none is given.
Status CheckpointSettingsFrom(const Args& a, std::string* key, std::string* file) {
  store::AuditCheckpointConfig from_config;
  if (a.Has("--config")) {
    auto cfg = LoadConfigFile(a.Get("--config"));
    if (!cfg.ok()) return cfg.status();
    const Json audit = cfg->raw.is_object() && cfg->raw.contains("audit") ? cfg->raw["audit"] : Json::object();
    auto cp = store::ParseAuditCheckpointConfig(audit, std::filesystem::path(a.Get("--config")).parent_path().string());
    if (!cp.ok()) return cp.status();
    if (!cp->enabled) return InvalidArgument(a.Get("--config") + " has no audit.checkpoint key");
    from_config = *cp;
  }
  if (a.Has("--checkpoint-key")) {
    *key = a.Get("--checkpoint-key");
  } else if (a.Has("--checkpoint-key-file")) {
    if (!ReadFileTrimmed(a.Get("--checkpoint-key-file"), key)) {
      return InvalidArgument("cannot read --checkpoint-key-file " + a.Get("--checkpoint-key-file"));
    }
  } else if (const char* env = std::getenv("HOLDGATE_AUDIT_CHECKPOINT_KEY"); env != nullptr && *env != '\0') {
    *key = env;
  } else {
    *key = from_config.key;
  }
  if ((a.Has("--checkpoint-key") || a.Has("--checkpoint-key-file")) && key->empty()) {
    return InvalidArgument("the checkpoint key is empty");
  }
  *file = a.Has("--checkpoint-file") ? a.Get("--checkpoint-file") : from_config.file;
  if (!file->empty() && key->empty()) return InvalidArgument("a checkpoint file is checked only with the checkpoint key");
  return Status::Ok();
}

Json VerdictJson(const store::AuditVerdict& v) {
  Json j = {{"ok", v.ok},
            {"rows_checked", v.rows_checked},
            {"broken_seq", v.broken_seq == 0 ? Json(nullptr) : Json(v.broken_seq)},
            {"why", v.why},
            {"head_seq", v.head_seq},
            {"head_hash", v.head_hash},
            {"start_seq", v.start_seq},
            {"start_hash", v.start_hash},
            {"checkpoints", v.checkpoints},
            {"checkpoints_verified", v.checkpoints_verified},
            {"last_checkpoint_seq", v.last_checkpoint_seq}};
  if (!v.anchors.empty()) {
    Json anchors = Json::array();
    for (const auto& an : v.anchors) {
      anchors.push_back({{"first_seq", an.first_seq}, {"last_seq", an.seq}, {"count", an.count},
                         {"start_hash", an.start_hash}, {"head_hash", an.hash},
                         {"archived_at", FormatTimeMs(an.archived_at_ms)}, {"archive", an.archive}});
    }
    j["anchors"] = std::move(anchors);
  }
  return j;
}

int RunAuditVerify(std::vector<std::string> args) {
  std::string error;
  const std::vector<std::string> archives = TakeArchives(&args, &error);
  if (!error.empty()) return Usage("audit", error);
  Args a = ParseArgs(args, 2, {"--db", "--checkpoint-key", "--checkpoint-key-file", "--checkpoint-file", "--config"},
                     {"--json"});
  if (a.help) return PrintHelp("audit", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("audit", a.error);
  if (!a.positional.empty()) return Usage("audit", "unexpected argument " + a.positional[0]);
  const bool offline = a.Has("--db") || !archives.empty();
  store::AuditVerifyOptions options;
  Status ks = CheckpointSettingsFrom(a, &options.checkpoint_key, &options.checkpoint_file);
  if (!ks.ok()) return Usage("audit", ks.message());
  if (!offline && (a.Has("--checkpoint-key") || a.Has("--checkpoint-key-file") || a.Has("--checkpoint-file") ||
                   a.Has("--config"))) {
    return Usage("audit", "a checkpoint key is checked offline only: add --db FILE and/or --archive FILE");
  }
  if (!options.checkpoint_file.empty() && !a.Has("--db")) {
    return Usage("audit", "a checkpoint file is compared with a database: add --db FILE");
  }
  const bool json = a.flags.count("--json") > 0;
  if (!offline) {
    int code = kExitOk;
    auto client = Connect(a, &code);
    if (!client) return code;
    ApiReply r = client->Get("/api/audit/verify");
    if (!r.ok()) return Fail(r);
    const Json& v = r.body;
    const bool ok = v.value("ok", false);
    if (json) {
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

  bool ok = true;
  Json out = Json::object();
  std::vector<std::string> lines;  // the human report
  std::optional<store::AuditVerdict> db;
  if (a.Has("--db")) {
    auto verdict = store::VerifyAuditChainFile(a.Get("--db"), options);
    if (!verdict.ok()) {
      std::cerr << "holdgate audit verify: " << verdict.status().message() << "\n";
      return verdict.status().code() == Code::kNotFound ? kExitNotFound : kExitError;
    }
    db = *verdict;
    out = VerdictJson(*db);
    ok = db->ok;
    if (db->ok) {
      std::string l = "Audit chain OK: " + std::to_string(db->rows_checked) + " rows, head seq " +
                      std::to_string(db->head_seq) + ", head hash " + db->head_hash;
      if (db->start_seq > 0) {
        l += "\n  starts after archive anchor seq " + std::to_string(db->start_seq) + " (hash " + db->start_hash +
             "); " + std::to_string(db->anchors.size()) + " archive(s) hold seq 1.." + std::to_string(db->start_seq);
      }
      lines.push_back(l);
    } else {
      lines.push_back("Audit chain BROKEN" + (db->broken_seq > 0 ? " at seq " + std::to_string(db->broken_seq) : "") +
                      ": " + Printable(db->why) + " (" + std::to_string(db->rows_checked) + " rows checked)");
    }
    if (db->checkpoints > 0 || !options.checkpoint_key.empty()) {
      lines.push_back("  checkpoints: " + std::to_string(db->checkpoints) +
                      (options.checkpoint_key.empty() ? " (HMAC not checked: no checkpoint key given)"
                                                      : ", " + std::to_string(db->checkpoints_verified) + " HMAC verified"));
    }
    if (!options.checkpoint_file.empty() && db->ok) {
      lines.push_back("  checkpoint file " + Printable(options.checkpoint_file) + ": " +
                      std::to_string(db->file_checkpoints) + " signed heads, newest seq " +
                      std::to_string(db->file_head_seq) + ", all on the chain");
    } else if (options.checkpoint_file.empty() && !options.checkpoint_key.empty()) {
      lines.push_back("  no checkpoint file given: rows cut off the end after the last checkpoint are not detected");
    }
  }

  struct Checked {
    std::string file;
    store::AuditArchiveVerdict v;
  };
  std::vector<Checked> checked;
  Json arch = Json::array();
  for (const std::string& file : archives) {
    auto v = store::VerifyAuditArchiveFile(file, options);
    if (!v.ok()) {
      std::cerr << "holdgate audit verify: " << v.status().message() << "\n";
      return v.status().code() == Code::kNotFound ? kExitNotFound : kExitError;
    }
    checked.push_back({file, *v});
  }
  // Archives in seq order must continue one another; with --db each must be one of its anchors.
  std::sort(checked.begin(), checked.end(),
            [](const Checked& x, const Checked& y) { return x.v.info.first_seq < y.v.info.first_seq; });
  for (size_t i = 0; i < checked.size(); ++i) {
    const auto& [file, v] = checked[i];
    std::string problem;
    if (!v.chain.ok) {
      problem = "BROKEN at line " + std::to_string(v.broken_line) +
                (v.chain.broken_seq > 0 ? " (seq " + std::to_string(v.chain.broken_seq) + ")" : "") + ": " +
                Printable(v.chain.why);
    } else if (i > 0 && checked[i - 1].v.chain.ok &&
               (v.info.first_seq != checked[i - 1].v.info.last_seq + 1 ||
                v.info.start_hash != checked[i - 1].v.info.head_hash)) {
      problem = "does not continue " + checked[i - 1].file + " (its start seq " + std::to_string(v.info.first_seq) +
                " / start hash do not match that archive's head seq " +
                std::to_string(checked[i - 1].v.info.last_seq) + ")";
    } else if (db) {
      const int64_t last_seq = v.info.last_seq;  // clang 14 cannot capture a structured binding
      auto it = std::find_if(db->anchors.begin(), db->anchors.end(),
                             [last_seq](const store::AuditAnchor& an) { return an.seq == last_seq; });
      if (it == db->anchors.end() || it->hash != v.info.head_hash || it->first_seq != v.info.first_seq ||
          it->start_hash != v.info.start_hash) {
        problem = "its head (seq " + std::to_string(v.info.last_seq) + ", hash " + v.info.head_hash +
                  ") is not an anchor of " + a.Get("--db");
      }
    }
    Json j = {{"file", file},
              {"ok", problem.empty()},
              {"broken_line", v.broken_line == 0 ? Json(nullptr) : Json(v.broken_line)},
              {"broken_seq", v.chain.broken_seq == 0 ? Json(nullptr) : Json(v.chain.broken_seq)},
              {"why", problem.empty() ? "" : v.chain.ok ? problem : v.chain.why},
              {"first_seq", v.info.first_seq},
              {"last_seq", v.info.last_seq},
              {"count", v.info.count},
              {"start_hash", v.info.start_hash},
              {"head_hash", v.info.head_hash},
              {"created_at", v.info.created_at},
              {"checkpoints", v.chain.checkpoints},
              {"checkpoints_verified", v.chain.checkpoints_verified}};
    arch.push_back(std::move(j));
    if (problem.empty()) {
      lines.push_back("Archive " + Printable(file) + " OK: seq " + std::to_string(v.info.first_seq) + ".." +
                      std::to_string(v.info.last_seq) + " (" + std::to_string(v.info.count) + " events), head hash " +
                      v.info.head_hash + (db ? ", an anchor of the database" : ""));
    } else {
      ok = false;
      lines.push_back("Archive " + Printable(file) + " " + problem);
    }
  }
  // A set of archives from seq 1 claims the whole history: it must reach the database's start.
  bool complete = false;
  if (db && !checked.empty() && ok) {
    const auto& last = checked.back().v.info;
    if (checked.front().v.info.first_seq == 1) {
      if (last.last_seq == db->start_seq && last.head_hash == db->start_hash) {
        complete = true;
        lines.push_back("Complete: the archives hold seq 1.." + std::to_string(last.last_seq) +
                        " and the database continues from there");
      } else {
        ok = false;
        lines.push_back("INCOMPLETE: the archives end at seq " + std::to_string(last.last_seq) +
                        " but the database's chain starts after seq " + std::to_string(db->start_seq) +
                        ": the archive(s) for the seqs in between are missing");
      }
    }
  }
  if (!archives.empty()) {
    out["archives"] = std::move(arch);
    if (db) out["complete"] = complete;
    out["ok"] = ok;
  }
  if (json) {
    std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& l : lines) std::cout << l << "\n";
  }
  return ok ? kExitOk : kExitChainBroken;
}

// --before: an RFC 3339 time / date / epoch ms, or an age such as 90d, 12h, 30m (now minus it).
bool ParseCutTime(const std::string& text, int64_t* out) {
  if (!text.empty() && std::string("smhd").find(text.back()) != std::string::npos) {
    const int64_t age = ParseDurationMs(text);
    if (age > 0) {
      *out = SystemClock::Instance().NowMs() - age;
      return true;
    }
    return false;
  }
  return review::ParseTimeParam(text, out) && *out > 0;
}

int RunAuditArchive(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 2,
                     {"--db", "--before", "--through-seq", "--out", "--checkpoint-key", "--checkpoint-key-file",
                      "--checkpoint-file", "--config"},
                     {"--json"});
  if (a.help) return PrintHelp("audit", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("audit", a.error);
  if (!a.positional.empty()) return Usage("audit", "unexpected argument " + a.positional[0]);
  if (!a.Has("--db")) return Usage("audit", "audit archive needs --db FILE (it works on the database file)");
  if (a.Get("--out").empty()) return Usage("audit", "audit archive needs --out FILE");
  store::AuditArchiveOptions o;
  o.out_path = a.Get("--out");
  if (!a.Has("--before") && !a.Has("--through-seq")) {
    return Usage("audit", "audit archive needs a cut point: --before TIME|AGE and/or --through-seq N");
  }
  if (a.Has("--before") && !ParseCutTime(a.Get("--before"), &o.before_ms)) {
    return Usage("audit", "--before must be an RFC 3339 time, a date, or an age such as 90d");
  }
  if (a.Has("--through-seq")) {
    const std::string v = a.Get("--through-seq");
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos || std::stoll(v) < 1) {
      return Usage("audit", "--through-seq must be a positive number");
    }
    o.through_seq = std::stoll(v);
  }
  const char* user = std::getenv("USER");
  o.actor = user != nullptr && *user != '\0' ? user : "holdgate-cli";
  std::string checkpoint_file;
  Status ks = CheckpointSettingsFrom(a, &o.checkpoint_key, &checkpoint_file);
  if (!ks.ok()) return Usage("audit", ks.message());
  const std::string db_path = a.Get("--db");
  if (!store::IsPostgresUrl(db_path) && !std::filesystem::exists(db_path)) {
    std::cerr << "holdgate audit archive: no such database file: " << db_path << "\n";
    return kExitNotFound;
  }
  auto opened = store::Store::Open(db_path, SystemClock::Instance());
  if (!opened.ok()) {
    std::cerr << "holdgate audit archive: " << opened.status().message() << "\n";
    return kExitError;
  }
  auto r = (*opened)->ArchiveAudit(o);
  if (!r.ok()) {
    std::cerr << "holdgate audit archive: " << r.status().message() << "\n";
    return r.status().code() == Code::kConflict ? kExitConflict
           : r.status().code() == Code::kInvalidArgument ? kExitUsage : kExitError;
  }
  const store::AuditArchiveInfo& i = r->info;
  if (r->checkpoint && !checkpoint_file.empty()) {
    Status fs = store::AppendAuditCheckpointFile(checkpoint_file, *r->checkpoint);
    if (!fs.ok()) {
      std::cerr << "holdgate audit archive: archived and pruned, and the signed checkpoint is in the chain, but "
                << fs.message() << "\n";
      return kExitError;
    }
  }
  if (a.flags.count("--json")) {
    std::cout << Json{{"archive", i.count > 0 ? Json(o.out_path) : Json(nullptr)}, {"first_seq", i.first_seq},
                      {"last_seq", i.last_seq}, {"count", i.count}, {"start_hash", i.start_hash},
                      {"head_hash", i.head_hash}, {"archived_event_seq", r->archived_event_seq}}
                     .dump(2)
              << "\n";
  } else if (i.count == 0) {
    std::cout << "Nothing to archive: no events before the cut point (the chain starts after seq " << i.last_seq
              << ").\n";
  } else {
    std::cout << "Archived seq " << i.first_seq << ".." << i.last_seq << " (" << i.count << " events) to "
              << Printable(o.out_path) << "\n  head hash " << i.head_hash << "\n  pruned from " << Printable(db_path)
              << "; its chain now starts after anchor seq " << i.last_seq << " (audit.archived event seq "
              << r->archived_event_seq << ").\nCheck it with: holdgate audit verify --db " << Printable(db_path)
              << " --archive " << Printable(o.out_path) << "\n";
  }
  return kExitOk;
}

int RunAudit(const std::vector<std::string>& args) {
  if (args.size() > 1 && args[1] == "verify") return RunAuditVerify(args);
  if (args.size() > 1 && args[1] == "archive") return RunAuditArchive(args);
  Args a = ParseArgs(args, 1, {"--type", "--approval", "--principal", "--actor", "--tool", "--since", "--until", "--limit",
                               "--format"},
                     {});
  if (a.help) return PrintHelp("audit", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("audit", a.error);
  if (!a.positional.empty()) return Usage("audit", "unexpected argument " + a.positional[0]);
  const std::string format = a.Get("--format", "table");
  if (format != "table" && format != "jsonl" && format != "csv") return Usage("audit", "--format must be table, jsonl or csv");
  int limit = 0;
  if (!ParseLimit(a, 100, std::numeric_limits<int>::max(), &limit)) return Usage("audit", "--limit must be a positive number");
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
                      Printable(Str(e, "tool"), 28) + (Str(e, "upstream").empty() ? "" : " @" + Printable(Str(e, "upstream"), 24))});
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

// ---- deliveries / redeliver -------------------------------------------------------------------

int ListEndpoints(const Args& a) {
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  ApiReply r = client->Get("/api/endpoints");
  if (!r.ok()) return Fail(r);
  if (!r.body.is_object() || !r.body["endpoints"].is_array()) {
    std::cerr << "holdgate: unexpected answer from " << client->url() << "\n";
    return kExitError;
  }
  if (a.flags.count("--json")) {
    std::cout << r.body["endpoints"].dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (r.body["endpoints"].empty()) {
    std::cout << "No notification endpoints configured.\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"TARGET", "STATE", "WHY"}};
  for (const auto& e : r.body["endpoints"]) {
    rows.push_back({Printable(Str(e, "target"), 40), e.value("disabled", false) ? "disabled" : "enabled",
                    Printable(Str(e, "why"), 60)});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunDeliveries(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--state", "--approval", "--target", "--limit"}, {"--json", "--endpoints"});
  if (a.help) return PrintHelp("deliveries", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("deliveries", a.error);
  if (!a.positional.empty()) return Usage("deliveries", "unexpected argument " + a.positional[0]);
  if (a.flags.count("--endpoints")) return ListEndpoints(a);
  int limit = 0;
  if (!ParseLimit(a, 100, 1000000, &limit)) return Usage("deliveries", "--limit must be a positive number");
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  std::multimap<std::string, std::string> params;
  params.emplace("state", a.Get("--state", "all"));
  if (a.Has("--approval")) params.emplace("approval_id", a.Get("--approval"));
  if (a.Has("--target")) params.emplace("target", a.Get("--target"));
  Json all = Json::array();
  std::string after;
  while (static_cast<int>(all.size()) < limit) {
    auto p = params;
    p.emplace("limit", std::to_string(std::min(1000, limit - static_cast<int>(all.size()))));
    if (!after.empty()) p.emplace("after_id", after);
    ApiReply r = client->Get("/api/deliveries", p);
    if (!r.ok()) return Fail(r);
    if (!r.body.is_object() || !r.body["deliveries"].is_array()) {
      std::cerr << "holdgate: unexpected answer from " << client->url() << "\n";
      return kExitError;
    }
    for (auto& x : r.body["deliveries"]) all.push_back(x);
    after = r.body["next_after_id"].is_number() ? std::to_string(r.body["next_after_id"].get<int64_t>()) : "";
    if (after.empty()) break;
  }
  if (a.flags.count("--json")) {
    std::cout << all.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (all.empty()) {
    std::cout << "No deliveries.\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "EVENT", "TARGET", "APPROVAL", "ATTEMPTS", "LAST", "NEXT TRY"}};
  for (const auto& x : all) {
    const std::string state = Str(x, "state");
    const bool waiting = state == "pending" || state == "delivering";
    rows.push_back({Str(x, "id"), state, Printable(Str(x, "event_type"), 20), Printable(Str(x, "target"), 32),
                    Printable(Str(x, "approval_id")), Str(x, "attempts"), Printable(Str(x, "last_status"), 40),
                    waiting ? Relative(x["next_attempt_at"]) : ""});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunRedeliver(const std::vector<std::string>& args) {
  Args a = ParseArgs(args, 1, {"--endpoint"}, {"--json"});
  if (a.help) return PrintHelp("redeliver", std::cout), kExitOk;
  if (!a.error.empty()) return Usage("redeliver", a.error);
  if (a.Has("--endpoint")) {
    if (!a.positional.empty()) return Usage("redeliver", "give a delivery ID or --endpoint, not both");
    int code = kExitOk;
    auto client = Connect(a, &code);
    if (!client) return code;
    ApiReply r = client->Post("/api/endpoints/" + UrlEncode(a.Get("--endpoint")) + "/enable", Json::object());
    if (!r.ok()) return Fail(r);
    if (a.flags.count("--json")) {
      std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    } else {
      std::cout << "Endpoint " << Printable(a.Get("--endpoint")) << " enabled; " << r.body.value("requeued", 0)
                << " deliveries queued again.\n";
    }
    return kExitOk;
  }
  if (a.positional.size() != 1) return Usage("redeliver", "give exactly one delivery ID");
  const std::string& id = a.positional[0];
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    return Usage("redeliver", "a delivery ID is a number (see holdgate deliveries)");
  }
  int code = kExitOk;
  auto client = Connect(a, &code);
  if (!client) return code;
  ApiReply r = client->Post("/api/deliveries/" + id + "/redeliver", Json::object());
  if (!r.ok()) return Fail(r);
  if (a.flags.count("--json")) {
    std::cout << r.body.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "Delivery " << id << " queued again.\n";
  }
  return kExitOk;
}

}  // namespace

int RunRemotePolicy(const std::vector<std::string>& args) { return RemotePolicy(args); }

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
  if (cmd == "deliveries") return RunDeliveries(args);
  if (cmd == "redeliver") return RunRedeliver(args);
  if (cmd == "grants") return RunGrants(args);
  if (cmd == "revoke") return RunRevoke(args);
  if (cmd == "tools") return RunTools(args);
  return -1;
}

}  // namespace holdgate::cli
