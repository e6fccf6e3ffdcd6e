// Audit and delivery routes: thin layers over Store::ListAudit / VerifyAuditChain / ListOutbox /
// RequeueOutbox. Export streams page by page so a large log never sits in memory.
#include <algorithm>
#include <memory>

#include "review/api_json.h"
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

bool AllDigits(const std::string& v) {
  return !v.empty() && v.size() <= 18 && std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Fills the filter from query parameters; returns an error message or "".
std::string AuditFilterFrom(const httplib::Request& req, int default_limit, store::AuditFilter* f) {
  f->type = req.get_param_value("type");
  f->approval_id = req.get_param_value("approval_id");
  f->principal = req.get_param_value("principal");
  f->actor = req.get_param_value("actor");
  f->tool = req.get_param_value("tool");
  f->cursor = req.get_param_value("cursor");
  for (const char* name : {"since", "until"}) {
    if (!req.has_param(name)) continue;
    int64_t ms = 0;
    if (!ParseTimeParam(req.get_param_value(name), &ms)) {
      return std::string(name) + " must be an RFC 3339 time, a date or epoch milliseconds";
    }
    (std::string_view(name) == "since" ? f->from_ms : f->to_ms) = ms;
  }
  f->limit = default_limit;
  if (req.has_param("limit")) {
    std::string v = req.get_param_value("limit");
    if (!AllDigits(v) || v.size() > 5 || std::stoi(v) < 1 || std::stoi(v) > 10000) return "limit must be 1..10000";
    f->limit = std::stoi(v);
  }
  const std::string order = req.get_param_value("order");
  if (order == "desc") f->newest_first = true;
  else if (!order.empty() && order != "asc") return "order must be asc or desc";
  return "";
}

}  // namespace

void ReviewServer::Impl::Audit(const httplib::Request& req, httplib::Response& res) {
  store::AuditFilter f;
  std::string err = AuditFilterFrom(req, 100, &f);
  if (!err.empty()) return SendError(res, 400, "bad_request", err);
  auto page = store_.ListAudit(f);
  if (!page.ok()) {
    if (page.status().code() == Code::kInvalidArgument) return SendError(res, 400, "bad_request", page.status().message());
    return SendStatus(res, page.status());
  }
  Json events = Json::array();
  for (const auto& e : page->events) events.push_back(AuditEventJson(e));
  SendJson(res, 200, Json{{"events", std::move(events)},
                          {"next_cursor", page->next_cursor.empty() ? Json(nullptr) : Json(page->next_cursor)}});
}

void ReviewServer::Impl::AuditExport(const httplib::Request& req, httplib::Response& res) {
  store::AuditFilter f;
  std::string err = AuditFilterFrom(req, 1000, &f);
  if (!err.empty()) return SendError(res, 400, "bad_request", err);
  f.limit = 1000;  // page size; the export walks every page
  const std::string format = req.has_param("format") ? req.get_param_value("format") : "jsonl";
  if (format != "jsonl" && format != "csv") return SendError(res, 400, "bad_request", "format must be jsonl or csv");
  // Fail early (with a proper status) if the filter itself is bad.
  store::AuditFilter probe = f;
  probe.limit = 1;
  auto first = store_.ListAudit(probe);
  if (!first.ok()) {
    if (first.status().code() == Code::kInvalidArgument) return SendError(res, 400, "bad_request", first.status().message());
    return SendStatus(res, first.status());
  }
  const bool csv = format == "csv";
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Disposition", std::string("attachment; filename=\"holdgate-audit.") + format + "\"");
  struct State {
    store::AuditFilter filter;
    bool header_done = false;
    bool finished = false;
  };
  auto st = std::make_shared<State>();
  st->filter = f;
  res.set_chunked_content_provider(
      csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
      [this, st, csv](size_t, httplib::DataSink& sink) {
        if (st->finished) {
          sink.done();
          return true;
        }
        std::string chunk;
        if (csv && !st->header_done) chunk += AuditCsvHeader();
        st->header_done = true;
        auto page = store_.ListAudit(st->filter);
        if (!page.ok()) return false;  // abort the stream: a truncated export is visibly broken
        for (const auto& e : page->events) chunk += csv ? AuditCsvRow(e) : DumpJson(AuditEventJson(e)) + "\n";
        st->filter.cursor = page->next_cursor;
        if (page->next_cursor.empty()) st->finished = true;
        if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
        if (st->finished) sink.done();
        return true;
      });
}

