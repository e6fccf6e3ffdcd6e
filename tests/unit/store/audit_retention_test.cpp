// Audit retention (archive + prune with anchors), archive-file verification, and signed
// checkpoints, against a real SQLite file and a FakeClock.
#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/crypto.h"
#include "store/audit_checkpoint.h"
#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

constexpr char kKey[] = "checkpoint-key-0123456789abcdef0123456789";

// Appends `n` plain events one second apart; returns the ts of the first.
int64_t AppendEvents(StoreFixture& fx, int n, const std::string& tool = "list_jobs") {
  const int64_t first = fx.clock.NowMs();
  for (int i = 0; i < n; ++i) {
    AuditEvent e;
    e.type = i % 2 ? "call.denied" : "call.allowed";
    e.principal = "agent-" + std::to_string(i % 3);
    e.tool = tool;
    e.decision = i % 2 ? "deny" : "allow";
    e.detail = Json{{"i", i}, {"text", "line\nbreak, \"quoted\""}};
    REQUIRE(fx.store->AppendAudit(e).ok());
    fx.clock.Advance(1000);
  }
  return first;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

AuditVerdict VerifyOffline(const std::string& path, const AuditVerifyOptions& options = {}) {
  auto v = VerifyAuditChainFile(path, options);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return *v;
}

AuditArchiveVerdict VerifyArchive(const std::string& path, const AuditVerifyOptions& options = {}) {
  auto v = VerifyAuditArchiveFile(path, options);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return *v;
}

AuditArchiveResult Archive(StoreFixture& fx, const std::string& out, int64_t before_ms, int64_t through_seq = 0) {
  AuditArchiveOptions o;
  o.out_path = out;
  o.before_ms = before_ms;
  o.through_seq = through_seq;
  o.actor = "ops";
  auto r = fx.store->ArchiveAudit(o);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

AuditCheckpointConfig KeyedConfig(const std::string& file = "") {
  AuditCheckpointConfig cfg;
  cfg.enabled = true;
  cfg.key = kKey;
  cfg.every_ms = 60 * 60 * 1000;
  cfg.file = file;
  return cfg;
}

AuditVerifyOptions Keyed(const std::string& file = "") {
  AuditVerifyOptions o;
  o.checkpoint_key = kKey;
  o.checkpoint_file = file;
  return o;
}

// Appends `n` events and then a checkpoint (through the checkpointer, so the file gets it too).
void EventsThenCheckpoint(StoreFixture& fx, AuditCheckpointer& cp, int n) {
  AppendEvents(fx, n);
  auto written = cp.CheckpointNow();
  INFO(written.status().ToString());
  REQUIRE(written.ok());
  REQUIRE(written->has_value());
}

// What someone with write access to the file but without the key does to cut rows 1..cut off the
// start with the triggers in place: insert an anchor naming row `cut` with its real hash (the
// trigger's rules hold), delete the rows below it (the trigger lets rows at or below an anchor go),
// and append an audit.archived event hashed like holdgate would, claiming an archive that does not
// exist.
void ForgeStartCut(const std::string& db_path, int64_t cut) {
  SQLite::Database raw(db_path, SQLite::OPEN_READWRITE);
  const std::string cut_hash = raw.execAndGet("SELECT hash FROM audit_events WHERE seq = " + std::to_string(cut)).getString();
  raw.exec("INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at, archive) VALUES (" +
           std::to_string(cut) + ", '" + cut_hash + "', 1, '" + kGenesisHash + "', " + std::to_string(cut) +
           ", 0, 'audit-2026-01.jsonl')");
  raw.exec("DELETE FROM audit_events WHERE seq <= " + std::to_string(cut));
  // The new row continues the newest row left, or the anchor itself when none is.
  const int64_t rows_left = raw.execAndGet("SELECT COUNT(*) FROM audit_events").getInt64();
  AuditEvent e;
  e.seq = rows_left > 0 ? raw.execAndGet("SELECT MAX(seq) FROM audit_events").getInt64() + 1 : cut + 1;
  e.ts_ms = 1;
  e.type = "audit.archived";
  e.actor = "ops";
  e.via = "cli";
  e.decision = "archive";
  e.detail = Json{{"first_seq", 1}, {"last_seq", cut}, {"count", cut}, {"start_hash", kGenesisHash},
                  {"head_hash", cut_hash}, {"archive", "audit-2026-01.jsonl"}};
  e.prev_hash = rows_left > 0 ? raw.execAndGet("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1").getString()
                              : cut_hash;
  e.hash = Sha256Hex(AuditCanonicalForm(e));
  SQLite::Statement ins(raw, "INSERT INTO audit_events (seq, ts, type, approval_id, principal, actor, via, tool, rule, "
                             "decision, detail, prev_hash, hash) VALUES (?, ?, ?, '', '', ?, ?, '', '', ?, ?, ?, ?)");
  ins.bind(1, static_cast<int64_t>(e.seq));
  ins.bind(2, static_cast<int64_t>(e.ts_ms));
  ins.bind(3, e.type);
  ins.bind(4, e.actor);
  ins.bind(5, e.via);
  ins.bind(6, e.decision);
  ins.bind(7, CanonicalJson(e.detail));
  ins.bind(8, e.prev_hash);
  ins.bind(9, e.hash);
  ins.exec();
}

}  // namespace

TEST_CASE("archive moves a prefix to a file, prunes it, and the chain verifies from the anchor", "[store][audit][pg]") {
  StoreFixture fx;
  const int64_t t0 = AppendEvents(fx, 10);
  const std::string a1 = fx.dir.File("audit-1.jsonl");
  auto before = fx.store->ListAudit(AuditFilter{});
  REQUIRE(before.ok());
  REQUIRE(before->events.size() == 10);

  // Events at t0 .. t0+9s: "before t0+4s" archives seq 1..4.
  AuditArchiveResult r = Archive(fx, a1, t0 + 4000);
  CHECK(r.info.first_seq == 1);
  CHECK(r.info.last_seq == 4);
  CHECK(r.info.count == 4);
  CHECK(r.info.start_hash == kGenesisHash);
  CHECK(r.info.head_hash == before->events[3].hash);
  CHECK(r.archived_event_seq == 11);
  CHECK((std::filesystem::status(a1).permissions() & std::filesystem::perms::others_read) == std::filesystem::perms::none);
  CHECK_FALSE(std::filesystem::exists(a1 + ".partial"));

  // The file: 4 event lines in order, then the trailer.
  auto lines = ReadLines(a1);
  REQUIRE(lines.size() == 5);
  for (int i = 0; i < 4; ++i) {
    Json j = Json::parse(lines[static_cast<size_t>(i)]);
    CHECK(j["seq"] == i + 1);
    CHECK(j["hash"] == before->events[static_cast<size_t>(i)].hash);
    CHECK(j["detail"]["text"] == "line\nbreak, \"quoted\"");
  }
  Json trailer = Json::parse(lines[4]);
  CHECK(trailer["archive"] == "holdgate-audit");
  CHECK(trailer["head_hash"] == r.info.head_hash);

  // The database: rows 5..11 left, one anchor, chain verifies online and offline from it.
  auto after = fx.store->ListAudit(AuditFilter{});
  REQUIRE(after.ok());
  REQUIRE(after->events.size() == 7);
  CHECK(after->events.front().seq == 5);
  const AuditEvent& archived = after->events.back();
  CHECK(archived.type == "audit.archived");
  CHECK(archived.actor == "ops");
  CHECK(archived.detail["last_seq"] == 4);
  CHECK(archived.detail["head_hash"] == r.info.head_hash);
  auto anchors = fx.store->ListAuditAnchors();
  REQUIRE(anchors.ok());
  REQUIRE(anchors->size() == 1);
  CHECK((*anchors)[0].seq == 4);
  CHECK((*anchors)[0].hash == r.info.head_hash);
  CHECK((*anchors)[0].archive == a1);
  auto online = fx.store->VerifyAuditChain();
  REQUIRE(online.ok());
  CHECK(online->ok);
  CHECK(online->start_seq == 4);
  CHECK(online->start_hash == r.info.head_hash);
  CHECK(online->rows_checked == 7);
  AuditVerdict offline = VerifyOffline(fx.path);
  CHECK(offline.ok);
  CHECK(offline.head_seq == 11);
  CHECK(offline.anchors.size() == 1);

  AuditArchiveVerdict av = VerifyArchive(a1);
  CHECK(av.chain.ok);
  CHECK(av.chain.rows_checked == 4);
  CHECK(av.info.head_hash == offline.start_hash);  // the archive's head is the database's anchor

  // New events continue the chain; a second archive starts at the first one's head.
  AppendEvents(fx, 3);
  const std::string a2 = fx.dir.File("audit-2.jsonl");
  AuditArchiveResult r2 = Archive(fx, a2, 0, /*through_seq=*/12);
  CHECK(r2.info.first_seq == 5);
  CHECK(r2.info.last_seq == 12);
  CHECK(r2.info.start_hash == r.info.head_hash);
  AuditArchiveVerdict av2 = VerifyArchive(a2);
  CHECK(av2.chain.ok);
  CHECK(av2.chain.start_hash == av.info.head_hash);
  CHECK(VerifyOffline(fx.path).ok);
  CHECK(VerifyOffline(fx.path).start_seq == 12);

  // Archiving everything leaves only the audit.archived event; appends continue from the anchor.
  auto head = fx.store->VerifyAuditChain();
  REQUIRE(head.ok());
  AuditArchiveResult r3 = Archive(fx, fx.dir.File("audit-3.jsonl"), 0, head->head_seq);
  CHECK(r3.info.last_seq == head->head_seq);
  auto only = fx.store->ListAudit(AuditFilter{});
  REQUIRE(only->events.size() == 1);
  CHECK(only->events[0].seq == head->head_seq + 1);
  CHECK(only->events[0].prev_hash == r3.info.head_hash);
  CHECK(VerifyOffline(fx.path).ok);

  // Nothing older than the cut: no file, nothing pruned.
  AuditArchiveResult none = Archive(fx, fx.dir.File("audit-4.jsonl"), t0);
  CHECK(none.info.count == 0);
  CHECK_FALSE(std::filesystem::exists(fx.dir.File("audit-4.jsonl")));
}

TEST_CASE("archive refuses bad requests and broken chains without pruning anything", "[store][audit]") {
  StoreFixture fx;
  AppendEvents(fx, 6);
  AuditArchiveOptions o;
  o.out_path = fx.dir.File("a.jsonl");
  CHECK(fx.store->ArchiveAudit(o).status().code() == Code::kInvalidArgument);  // no cut point
  o.through_seq = 3;
  { std::ofstream(o.out_path) << "keep me\n"; }
  CHECK(fx.store->ArchiveAudit(o).status().code() == Code::kConflict);  // never overwrites
  CHECK(ReadLines(o.out_path) == std::vector<std::string>{"keep me"});
  std::filesystem::remove(o.out_path);

  fx.store.reset();
  {
    SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_events_no_update");
    raw.exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2");
  }
  fx.Reopen();
  auto r = fx.store->ArchiveAudit(o);
  CHECK(r.status().code() == Code::kConflict);
  CHECK_THAT(r.status().message(), Catch::Contains("broken at seq 2"));
  CHECK_FALSE(std::filesystem::exists(o.out_path));
  CHECK_FALSE(std::filesystem::exists(o.out_path + ".partial"));
  CHECK(fx.store->ListAudit(AuditFilter{})->events.size() == 6);
}

TEST_CASE("the delete trigger still refuses every delete the archive did not anchor", "[store][audit]") {
  StoreFixture fx;
  AppendEvents(fx, 6);
  Archive(fx, fx.dir.File("a.jsonl"), 0, 3);
  fx.store.reset();
  SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
  CHECK_THROWS_WITH(raw.exec("DELETE FROM audit_events WHERE seq = 4"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("DELETE FROM audit_events"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("UPDATE audit_events SET actor = 'x' WHERE seq = 5"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("UPDATE audit_anchors SET hash = hash"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("DELETE FROM audit_anchors"), Catch::Contains("append-only"));
  // An anchor must name an existing row with its hash and continue the previous anchor.
  const std::string zeros(64, '0');
  CHECK_THROWS_WITH(raw.exec("INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at) "
                             "SELECT 5, '" + zeros + "', 4, hash, 2, 0 FROM audit_anchors"),
                    Catch::Contains("existing audit row"));
  CHECK_THROWS_WITH(raw.exec("INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at) "
                             "SELECT 5, hash, 1, '" + zeros + "', 5, 0 FROM audit_events WHERE seq = 5"),
                    Catch::Contains("continue the previous"));
  CHECK(raw.execAndGet("SELECT COUNT(*) FROM audit_events").getInt() == 4);
}

TEST_CASE("an anchor inserted by hand to hide deleted rows is caught", "[store][audit]") {
  StoreFixture fx;
  AppendEvents(fx, 6);
  fx.store.reset();
  {
    SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
    raw.exec("INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at) "
             "SELECT 3, hash, 1, '" + std::string(kGenesisHash) + "', 3, 0 FROM audit_events WHERE seq = 3");
    raw.exec("DELETE FROM audit_events WHERE seq <= 3");
  }
  AuditVerdict v = VerifyOffline(fx.path);
  CHECK_FALSE(v.ok);
  CHECK(v.broken_seq == 3);
  CHECK_THAT(v.why, Catch::Contains("no audit.archived event"));
}

TEST_CASE("archive files: tampering is found and the line named", "[store][audit]") {
  StoreFixture fx;
  AppendEvents(fx, 8);
  const std::string path = fx.dir.File("a.jsonl");
  Archive(fx, path, 0, 6);
  const auto lines = ReadLines(path);
  REQUIRE(lines.size() == 7);
  REQUIRE(VerifyArchive(path).chain.ok);

  std::vector<std::string> bad = lines;
  int64_t want_line = 0;
  std::string want_why;
  SECTION("an edited event") {
    Json j = Json::parse(bad[2]);
    j["principal"] = "mallory";
    bad[2] = CanonicalJson(j);
    want_line = 3;
    want_why = "hash mismatch at seq 3";
  }
  SECTION("an edited event with a recomputed hash") {
    Json j = Json::parse(bad[2]);
    j["principal"] = "mallory";
    AuditEvent e;
    e.seq = 3;
    e.ts_ms = j["ts"];
    e.type = j["type"];
    e.principal = "mallory";
    e.tool = j["tool"];
    e.decision = j["decision"];
    e.detail = j["detail"];
    e.prev_hash = j["prev_hash"];
    j["hash"] = Sha256Hex(AuditCanonicalForm(e));
    bad[2] = CanonicalJson(j);
    want_line = 4;
    want_why = "prev_hash of seq 4";
  }
  SECTION("a removed line") {
    bad.erase(bad.begin() + 3);
    want_line = 4;
    want_why = "seq 4 missing";
  }
  SECTION("two lines swapped") {
    std::swap(bad[1], bad[2]);
    want_line = 2;
    want_why = "seq 2 missing";
  }
  SECTION("the trailer removed") {
    bad.pop_back();
    want_line = 7;
    want_why = "truncated";
  }
  SECTION("the last event and the trailer's head removed together") {
    bad.erase(bad.end() - 2);
    want_line = 6;
    want_why = "last_seq/head_hash";
  }
  SECTION("not JSON") {
    bad[4] = "{\"seq\": 5,";
    want_line = 5;
    want_why = "not JSON";
  }
  WriteLines(path, bad);
  AuditArchiveVerdict v = VerifyArchive(path);
  CHECK_FALSE(v.chain.ok);
  CHECK(v.broken_line == want_line);
  CHECK_THAT(v.chain.why, Catch::Contains(want_why));
  CHECK(VerifyAuditArchiveFile(fx.dir.File("missing.jsonl")).status().code() == Code::kNotFound);
}

TEST_CASE("signed checkpoints: scheduled by the clock, verified with the key", "[store][audit]") {
  StoreFixture fx;
  AuditCheckpointConfig cfg;
  cfg.enabled = true;
  cfg.key = kKey;
  cfg.every_ms = 60 * 60 * 1000;
  AuditCheckpointer cp(*fx.store, fx.clock, cfg);
  AppendEvents(fx, 3);  // moves the clock 3 s
  auto t = cp.Tick();
  REQUIRE(t.ok());
  CHECK_FALSE(t->has_value());  // not due yet
  fx.clock.Advance(cfg.every_ms);
  t = cp.Tick();
  REQUIRE(t.ok());
  REQUIRE(t->has_value());
  const AuditEvent first = **t;
  CHECK(first.type == "audit.checkpoint");
  CHECK(first.seq == 4);
  CHECK(first.detail["seq"] == 3);
  CHECK(first.detail["hash"] == first.prev_hash);
  CHECK(first.detail["hmac"] == AuditCheckpointHmac(kKey, {3, first.prev_hash}, AuditChainPoint{}));
  CHECK(first.detail["anchor_seq"] == 0);
  CHECK(first.detail["anchor_hash"] == kGenesisHash);
  CHECK(first.detail["key_id"] == AuditCheckpointKeyId(kKey));
  fx.clock.Advance(cfg.every_ms);
  t = cp.Tick();
  REQUIRE(t.ok());
  CHECK_FALSE(t->has_value());  // idle: the head is the previous checkpoint
  AppendEvents(fx, 2);
  fx.clock.Advance(cfg.every_ms);
  t = cp.Tick();
  REQUIRE(t.ok());
  REQUIRE(t->has_value());
  CHECK((*t)->detail["seq"] == 6);
  AppendEvents(fx, 1);
  fx.store.reset();

  AuditVerifyOptions with_key;
  with_key.checkpoint_key = kKey;
  AuditVerdict v = VerifyOffline(fx.path, with_key);
  CHECK(v.ok);
  CHECK(v.checkpoints == 2);
  CHECK(v.checkpoints_verified == 2);
  CHECK(v.last_checkpoint_seq == 6);
  AuditVerdict no_key = VerifyOffline(fx.path);
  CHECK(no_key.ok);
  CHECK(no_key.checkpoints == 2);
  CHECK(no_key.checkpoints_verified == 0);
  AuditVerifyOptions wrong;
  wrong.checkpoint_key = std::string(kKey) + "-other";
  AuditVerdict w = VerifyOffline(fx.path, wrong);
  CHECK_FALSE(w.ok);
  CHECK(w.broken_seq == 4);
  CHECK_THAT(w.why, Catch::Contains("checkpoint HMAC"));

  // Someone rewrites the whole chain from seq 2 on, recomputing every hash and patching the
  // checkpoints' seq/hash: the plain chain verifies, the keyed check does not.
  {
    SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER audit_events_no_update");
    std::vector<AuditEvent> rows;
    {
      SQLite::Statement q(raw, "SELECT seq, ts, type, approval_id, principal, actor, via, tool, rule, decision, detail, "
                               "prev_hash, hash FROM audit_events ORDER BY seq");
      while (q.executeStep()) {
        AuditEvent e;
        e.seq = q.getColumn(0).getInt64();
        e.ts_ms = q.getColumn(1).getInt64();
        e.type = q.getColumn(2).getString();
        e.approval_id = q.getColumn(3).getString();
        e.principal = q.getColumn(4).getString();
        e.actor = q.getColumn(5).getString();
        e.via = q.getColumn(6).getString();
        e.tool = q.getColumn(7).getString();
        e.rule = q.getColumn(8).getString();
        e.decision = q.getColumn(9).getString();
        e.detail = Json::parse(q.getColumn(10).getString());
        e.prev_hash = q.getColumn(11).getString();
        e.hash = q.getColumn(12).getString();
        rows.push_back(e);
      }
    }
    rows[1].principal = "mallory";
    for (size_t i = 1; i < rows.size(); ++i) {
      rows[i].prev_hash = rows[i - 1].hash;
      if (rows[i].type == "audit.checkpoint") rows[i].detail["hash"] = rows[i].prev_hash;
      rows[i].hash = Sha256Hex(AuditCanonicalForm(rows[i]));
      SQLite::Statement up(raw, "UPDATE audit_events SET principal = ?, detail = ?, prev_hash = ?, hash = ? WHERE seq = ?");
      up.bind(1, rows[i].principal);
      up.bind(2, CanonicalJson(rows[i].detail));
      up.bind(3, rows[i].prev_hash);
      up.bind(4, rows[i].hash);
      up.bind(5, static_cast<int64_t>(rows[i].seq));
      up.exec();
    }
  }
  CHECK(VerifyOffline(fx.path).ok);
  AuditVerdict rewritten = VerifyOffline(fx.path, with_key);
  CHECK_FALSE(rewritten.ok);
  CHECK(rewritten.broken_seq == 4);
}

TEST_CASE("start cut: a forged anchor, a deleted prefix and a self-hashed audit.archived row fail with the key",
          "[store][audit]") {
  StoreFixture fx;
  const std::string file = fx.dir.File("checkpoints.jsonl");
  {
    AuditCheckpointer cp(*fx.store, fx.clock, KeyedConfig(file));
    EventsThenCheckpoint(fx, cp, 4);  // checkpoint at seq 5
    EventsThenCheckpoint(fx, cp, 3);  // checkpoint at seq 9
  }
  fx.store.reset();
  ForgeStartCut(fx.path, 6);

  // What verify checked before anchors were signed: the chain, the anchor's audit.archived event
  // and every checkpoint's HMAC all pass; the cut is invisible.
  AuditVerdict chain_only = VerifyOffline(fx.path);
  CHECK(chain_only.ok);
  CHECK(chain_only.start_seq == 6);
  // With the key, the unsigned anchor is the finding.
  AuditVerdict v = VerifyOffline(fx.path, Keyed());
  CHECK_FALSE(v.ok);
  CHECK(v.broken_seq == 6);
  CHECK_THAT(v.why, Catch::Contains("no checkpoint signed with the key vouches for it") &&
                        Catch::Contains("rows 1..6 were cut behind a forged anchor"));
  CHECK(v.checkpoints_verified == 1);  // seq 9's checkpoint is genuine; it vouches for genesis only
  // The server's checkpointer carries forward the anchor the last genuine checkpoint vouched for:
  // it never signs the forged one, so the finding does not go away.
  fx.store = fx.MustOpen();
  {
    AuditCheckpointer cp(*fx.store, fx.clock, KeyedConfig(file));
    EventsThenCheckpoint(fx, cp, 2);
  }
  fx.store.reset();
  AuditVerdict later = VerifyOffline(fx.path, Keyed(file));
  CHECK_FALSE(later.ok);
  CHECK(later.broken_seq == 6);
  CHECK_THAT(later.why, Catch::Contains("no checkpoint signed with the key vouches for it"));
}

TEST_CASE("start cut with every checkpoint deleted too: nothing is signed over it", "[store][audit]") {
  StoreFixture fx;
  {
    AuditCheckpointer cp(*fx.store, fx.clock, KeyedConfig());
    EventsThenCheckpoint(fx, cp, 4);
    AppendEvents(fx, 2);  // head seq 7, after the checkpoint at seq 5
  }
  fx.store.reset();
  ForgeStartCut(fx.path, 7);  // everything, checkpoints included, is below the forged anchor
  CHECK(VerifyOffline(fx.path).ok);
  fx.store = fx.MustOpen();
  AuditCheckpointer cp(*fx.store, fx.clock, KeyedConfig());
  auto refused = cp.CheckpointNow();
  CHECK(refused.status().code() == Code::kConflict);
  CHECK_THAT(refused.status().message(), Catch::Contains("no signed checkpoint that vouches for it"));
  fx.store.reset();
  AuditVerdict v = VerifyOffline(fx.path, Keyed());
  CHECK_FALSE(v.ok);
  CHECK(v.broken_seq == 7);
}

TEST_CASE("end cut: rows deleted from the end are found against the checkpoint file", "[store][audit]") {
  StoreFixture fx;
  const std::string file = fx.dir.File("checkpoints.jsonl");
  {
    AuditCheckpointer cp(*fx.store, fx.clock, KeyedConfig(file));
    EventsThenCheckpoint(fx, cp, 3);  // seq 4
    EventsThenCheckpoint(fx, cp, 3);  // seq 8
    AppendEvents(fx, 2);              // seq 9, 10: after the last checkpoint
  }
  fx.store.reset();
  REQUIRE(ReadLines(file).size() == 2);
  AuditVerdict intact = VerifyOffline(fx.path, Keyed(file));
  INFO(intact.why);
  CHECK(intact.ok);
  CHECK(intact.file_checkpoints == 2);
  CHECK(intact.file_head_seq == 7);

  SECTION("rows after the last checkpoint: not detectable (the window `every` bounds)") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      raw.exec("DROP TRIGGER audit_events_no_delete");
      raw.exec("DELETE FROM audit_events WHERE seq >= 9");
    }
    CHECK(VerifyOffline(fx.path, Keyed(file)).ok);
  }
  SECTION("the last checkpoint and the rows before it") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      raw.exec("DROP TRIGGER audit_events_no_delete");
      raw.exec("DELETE FROM audit_events WHERE seq >= 6");
    }
    // The chain and the checkpoints left in it are sound: without the file, nothing shows.
    CHECK(VerifyOffline(fx.path, Keyed()).ok);
    AuditVerdict v = VerifyOffline(fx.path, Keyed(file));
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 6);
    CHECK_THAT(v.why, Catch::Contains("rows were cut off the end") &&
                          Catch::Contains("checkpoint file line 2 holds a signed head at seq 7") &&
                          Catch::Contains("ends at seq 5"));
  }
  SECTION("only the last checkpoint event") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      raw.exec("DROP TRIGGER audit_events_no_delete");
      raw.exec("DELETE FROM audit_events WHERE seq >= 8");
    }
    AuditVerdict v = VerifyOffline(fx.path, Keyed(file));
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 8);
    CHECK_THAT(v.why, Catch::Contains("checkpoint event seq 8"));
  }
  SECTION("the cut rows rewritten with fresh hashes") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      raw.exec("DROP TRIGGER audit_events_no_update");
      raw.exec("UPDATE audit_events SET hash = '" + std::string(64, 'a') + "' WHERE seq = 7");
    }
    AuditVerdict v = VerifyOffline(fx.path, Keyed(file));
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 7);  // the chain itself breaks first
  }
  SECTION("a line of the file forged or edited") {
    std::vector<std::string> lines = ReadLines(file);
    Json j = Json::parse(lines[1]);
    j["seq"] = 5;
    lines[1] = j.dump();
    WriteLines(file, lines);
    AuditVerdict v = VerifyOffline(fx.path, Keyed(file));
    CHECK_FALSE(v.ok);
    CHECK_THAT(v.why, Catch::Contains("checkpoint file line 2: HMAC does not match the key"));
  }
  SECTION("a missing checkpoint file is an error, not a pass") {
    auto v = VerifyAuditChainFile(fx.path, Keyed(fx.dir.File("nowhere.jsonl")));
    CHECK(v.status().code() == Code::kNotFound);
  }
}

