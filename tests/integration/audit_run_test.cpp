// The audit chain after a realistic run of a real holdgate: allowed, denied, held+approved,
// held+rejected and held+expired calls from two agents, a restart, more calls; then the offline
// verifier (the CLI binary) passes, and rows edited, deleted or reordered with the sqlite3 CLI
// (triggers dropped) make it exit 6 and name the row. Retention: archive + prune twice (once while
// holdgate serves traffic), verify the database and the archives, and a tampered archive line fails.
#include <signal.h>

#include <atomic>
#include <map>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/json_util.h"
#include "store/audit.h"

#include "integration/audit_fixture.h"

namespace holdgate::testing {
namespace {

std::map<std::string, int> CountTypes(AuditRun& run, const std::string& db) {
  ToolRun q = run.Sqlite(db, "SELECT type || ' ' || COUNT(*) FROM audit_events GROUP BY type");
  INFO(q.out);
  REQUIRE(q.code == 0);
  std::map<std::string, int> out;
  std::istringstream lines(q.out);
  std::string type;
  int n = 0;
  while (lines >> type >> n) out[type] = n;
  return out;
}

int64_t QueryInt(AuditRun& run, const std::string& db, const std::string& sql) {
  ToolRun q = run.Sqlite(db, sql);
  INFO(q.out);
  REQUIRE(q.code == 0);
  return std::stoll(q.out);
}

constexpr char kDropTriggers[] = "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; ";

}  // namespace

TEST_CASE("audit: a realistic run verifies, and sqlite3 edits, deletes and reorders are caught and named",
          "[integration][audit]") {
  RequireProgram("sqlite3");
  AuditRun run;
  MixedTraffic(run, "first", /*with_expiry=*/true);
  run.Stop();
  run.Start();  // restart on the same database
  MixedTraffic(run, "second", /*with_expiry=*/false);
  // Let at least one periodic checkpoint happen while serving (every 1 s).
  CHECK(WaitUntil([&] { return ReadFile(run.dir.File("holdgate.log")).find("\"msg\":\"audit.checkpoint\"") != std::string::npos; }, 5000));
  run.Stop();

  std::map<std::string, int> types = CountTypes(run, run.db);
  CHECK(types["config.started"] == 2);
  CHECK(types["call.allowed"] >= 4);
  CHECK(types["call.denied"] == 2);
  CHECK(types["approval.created"] == 5);
  CHECK(types["approval.approved"] == 2);
  CHECK(types["approval.rejected"] == 2);
  CHECK(types["approval.expired"] == 1);
  CHECK(types["auth.failed"] >= 2);
  CHECK(types["audit.checkpoint"] >= 2);  // periodic, and one at each clean stop

  ToolRun ok = run.Holdgate({"audit", "verify", "--db", run.db, "--config", run.config});
  INFO(ok.out);
  CHECK(ok.code == 0);
  CHECK(ok.out.find("Audit chain OK") != std::string::npos);
  CHECK(ok.out.find("HMAC verified") != std::string::npos);
  CHECK(run.Holdgate({"audit", "verify", "--db", run.db, "--checkpoint-key", "a-different-key-0123456789abcdef0123"}).code == 6);

  // A row in the middle: the first approval.approved.
  const int64_t k = QueryInt(run, run.db, "SELECT MIN(seq) FROM audit_events WHERE type = 'approval.approved'");
  const int64_t head = QueryInt(run, run.db, "SELECT MAX(seq) FROM audit_events");
  REQUIRE(k > 1);
  REQUIRE(k + 1 < head);
  const std::string ks = std::to_string(k), k1 = std::to_string(k + 1);
  struct Tamper {
    const char* name;
    std::string sql;
    std::string names;  // what the report must say
  };
  const std::vector<Tamper> tampers = {
      {"edit", std::string(kDropTriggers) + "UPDATE audit_events SET actor = 'mallory' WHERE seq = " + ks,
       "BROKEN at seq " + ks + ": hash mismatch at seq " + ks},
      {"edit-reason", std::string(kDropTriggers) + "UPDATE audit_events SET detail = json_set(detail, '$.reason', 'fine') "
                                                   "WHERE seq = " + ks,
       "BROKEN at seq " + ks},
      {"delete", std::string(kDropTriggers) + "DELETE FROM audit_events WHERE seq = " + ks,
       "BROKEN at seq " + k1 + ": seq " + ks + " missing"},
      {"swap", std::string(kDropTriggers) + "UPDATE audit_events SET seq = -1 WHERE seq = " + ks +
                   "; UPDATE audit_events SET seq = " + ks + " WHERE seq = " + k1 +
                   "; UPDATE audit_events SET seq = " + k1 + " WHERE seq = -1",
       "BROKEN at seq " + ks},
      {"delete-first", std::string(kDropTriggers) + "DELETE FROM audit_events WHERE seq = 1",
       "BROKEN at seq 2: seq 1 missing"},
  };
  for (const Tamper& t : tampers) {
    SECTION(std::string("tampered: ") + t.name) {
      const std::string copy = run.CopyDb(std::string("tampered-") + t.name + ".db");
      ToolRun edit = run.Sqlite(copy, t.sql);
      INFO(edit.out);
      REQUIRE(edit.code == 0);
      ToolRun v = run.Holdgate({"audit", "verify", "--db", copy});
      INFO(v.out);
      CHECK(v.code == 6);
      CHECK(v.out.find(t.names) != std::string::npos);
      // The JSON report names the same row.
      ToolRun j = run.Holdgate({"audit", "verify", "--db", copy, "--json"});
      CHECK(j.code == 6);
      auto parsed = ParseJson(j.out);
      REQUIRE(parsed.ok());
      CHECK((*parsed)["ok"] == false);
      CHECK((*parsed)["broken_seq"].is_number_integer());
    }
  }
  // Without triggers dropped, sqlite3 cannot change or delete audit rows at all.
  const std::string guarded = run.CopyDb("guarded.db");
  CHECK(run.Sqlite(guarded, "UPDATE audit_events SET actor = 'mallory' WHERE seq = " + ks).code != 0);
  CHECK(run.Sqlite(guarded, "DELETE FROM audit_events WHERE seq = " + ks).code != 0);
  CHECK(run.Holdgate({"audit", "verify", "--db", guarded}).code == 0);
}

TEST_CASE("audit: rows cut at the start behind a forged anchor, or off the end, fail verify with the key and "
          "the checkpoint file",
          "[integration][audit]") {
  RequireProgram("sqlite3");
  AuditRun run;
  MixedTraffic(run, "first", /*with_expiry=*/false);
  REQUIRE(WaitUntil([&] { return ReadFile(run.checkpoint_file).find("\"hmac\"") != std::string::npos; }, 5000));
  MixedTraffic(run, "second", /*with_expiry=*/false);
  run.Stop();  // one more checkpoint over the final head
  ToolRun intact = run.Holdgate({"audit", "verify", "--db", run.db, "--config", run.config});
  INFO(intact.out);
  REQUIRE(intact.code == 0);
  CHECK(intact.out.find("all on the chain") != std::string::npos);
  const std::string key_only[] = {"--checkpoint-key", kCheckpointKey};

  SECTION("start: forged anchor, seq 1..cut deleted with the triggers in place, self-hashed audit.archived row") {
    const std::string db = run.CopyDb("start-cut.db");
    const int64_t cut = QueryInt(run, db, "SELECT MIN(seq) FROM audit_events WHERE type = 'approval.rejected'");
    const std::string cut_s = std::to_string(cut);
    ToolRun q = run.Sqlite(db, "SELECT hash FROM audit_events WHERE seq = " + cut_s);
    REQUIRE(q.code == 0);
    const std::string cut_hash = q.out.substr(0, 64);
    ToolRun edit = run.Sqlite(db, "INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at, "
                                  "archive) VALUES (" + cut_s + ", '" + cut_hash + "', 1, '" +
                                      std::string(store::kGenesisHash) + "', " + cut_s +
                                      ", 0, 'audit-2026-01.jsonl'); DELETE FROM audit_events WHERE seq <= " + cut_s);
    INFO(edit.out);
    REQUIRE(edit.code == 0);
    store::AuditEvent e;
    e.seq = QueryInt(run, db, "SELECT MAX(seq) FROM audit_events") + 1;
    e.ts_ms = SystemClock::Instance().NowMs();
    e.type = "audit.archived";
    e.actor = "ops";
    e.via = "cli";
    e.decision = "archive";
    e.detail = {{"first_seq", 1}, {"last_seq", cut}, {"count", cut}, {"start_hash", store::kGenesisHash},
                {"head_hash", cut_hash}, {"archive", "audit-2026-01.jsonl"}};
    ToolRun head = run.Sqlite(db, "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1");
    REQUIRE(head.code == 0);
    e.prev_hash = head.out.substr(0, 64);
    e.hash = Sha256Hex(store::AuditCanonicalForm(e));
    ToolRun append = run.Sqlite(
        db, "INSERT INTO audit_events (seq, ts, type, approval_id, principal, actor, via, tool, rule, decision, "
            "detail, prev_hash, hash) VALUES (" + std::to_string(e.seq) + ", " + std::to_string(e.ts_ms) +
                ", 'audit.archived', '', '', 'ops', 'cli', '', '', 'archive', '" + CanonicalJson(e.detail) + "', '" +
                e.prev_hash + "', '" + e.hash + "')");
    INFO(append.out);
    REQUIRE(append.code == 0);
    // The chain alone (what verify checked before) passes and claims an archive that does not exist.
    ToolRun chain_only = run.Holdgate({"audit", "verify", "--db", db});
    INFO(chain_only.out);
    CHECK(chain_only.code == 0);
    CHECK(chain_only.out.find("starts after archive anchor seq " + cut_s) != std::string::npos);
    for (const std::vector<std::string>& with : {std::vector<std::string>{"--config", run.config},
                                                 std::vector<std::string>{key_only[0], key_only[1]}}) {
      std::vector<std::string> argv = {"audit", "verify", "--db", db};
      argv.insert(argv.end(), with.begin(), with.end());
      ToolRun v = run.Holdgate(argv);
      INFO(v.out);
      CHECK(v.code == 6);
      CHECK(v.out.find("Audit chain BROKEN at seq " + cut_s + ": the chain starts at archive anchor seq " + cut_s +
                       ", but no checkpoint signed with the key vouches for it") != std::string::npos);
    }
  }
  SECTION("end: the newest rows deleted, triggers dropped") {
    const std::string db = run.CopyDb("end-cut.db");
    const int64_t last_cp = QueryInt(run, db, "SELECT MAX(seq) FROM audit_events WHERE type = 'audit.checkpoint'");
    const int64_t from = last_cp - 1;  // the head the last checkpoint signed, and everything after it
    ToolRun edit = run.Sqlite(db, std::string(kDropTriggers) + "DELETE FROM audit_events WHERE seq >= " +
                                      std::to_string(from));
    INFO(edit.out);
    REQUIRE(edit.code == 0);
    // The chain and every checkpoint left in it verify: the cut is invisible without the file.
    ToolRun keyed = run.Holdgate({"audit", "verify", "--db", db, key_only[0], key_only[1]});
    INFO(keyed.out);
    CHECK(keyed.code == 0);
    CHECK(keyed.out.find("no checkpoint file given") != std::string::npos);
    ToolRun v = run.Holdgate({"audit", "verify", "--db", db, "--config", run.config});
    INFO(v.out);
    CHECK(v.code == 6);
    CHECK(v.out.find("Audit chain BROKEN at seq " + std::to_string(from) + ": rows were cut off the end") !=
          std::string::npos);
    CHECK(v.out.find("but the database's chain ends at seq " + std::to_string(from - 1)) != std::string::npos);
    auto j = ParseJson(run.Holdgate({"audit", "verify", "--db", db, "--config", run.config, "--json"}).out);
    REQUIRE(j.ok());
    CHECK((*j)["ok"] == false);
    CHECK((*j)["broken_seq"] == from);
  }
}

TEST_CASE("audit: archive and prune twice (once beside a live server), then the database and the archives verify",
          "[integration][audit]") {
  RequireProgram("sqlite3");
  AuditRun run;
  MixedTraffic(run, "first", /*with_expiry=*/false);
  run.Stop();
  const int64_t cut1 = QueryInt(run, run.db, "SELECT MAX(seq) FROM audit_events WHERE type = 'approval.rejected'");
  const std::string a1 = run.dir.File("audit-1.jsonl");
  // The chain carries signed checkpoints: an archive without the key is refused.
  ToolRun unkeyed = run.Holdgate({"audit", "archive", "--db", run.db, "--through-seq", std::to_string(cut1), "--out", a1});
  INFO(unkeyed.out);
  CHECK(unkeyed.code == 2);
  CHECK(unkeyed.out.find("give the checkpoint key") != std::string::npos);
  ToolRun r1 = run.Holdgate(
      {"audit", "archive", "--db", run.db, "--through-seq", std::to_string(cut1), "--out", a1, "--config", run.config});
  INFO(r1.out);
  REQUIRE(r1.code == 0);
  CHECK(r1.out.find("Archived seq 1.." + std::to_string(cut1)) != std::string::npos);
  CHECK(QueryInt(run, run.db, "SELECT MIN(seq) FROM audit_events") == cut1 + 1);
  CHECK(QueryInt(run, run.db, "SELECT COUNT(*) FROM audit_anchors") == 1);

  // The second archive runs while holdgate serves agents.
  run.Start();
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::thread traffic([&] {
    McpHttpClient a = run.Agent(kAgentKeyA);
    while (!stop.load()) {
      if (!ToolIsError(a.CallTool("list_jobs", Json::object()))) calls.fetch_add(1);
    }
  });
  REQUIRE(WaitUntil([&] { return calls.load() >= 20; }, 20000));
  const std::string a2 = run.dir.File("audit-2.jsonl");
  const std::string cut_time = FormatTimeMs(SystemClock::Instance().NowMs());
  ToolRun r2 = run.Holdgate({"audit", "archive", "--db", run.db, "--before", cut_time, "--out", a2, "--config", run.config});
  INFO(r2.out);
  REQUIRE(r2.code == 0);
  CHECK(r2.out.find("Archived seq " + std::to_string(cut1 + 1) + "..") != std::string::npos);
  const int before = calls.load();
  REQUIRE(WaitUntil([&] { return calls.load() >= before + 20; }, 20000));  // serving goes on
  stop.store(true);
  traffic.join();
  // The live server's own verifier walks from the new anchor.
  ReviewClient auditor(run.gw.review_port, "auditor-1", "auditor");
  auto online = auditor.Get("/api/audit/verify");
  INFO(online.body.dump());
  CHECK(online.status == 200);
  CHECK(online.body["ok"] == true);
  run.Stop();

  ToolRun v = run.Holdgate({"audit", "verify", "--db", run.db, "--archive", a2, "--archive", a1, "--config", run.config});
  INFO(v.out);
  CHECK(v.code == 0);
  CHECK(v.out.find("Audit chain OK") != std::string::npos);
  CHECK(v.out.find("Archive " + a1 + " OK: seq 1.." + std::to_string(cut1)) != std::string::npos);
  CHECK(v.out.find("Archive " + a2 + " OK: seq " + std::to_string(cut1 + 1) + "..") != std::string::npos);
  CHECK(v.out.find("an anchor of the database") != std::string::npos);
  CHECK(v.out.find("Complete: the archives hold seq 1..") != std::string::npos);
  CHECK(v.out.find("all on the chain") != std::string::npos);  // the checkpoint file, archive checkpoints too
  // Archive 1 alone claims history from seq 1 but stops short of the database's start.
  ToolRun partial = run.Holdgate({"audit", "verify", "--db", run.db, "--archive", a1});
  INFO(partial.out);
  CHECK(partial.code == 6);
  CHECK(partial.out.find("INCOMPLETE: the archives end at seq " + std::to_string(cut1)) != std::string::npos);
  // Archive 2 alone makes no claim about what came before it.
  CHECK(run.Holdgate({"audit", "verify", "--db", run.db, "--archive", a2}).code == 0);
  auto report = ParseJson(run.Holdgate({"audit", "verify", "--db", run.db, "--archive", a1, "--archive", a2, "--json"}).out);
  REQUIRE(report.ok());
  REQUIRE((*report)["anchors"].size() == 2);
  CHECK((*report)["complete"] == true);
  CHECK((*report)["start_hash"] == (*report)["archives"][1]["head_hash"]);  // the DB starts at archive 2's head
  CHECK((*report)["archives"][1]["start_hash"] == (*report)["archives"][0]["head_hash"]);  // archive 2 continues 1
  CHECK(run.Holdgate({"audit", "verify", "--archive", a1}).code == 0);
  // An age as the cut point: nothing is ten years old.
  ToolRun none = run.Holdgate(
      {"audit", "archive", "--db", run.db, "--before", "3650d", "--out", run.dir.File("none.jsonl"), "--config", run.config});
  INFO(none.out);
  CHECK(none.code == 0);
  CHECK(none.out.find("Nothing to archive") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run.dir.File("none.jsonl")));

