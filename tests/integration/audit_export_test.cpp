// Audit exports with standard tools: `holdgate audit --format jsonl` parses line by line with jq,
// `--format csv` reads with Python's csv module into the same rows (ids, hashes and every field),
// each exported event re-hashes to its hash (the export carries everything the chain covers), and
// the filters (--type, --tool, --principal, --actor, --approval, --since, --until) return exactly
// the events an unfiltered export filtered here holds.
#include <functional>
#include <set>
#include <sstream>

#include "integration/audit_fixture.h"
#include "review/api_json.h"
#include "store/audit.h"

namespace holdgate::testing {
namespace {

// Runs argv with stdout to `out_file` (stderr to the returned output).
ToolRun RunToFile(AuditRun& run, std::vector<std::string> argv, const std::string& out_file) {
  std::vector<std::string> sh = {"/bin/sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"", "sh", out_file};
  sh.insert(sh.end(), argv.begin(), argv.end());
  return RunTool(sh, run.dir.File("tool.log"));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

struct Exporter {
  AuditRun& run;
  std::string token = MintToken("auditor-1", "auditor");
  int n = 0;

  // `holdgate audit <filters> --format F`; returns the exported text.
  std::string Export(const std::string& format, std::vector<std::string> filters = {}) {
    const std::string file = run.dir.File("export-" + std::to_string(++n) + "." + format);
    std::vector<std::string> argv = {HOLDGATE_BINARY, "audit", "--format", format, "--url", run.gw.review_url,
                                     "--token", token};
    argv.insert(argv.end(), filters.begin(), filters.end());
    ToolRun r = RunToFile(run, argv, file);
    INFO(r.out);
    REQUIRE(r.code == 0);
    last_file = file;
    return ReadFile(file);
  }
  std::string last_file;
};

std::vector<Json> ParseJsonl(const std::string& text) {
  std::vector<Json> out;
  for (const std::string& l : Lines(text)) {
    auto j = ParseJson(l, 512);
    INFO(l);
    REQUIRE(j.ok());
    out.push_back(*j);
  }
  return out;
}

std::vector<int64_t> Seqs(const std::vector<Json>& events) {
  std::vector<int64_t> out;
  for (const Json& e : events) out.push_back(e["seq"].get<int64_t>());
  return out;
}

std::vector<int64_t> Where(const std::vector<Json>& events, const std::function<bool(const Json&)>& keep) {
  std::vector<int64_t> out;
  for (const Json& e : events) {
    if (keep(e)) out.push_back(e["seq"].get<int64_t>());
  }
  return out;
}

int64_t Ms(const Json& ts) {
  int64_t ms = 0;
  REQUIRE(review::ParseTimeParam(ts.get<std::string>(), &ms));
  return ms;
}

constexpr char kCsvCheck[] = R"PY(
import csv, json, sys
with open(sys.argv[1], newline='') as f:
    rows = list(csv.DictReader(f))
with open(sys.argv[2]) as f:
    events = [json.loads(line) for line in f if line.strip()]
print("rows", len(rows))
assert len(rows) == len(events), ("row count", len(rows), len(events))
def guarded(v):  # README "Audit log": the CSV's formula guard
    if v and (v[0] in "=@\t\r" or (v[0] in "+-" and any(c in v[1:] for c in '(|!&"[=@\t\r\n'))):
        return "'" + v
    return v
for r, e in zip(rows, events):
    for k in ("type", "approval_id", "principal", "actor", "via", "tool", "rule", "decision", "prev_hash", "hash", "ts"):
        assert r[k] == guarded(e[k] if e[k] is not None else ""), (e["seq"], k, r[k], e[k])
    assert int(r["seq"]) == e["seq"], (r["seq"], e["seq"])
    detail = json.loads(r["detail"]) if r["detail"] != "" else None
    assert detail == e["detail"], (e["seq"], r["detail"], e["detail"])
    print(r["seq"], r["hash"])
print("ok")
)PY";

}  // namespace

TEST_CASE("audit export: jq and Python's csv read the same events, every event re-hashes, filters are exact",
          "[integration][audit]") {
  const std::string jq = RequireProgram("jq");
  const std::string python = RequireProgram("python3");
  AuditRun run(/*checkpoints=*/false);  // nothing writes between the exports below
  MixedTraffic(run, "first", /*with_expiry=*/false);
  {
    McpHttpClient a = run.Agent(kAgentKeyA);
    // Awkward content for CSV and JSON: commas, quotes, newlines, non-ASCII.
    CHECK(ToolIsError(a.CallTool("stats", {{"note", "a, \"quoted\"\nsecond line; caf\xc3\xa9 \xe2\x9c\x93"}})));
    // Tool names a spreadsheet would (not) run as formulas; the policy allows unknown tools, the
    // upstream refuses them, and audit.all_calls records each name.
    for (const char* tool : {"-cmd", "-3", "=cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"}) {
      CHECK(ToolIsError(a.CallTool(tool, Json::object())));
    }
  }
  MixedTraffic(run, "second", /*with_expiry=*/false);
  Exporter ex{run};

  const std::string jsonl = ex.Export("jsonl");
  const std::string jsonl_file = ex.last_file;
  std::vector<Json> all = ParseJsonl(jsonl);
  REQUIRE(all.size() >= 20);
  ToolRun count = run.Sqlite(run.db, "SELECT COUNT(*) FROM audit_events");
  CHECK(std::stoll(count.out) == static_cast<int64_t>(all.size()));

  // jq parses every line and sees the same seq/hash pairs.
  const std::string jq_out = run.dir.File("jq.out");
  ToolRun j = RunToFile(run, {jq, "-r", "[.seq, .hash] | @tsv", jsonl_file}, jq_out);
  INFO(j.out);
  REQUIRE(j.code == 0);
  std::vector<std::string> jq_lines = Lines(ReadFile(jq_out));
  REQUIRE(jq_lines.size() == all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(jq_lines[i] == std::to_string(all[i]["seq"].get<int64_t>()) + "\t" + all[i]["hash"].get<std::string>());
  }
  ToolRun jq_count = RunToFile(run, {jq, "-s", "length", jsonl_file}, jq_out);
  REQUIRE(jq_count.code == 0);
  CHECK(std::stoll(ReadFile(jq_out)) == static_cast<int64_t>(all.size()));

  // Round trip: each exported event carries exactly what its hash covers, and the links hold.
  std::string prev;
  for (const Json& e : all) {
    store::AuditEvent ev;
    ev.seq = e["seq"];
    ev.ts_ms = Ms(e["ts"]);
    for (auto [field, key] : std::vector<std::pair<std::string*, const char*>>{
             {&ev.type, "type"}, {&ev.approval_id, "approval_id"}, {&ev.principal, "principal"}, {&ev.actor, "actor"},
             {&ev.via, "via"}, {&ev.tool, "tool"}, {&ev.rule, "rule"}, {&ev.decision, "decision"},
             {&ev.prev_hash, "prev_hash"}}) {
      *field = e[key].get<std::string>();
    }
    ev.detail = e["detail"];
    INFO("seq " << ev.seq);
    CHECK(Sha256Hex(store::AuditCanonicalForm(ev)) == e["hash"].get<std::string>());
    if (!prev.empty()) CHECK(ev.prev_hash == prev);
    prev = e["hash"];
  }

  // CSV through Python's csv module: same rows, same ids and hashes, same fields.
  const std::string csv_text = ex.Export("csv");
  const std::string csv_file = ex.last_file;
  CHECK(csv_text.find(",-cmd,") != std::string::npos);
  CHECK(csv_text.find(",-3,") != std::string::npos);
  CHECK(csv_text.find(",'=cmd|' /C calc'!A0,") != std::string::npos);
  CHECK(csv_text.find(",'-2+3+cmd|' /C calc'!A0,") != std::string::npos);
  CHECK(csv_text.find("'-cmd") == std::string::npos);
  WriteFile(run.dir.File("check_csv.py"), kCsvCheck);
  const std::string py_out = run.dir.File("py.out");
  ToolRun py = RunToFile(run, {python, run.dir.File("check_csv.py"), csv_file, jsonl_file}, py_out);
  const std::string py_text = ReadFile(py_out);
  INFO(py.out << py_text);
  REQUIRE(py.code == 0);
  std::vector<std::string> py_lines = Lines(py_text);
  REQUIRE(py_lines.size() == all.size() + 2);
  CHECK(py_lines.front() == "rows " + std::to_string(all.size()));
  CHECK(py_lines.back() == "ok");
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(py_lines[i + 1] == std::to_string(all[i]["seq"].get<int64_t>()) + " " + all[i]["hash"].get<std::string>());
  }