TEST_CASE("archive with the key vouches for its anchor, without it a signed chain is refused", "[store][audit][pg]") {
  StoreFixture fx;
  const std::string file = fx.dir.File("checkpoints.jsonl");
  AuditCheckpointer cp(*fx.store, fx.clock, KeyedConfig(file));
  EventsThenCheckpoint(fx, cp, 5);  // seq 6
  AppendEvents(fx, 2);              // seq 7, 8

  AuditArchiveOptions unkeyed;
  unkeyed.out_path = fx.dir.File("a.jsonl");
  unkeyed.through_seq = 4;
  auto refused = fx.store->ArchiveAudit(unkeyed);
  CHECK(refused.status().code() == Code::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("give the checkpoint key"));
  CHECK_FALSE(std::filesystem::exists(unkeyed.out_path));

  AuditArchiveOptions keyed = unkeyed;
  keyed.checkpoint_key = kKey;
  auto r = fx.store->ArchiveAudit(keyed);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->checkpoint.has_value());
  CHECK(r->checkpoint->seq == r->archived_event_seq + 1);
  CHECK(r->checkpoint->detail["anchor_seq"] == 4);
  CHECK(r->checkpoint->detail["anchor_hash"] == r->info.head_hash);
  REQUIRE(AppendAuditCheckpointFile(file, *r->checkpoint).ok());
  // Later checkpoints carry the signed anchor forward.
  EventsThenCheckpoint(fx, cp, 1);
  AuditFilter newest_checkpoint;
  newest_checkpoint.type = "audit.checkpoint";
  newest_checkpoint.limit = 1;
  newest_checkpoint.newest_first = true;
  auto last = fx.store->ListAudit(newest_checkpoint);
  REQUIRE(last.ok());
  REQUIRE(last->events.size() == 1);
  CHECK(last->events[0].detail["anchor_seq"] == 4);

  AuditVerdict v = VerifyOffline(fx.path, Keyed(file));
  INFO(v.why);
  CHECK(v.ok);
  CHECK(v.start_seq == 4);
  CHECK(v.file_checkpoints == 3);
  REQUIRE_FALSE(v.signed_anchors.empty());
  CHECK(v.signed_anchors.back() == AuditChainPoint{4, r->info.head_hash});
  // A second archive continues from the vouched anchor.
  keyed.out_path = fx.dir.File("b.jsonl");
  keyed.through_seq = 8;
  auto r2 = fx.store->ArchiveAudit(keyed);
  INFO(r2.status().ToString());
  REQUIRE(r2.ok());
  CHECK(VerifyOffline(fx.path, Keyed()).ok);
  // The archive file's own check is unchanged.
  CHECK(VerifyArchive(fx.dir.File("a.jsonl"), Keyed()).chain.ok);
}

