// GET /api/events: Server-Sent Events of approval changes. One pool thread per open stream (so
// their number is capped, 503 beyond). The provider blocks in EventHub::Wait between writes
// (a provider that returns without writing is called again at once: a busy loop), sends a heartbeat comment when idle, and stops when
// the peer is gone (sink.is_writable()) or the server stops.
#include <algorithm>
#include <memory>

#include "review/api_json.h"
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

bool ParseSeq(const std::string& v, int64_t* out) {
  if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  *out = std::stoll(v);
  return true;
}

std::string Frame(const store::ChangeEvent& e, const std::string& base_url) {
  Json data = {{"seq", e.seq},
               {"type", e.type},
               {"ts", TimeJson(e.ts_ms)},
               {"actor", e.actor},
               {"approval", ApprovalJson(e.approval, base_url)}};
  // DumpJson never emits raw newlines (they are escaped in strings), so one data: line suffices.
  return "id: " + std::to_string(e.seq) + "\nevent: approval\ndata: " + DumpJson(data) + "\n\n";
}

}  // namespace

void ReviewServer::Impl::Events(const httplib::Request& req, httplib::Response& res) {
  int64_t after = -1;
  std::string resume = req.get_header_value("Last-Event-ID");
  if (resume.empty()) resume = req.get_param_value("last_event_id");
  if (!resume.empty() && !ParseSeq(resume, &after)) {
    return SendError(res, 400, "bad_request", "Last-Event-ID must be an event id (a number)");
  }
  const bool fresh = after < 0;
  if (fresh) after = hub_.head_seq();

  if (sse_clients_.fetch_add(1) >= config_.max_sse_clients) {
    sse_clients_.fetch_sub(1);
    res.set_header("Retry-After", "5");
    return SendError(res, 503, "unavailable", "too many open event streams; retry later");
  }
  struct StreamState {
    int64_t after;
    bool started = false;
    bool fresh;
    std::vector<store::ChangeEvent> batch;
  };
  auto st = std::make_shared<StreamState>();
  st->after = after;
  st->fresh = fresh;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  const auto heartbeat = config_.sse_heartbeat;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, st, heartbeat](size_t, httplib::DataSink& sink) {
        if (!sink.is_writable()) return false;  // peer gone
        std::string out;
        if (!st->started) {
          st->started = true;
          out = "retry: 3000\n\n";
          // A fresh client learns where the stream starts, so it can list, then follow, without a gap.
          if (st->fresh) {
            out += "id: " + std::to_string(st->after) + "\nevent: ready\ndata: " +
                   DumpJson(Json{{"seq", st->after}}) + "\n\n";
          }
          return sink.write(out.data(), out.size());
        }
        switch (hub_.Wait(&st->after, heartbeat, &st->batch)) {
          case EventHub::WaitResult::kStopped:
            sink.done();
            return true;
          case EventHub::WaitResult::kError:
            return false;
          case EventHub::WaitResult::kTimeout:
            out = ": ping\n\n";
            break;
          case EventHub::WaitResult::kEvents:
            for (const auto& e : st->batch) out += Frame(e, base_url_);
            break;
        }
        return sink.write(out.data(), out.size());
      },
      [this](bool) { sse_clients_.fetch_sub(1); });
}

}  // namespace holdgate::review