  // Tampered archives.
  auto lines_of = [](const std::string& path) {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(path));
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
    return lines;
  };
  auto write_lines = [](const std::string& path, const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    WriteFile(path, text);
  };
  std::vector<std::string> lines = lines_of(a1);
  REQUIRE(lines.size() == static_cast<size_t>(cut1 + 1));
  {
    std::vector<std::string> bad = lines;
    Json j = Json::parse(bad[2]);
    j["actor"] = "mallory";
    bad[2] = j.dump();
    write_lines(run.dir.File("bad-edit.jsonl"), bad);
    ToolRun b = run.Holdgate({"audit", "verify", "--archive", run.dir.File("bad-edit.jsonl")});
    INFO(b.out);
    CHECK(b.code == 6);
    CHECK(b.out.find("BROKEN at line 3 (seq 3): hash mismatch at seq 3") != std::string::npos);
  }
  {
    std::vector<std::string> bad = lines;
    bad.erase(bad.begin() + 4);
    write_lines(run.dir.File("bad-delete.jsonl"), bad);
    ToolRun b = run.Holdgate({"audit", "verify", "--archive", run.dir.File("bad-delete.jsonl")});
    INFO(b.out);
    CHECK(b.code == 6);
    CHECK(b.out.find("BROKEN at line 5 (seq 6): seq 5 missing") != std::string::npos);
  }
  {
    // A sound archive paired with a database that never anchored it.
    const std::string other = run.dir.File("other.db");
    ToolRun fresh = run.Sqlite(other, "CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT, "
                                      "approval_id TEXT, principal TEXT, actor TEXT, via TEXT, tool TEXT, rule TEXT, "
                                      "decision TEXT, detail TEXT, prev_hash TEXT, hash TEXT)");
    REQUIRE(fresh.code == 0);
    ToolRun b = run.Holdgate({"audit", "verify", "--db", other, "--archive", a1});
    INFO(b.out);
    CHECK(b.code == 6);
    CHECK(b.out.find("is not an anchor of") != std::string::npos);
  }
  // The first event removed: the chain of the rest holds, the trailer gives it away.
  {
    std::vector<std::string> bad = lines;
    bad.erase(bad.begin());
    write_lines(run.dir.File("bad-start.jsonl"), bad);
    ToolRun b = run.Holdgate({"audit", "verify", "--archive", run.dir.File("bad-start.jsonl")});
    INFO(b.out);
    CHECK(b.code == 6);
    CHECK(b.out.find("first_seq/start_hash") != std::string::npos);
  }
}

}  // namespace holdgate::testing