TEST_CASE("checkpoint config: key or key_file, every, and clear errors", "[store][audit]") {
  TempDir dir;
  auto none = ParseAuditCheckpointConfig(Json::object(), "");
  REQUIRE(none.ok());
  CHECK_FALSE(none->enabled);
  auto ok = ParseAuditCheckpointConfig(Json{{"all_calls", true}, {"checkpoint", {{"key", kKey}, {"every", "15m"}}}}, "");
  REQUIRE(ok.ok());
  CHECK(ok->enabled);
  CHECK(ok->key == kKey);
  CHECK(ok->every_ms == 15 * 60 * 1000);
  CHECK(ok->file.empty());
  auto with_file = ParseAuditCheckpointConfig(Json{{"checkpoint", {{"key", kKey}, {"file", "cp.jsonl"}}}}, "/etc/hg");
  REQUIRE(with_file.ok());
  CHECK(with_file->file == "/etc/hg/cp.jsonl");
  { std::ofstream(dir.File("key")) << kKey << "\n"; }
  auto from_file = ParseAuditCheckpointConfig(Json{{"checkpoint", {{"key_file", "key"}}}}, dir.File(""));
  REQUIRE(from_file.ok());
  CHECK(from_file->key == kKey);
  CHECK(from_file->every_ms == 60 * 60 * 1000);
  for (const Json& bad : {Json{{"checkpoint", "yes"}}, Json{{"checkpoint", {{"key", "short"}}}},
                          Json{{"checkpoint", {{"key", kKey}, {"key_file", "key"}}}},
                          Json{{"checkpoint", {{"every", "1h"}}}},
                          Json{{"checkpoint", {{"key", kKey}, {"every", "10ms"}}}},
                          Json{{"checkpoint", {{"key", kKey}, {"every", "soon"}}}},
                          Json{{"checkpoint", {{"key", kKey}, {"interval", "1h"}}}},
                          Json{{"checkpoint", {{"key", kKey}, {"file", ""}}}},
                          Json{{"checkpoint", {{"key", kKey}, {"file", 7}}}},
                          Json{{"checkpoint", {{"key_file", "missing"}}}}}) {
    auto r = ParseAuditCheckpointConfig(bad, dir.File(""));
    INFO(bad.dump());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("audit.checkpoint"));
  }
}