void ReviewServer::Impl::AuditVerify(const httplib::Request&, httplib::Response& res) {
  auto v = store_.VerifyAuditChain();
  if (!v.ok()) return SendStatus(res, v.status());
  SendJson(res, 200, Json{{"ok", v->ok},
                          {"rows_checked", v->rows_checked},
                          {"broken_seq", v->broken_seq == 0 ? Json(nullptr) : Json(v->broken_seq)},
                          {"why", v->why},
                          {"head_seq", v->head_seq},
                          {"head_hash", v->head_hash}});
}

void ReviewServer::Impl::ListDeliveries(const httplib::Request& req, httplib::Response& res) {
  store::OutboxFilter f;
  if (req.has_param("state") && !req.get_param_value("state").empty() && req.get_param_value("state") != "all") {
    store::OutboxState st;
    if (!store::ParseOutboxState(req.get_param_value("state"), &st)) {
      return SendError(res, 400, "bad_request", "state must be pending, delivering, delivered, dead or all");
    }
    f.any_state = false;
    f.state = st;
  }
  f.approval_id = req.get_param_value("approval_id");
  f.target = req.get_param_value("target");
  if (req.has_param("limit")) {
    std::string v = req.get_param_value("limit");
    if (!AllDigits(v) || v.size() > 4 || std::stoi(v) < 1 || std::stoi(v) > 1000) {
      return SendError(res, 400, "bad_request", "limit must be 1..1000");
    }
    f.limit = std::stoi(v);
  }
  if (req.has_param("after_id")) {
    std::string v = req.get_param_value("after_id");
    if (!AllDigits(v)) return SendError(res, 400, "bad_request", "after_id must be a row id");
    f.after_id = std::stoll(v);
  }
  auto rows = store_.ListOutbox(f);
  if (!rows.ok()) return SendStatus(res, rows.status());
  Json out = Json::array();
  for (const auto& r : *rows) out.push_back(OutboxRowJson(r));
  const bool full = static_cast<int>(rows->size()) >= std::clamp(f.limit, 1, 1000);
  SendJson(res, 200, Json{{"deliveries", std::move(out)},
                          {"next_after_id", full && !rows->empty() ? Json(rows->back().id) : Json(nullptr)}});
}

void ReviewServer::Impl::Redeliver(const httplib::Request& req, httplib::Response& res) {
  const std::string v = req.matches[1];
  if (!AllDigits(v)) return SendError(res, 404, "not_found", "no such delivery");
  const int64_t id = std::stoll(v);
  Status s = store_.RequeueOutbox(id);
  if (!s.ok()) return SendStatus(res, s);
  store::AuditEvent ev;
  ev.type = "delivery.requeued";
  ev.actor = CallerOf(req).name;
  ev.via = CallerOf(req).via;
  ev.decision = "redeliver";
  ev.detail = Json{{"outbox_id", id}};
  (void)store_.AppendAudit(ev);
  SendJson(res, 200, Json{{"requeued", id}});
}

void ReviewServer::Impl::ListEndpoints(const httplib::Request&, httplib::Response& res) {
  Json out = Json::array();
  if (endpoint_control_.list) {
    for (const EndpointView& e : endpoint_control_.list()) {
      out.push_back(Json{{"target", e.target}, {"disabled", e.disabled}, {"why", e.why}});
    }
  }
  SendJson(res, 200, Json{{"endpoints", std::move(out)}});
}

void ReviewServer::Impl::EnableEndpoint(const httplib::Request& req, httplib::Response& res) {
  const std::string target = req.matches[1];
  if (!endpoint_control_.enable) return SendError(res, 404, "not_found", "no such endpoint");
  auto requeued = endpoint_control_.enable(target);
  if (!requeued.ok()) return SendStatus(res, requeued.status());
  store::AuditEvent ev;
  ev.type = "endpoint.enable_requested";
  ev.actor = CallerOf(req).name;
  ev.via = CallerOf(req).via;
  ev.decision = "enable";
  ev.detail = Json{{"target", target}, {"requeued", *requeued}};
  (void)store_.AppendAudit(ev);
  SendJson(res, 200, Json{{"enabled", target}, {"requeued", *requeued}});
}

}  // namespace holdgate::review
