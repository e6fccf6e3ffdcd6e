#include "upstream/correlator.h"

#include <algorithm>

#include "mcp/jsonrpc.h"

namespace holdgate::upstream {
namespace {

// `preferred` (the caller's own id or token) when keeping them and it is free, else a name of
// holdgate's: the handle (ids on a shared connection), or "hg-<handle>" (tokens; and ids on a kept
// connection, where a number could meet a caller's own).
template <typename Map>
Json WireName(const Json& preferred, bool keep, bool number_ok, RequestHandle handle, const Map& in_use) {
  if (keep && !preferred.is_null() && !in_use.count(DumpJson(preferred))) return preferred;
  if (number_ok && !keep) return Json(handle);
  std::string name = "hg-" + std::to_string(handle);
  while (in_use.count(DumpJson(Json(name)))) name += "~";
  return Json(name);
}

// 300000 -> "5m", 1500 -> "1500ms": the largest unit that divides the duration.
std::string DurationText(int64_t ms) {
  if (ms > 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms > 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms > 0 && ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::chrono::milliseconds OverdueCheckInterval(int64_t request_timeout_ms) {
  return std::chrono::milliseconds(std::clamp<int64_t>(request_timeout_ms / 10, 10, 1000));
}

Correlator::Registered Correlator::Register(const Json& request,
                                            std::shared_ptr<ReplyHandler> handler) {
  Registered out;
  out.wire = request;
  Entry entry;
  entry.original_id = request.value("id", Json());
  entry.handler = std::move(handler);
  entry.deadline = request_timeout_.count() > 0 ? std::chrono::steady_clock::now() + request_timeout_
                                                : std::chrono::steady_clock::time_point::max();
  Json token = mcp::ProgressToken(request);
  std::lock_guard<std::mutex> lock(mu_);
  out.handle = next_++;
  entry.wire_id = WireName(entry.original_id, keep_caller_ids_, true, out.handle, wire_ids_);
  entry.wire_id_key = DumpJson(entry.wire_id);
  wire_ids_[entry.wire_id_key] = out.handle;
  out.wire["id"] = entry.wire_id;
  if (!token.is_null()) {
    entry.original_token = token;
    Json wire_token = WireName(token, keep_caller_ids_, false, out.handle, tokens_);
    entry.wire_token = DumpJson(wire_token);
    out.wire["params"]["_meta"]["progressToken"] = wire_token;
    tokens_[entry.wire_token] = out.handle;
  }
  entries_.emplace(out.handle, std::move(entry));
  return out;
}

void Correlator::Route(Json message, RequestHandle stream_handle) {
  std::shared_ptr<ReplyHandler> handler;
  std::function<void(const Json&)> unsolicited;
  Json& out = message;  // what the handler gets: the message with the caller's names restored
  bool final_response = false;
  bool refuse = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool is_response = !message.contains("method");
    if (is_response) {
      auto wid = wire_ids_.find(DumpJson(message.value("id", Json())));
      if (wid == wire_ids_.end()) return;  // late reply to a cancelled or failed request
      auto it = entries_.find(wid->second);
      if (it == entries_.end()) return;
      handler = it->second.handler;
      out["id"] = it->second.original_id;
      ForgetWireNames(it->second);
      entries_.erase(it);
      final_response = true;
    } else {
      const std::string method = message.value("method", "");
      const bool is_request = message.contains("id");
      auto pit = message.find("params");
      // Progress: routed by token, with the caller's token restored.
      if (!is_request && method == "notifications/progress" && pit != message.end() &&
          pit->is_object() && pit->contains("progressToken")) {
        auto tok = tokens_.find(DumpJson((*pit)["progressToken"]));
        if (tok == tokens_.end()) return;  // stale token: the request is over
        auto it = entries_.find(tok->second);
        if (it == entries_.end()) return;
        handler = it->second.handler;
        out["params"]["progressToken"] = it->second.original_token;
      } else if (method == "notifications/cancelled") {
        // The upstream cancelled one of its own server->client requests: tell whoever holds it.
        unsolicited = unsolicited_;
      } else if (stream_handle) {
        // Related by the reply stream it came on (HTTP).
        auto it = entries_.find(stream_handle);
        if (it != entries_.end()) handler = it->second.handler;
        else unsolicited = unsolicited_;
      } else if (attribute_unrelated_ && (is_request || method == "notifications/message") && !entries_.empty()) {
        // stdio: attributable only when every agent request in flight belongs to one agent.
        // holdgate's own requests (no owner: a handshake after a restart, a readiness ping) cannot
        // have caused it and do not make it ambiguous.
        std::string owner;
        bool one_owner = true;
        RequestHandle newest = 0;  // the newest request of that owner
        for (const auto& [h, e] : entries_) {
          const std::string o = e.handler->Owner();
          if (o.empty()) continue;
          if (!owner.empty() && o != owner) one_owner = false;
          owner = o;
          newest = h;
        }
        if (newest == 0) {
          unsolicited = unsolicited_;  // only holdgate's own requests in flight
        } else if (one_owner) {
          handler = entries_.at(newest).handler;
        } else if (is_request) {
          refuse = true;
        }  // an unattributable log line is dropped rather than shown to the wrong agent
      } else {
        unsolicited = unsolicited_;
      }
    }
  }
  if (refuse) {
    if (reply_) {
      reply_(mcp::MakeError(message["id"], mcp::kInternalError,
                            "holdgate cannot tell which agent this request is for: several agents have calls "
                            "in flight on this stdio upstream"));
    }
    return;
  }
  if (handler) {
    if (final_response) handler->OnResponse(out);
    else handler->OnRelated(out);
  } else if (unsolicited) {
    unsolicited(out);
  }
}

void Correlator::ForgetWireNames(const Entry& entry) {
  wire_ids_.erase(entry.wire_id_key);
  if (!entry.wire_token.empty()) tokens_.erase(entry.wire_token);
}

Json Correlator::Fail(RequestHandle handle, int code, const std::string& message) {
  std::shared_ptr<ReplyHandler> handler;
  Json original_id, wire_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(handle);
    if (it == entries_.end()) return nullptr;
    handler = it->second.handler;
    original_id = it->second.original_id;
    wire_id = it->second.wire_id;
    ForgetWireNames(it->second);
    entries_.erase(it);
  }
  handler->OnResponse(mcp::MakeError(original_id, code, message));
  return wire_id;
}

void Correlator::FailAll(int code, const std::string& message) {
  std::map<RequestHandle, Entry> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed.swap(entries_);
    wire_ids_.clear();
    tokens_.clear();
  }
  for (auto& [handle, entry] : failed) {
    entry.handler->OnResponse(mcp::MakeError(entry.original_id, code, message));
  }
}

std::string Correlator::TimeoutMessage() const {
  return "upstream did not answer within " + DurationText(request_timeout_.count()) +
         "; the call may or may not have run; not re-run";
}

std::vector<Correlator::Overdue> Correlator::FailOverdue(std::chrono::steady_clock::time_point now) {
  std::vector<std::pair<RequestHandle, Entry>> overdue;
  if (request_timeout_.count() <= 0) return {};
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Handles grow with registration time and the timeout is fixed: the overdue ones come first.
    for (auto it = entries_.begin(); it != entries_.end() && it->second.deadline <= now;) {
      ForgetWireNames(it->second);
      overdue.emplace_back(it->first, std::move(it->second));
      it = entries_.erase(it);
    }
  }
  std::vector<Overdue> failed;
  const std::string message = TimeoutMessage();
  for (auto& [handle, entry] : overdue) {
    entry.handler->OnResponse(mcp::MakeError(entry.original_id, mcp::kRequestTimeout, message));
    failed.push_back(Overdue{handle, entry.wire_id});
  }
  return failed;
}

void Correlator::SetUnsolicitedHandler(std::function<void(const Json&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  unsolicited_ = std::move(handler);
}

size_t Correlator::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace holdgate::upstream