TEST_CASE("archiving under concurrent writers never forks the chain", "[store][audit][race]") {
  StoreFixture fx;
  AppendEvents(fx, 50);
  std::atomic<bool> stop{false};
  std::atomic<int> written{0}, failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      while (!stop.load()) {
        AuditEvent e;
        e.type = "call.allowed";
        e.principal = "writer-" + std::to_string(w);
        if (fx.store->AppendAudit(e).ok()) written.fetch_add(1);
        else failed.fetch_add(1);
      }
    });
  }
  // A second Store on the same file (as `holdgate audit archive` beside a live server).
  auto other = Store::Open(fx.path, fx.clock);
  REQUIRE(other.ok());
  for (int round = 1; round <= 3; ++round) {
    while (written.load() < round * 100) std::this_thread::yield();
    auto head = (*other)->VerifyAuditChain();
    REQUIRE(head.ok());
    REQUIRE(head->ok);
    AuditArchiveOptions o;
    o.out_path = fx.dir.File("round-" + std::to_string(round) + ".jsonl");
    o.through_seq = head->head_seq;
    auto r = (*other)->ArchiveAudit(o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(VerifyArchive(o.out_path).chain.ok);
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  CHECK(failed.load() == 0);
  auto v = fx.store->VerifyAuditChain();
  REQUIRE(v.ok());
  INFO(v->why);
  CHECK(v->ok);
  CHECK(v->anchors.size() == 3);
  // The three archives chain one after another, and the last one's head is the database's start.
  std::string prev = kGenesisHash;
  for (int round = 1; round <= 3; ++round) {
    AuditArchiveVerdict av = VerifyArchive(fx.dir.File("round-" + std::to_string(round) + ".jsonl"));
    CHECK(av.info.start_hash == prev);
    prev = av.info.head_hash;
  }
  CHECK(v->start_hash == prev);
  // Every event written is either archived or still in the database, exactly once.
  int64_t archived = 0;
  for (const auto& a : v->anchors) archived += a.count;
  CHECK(archived + v->rows_checked == v->head_seq);
}

}  // namespace holdgate::store::testing