  // Filters: exactly the events the unfiltered export holds that match.
  std::string approval_id;
  for (const Json& e : all) {
    if (e["type"] == "approval.rejected") approval_id = e["approval_id"];
  }
  REQUIRE_FALSE(approval_id.empty());
  const std::string since = all[all.size() / 2]["ts"];
  const std::string until = all[all.size() * 3 / 4]["ts"];
  const int64_t since_ms = Ms(Json(since)), until_ms = Ms(Json(until));
  struct Case {
    std::vector<std::string> flags;
    std::function<bool(const Json&)> keep;
  };
  auto starts = [](const Json& e, const std::string& p) { return e["type"].get<std::string>().rfind(p, 0) == 0; };
  const std::vector<Case> cases = {
      {{"--type", "approval.*"}, [&](const Json& e) { return starts(e, "approval."); }},
      {{"--type", "approval."}, [&](const Json& e) { return starts(e, "approval."); }},
      {{"--type", "call.denied"}, [](const Json& e) { return e["type"] == "call.denied"; }},
      {{"--tool", "cancel_job"}, [](const Json& e) { return e["tool"] == "cancel_job"; }},
      {{"--principal", "agent-b"}, [](const Json& e) { return e["principal"] == "agent-b"; }},
      {{"--actor", "bob"}, [](const Json& e) { return e["actor"] == "bob"; }},
      {{"--approval", approval_id}, [&](const Json& e) { return e["approval_id"] == approval_id; }},
      {{"--since", since}, [&](const Json& e) { return Ms(e["ts"]) >= since_ms; }},
      {{"--until", until}, [&](const Json& e) { return Ms(e["ts"]) < until_ms; }},
      {{"--since", since, "--until", until},
       [&](const Json& e) { return Ms(e["ts"]) >= since_ms && Ms(e["ts"]) < until_ms; }},
      {{"--principal", "agent-a", "--type", "call.allowed"},
       [](const Json& e) { return e["principal"] == "agent-a" && e["type"] == "call.allowed"; }},
      {{"--tool", "no_such_tool"}, [](const Json&) { return false; }},
  };
  for (const Case& c : cases) {
    std::string flags;
    for (const auto& f : c.flags) flags += f + " ";
    INFO("filter: " << flags);
    std::vector<int64_t> want = Where(all, c.keep);
    std::vector<int64_t> got = Seqs(ParseJsonl(ex.Export("jsonl", c.flags)));
    CHECK(got == want);
    if (&c == &cases.front() || &c == &cases[4]) {
      CHECK_FALSE(want.empty());
      // The same filter as CSV: the same rows (first column) in the same order.
      std::vector<std::string> rows = Lines(ex.Export("csv", c.flags));
      REQUIRE(rows.size() == want.size() + 1);
      for (size_t i = 0; i < want.size(); ++i) CHECK(rows[i + 1].substr(0, rows[i + 1].find(',')) == std::to_string(want[i]));
    }
  }
  // Every filter above matched something except the last one (so "exact" is not trivially empty).
  for (size_t i = 0; i + 1 < cases.size(); ++i) CHECK_FALSE(Where(all, cases[i].keep).empty());
}

}  // namespace holdgate::testing
