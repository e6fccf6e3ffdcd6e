#pragma once
// Metrics: the process-wide counters served at GET /metrics in the Prometheus text format
// (version 0.0.4). Header-only, so the gateway and the notifier can increment them without
// linking anything: `holdgate::metrics::GlobalMetrics().upstream_errors_total.Inc();`.
// Thread-safe: counters and gauges are atomics, labelled families and histograms take a mutex
// for a few nanoseconds. Nothing blocks.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace holdgate::metrics {

namespace metrics_internal {
// Prometheus label values: escape backslash, double quote and newline.
inline std::string EscapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}
inline std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}
inline void Header(std::string* out, const std::string& name, const std::string& help, const char* type) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}
}  // namespace metrics_internal

class Counter {
 public:
  Counter(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  void Inc(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }
  void Render(std::string* out) const {
    metrics_internal::Header(out, name_, help_, "counter");
    *out += name_ + " " + std::to_string(Value()) + "\n";
  }

 private:
  const std::string name_, help_;
  std::atomic<int64_t> value_{0};
};

class Gauge {
 public:
  Gauge(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }
  void Render(std::string* out) const {
    metrics_internal::Header(out, name_, help_, "gauge");
    *out += name_ + " " + std::to_string(Value()) + "\n";
  }

 private:
  const std::string name_, help_;
  std::atomic<int64_t> value_{0};
};

// A counter family with one label, e.g. holdgate_decisions_total{outcome="approved"}.
// `preset` label values are always rendered (as 0 until used) so dashboards see the series.
class LabeledCounter {
 public:
  LabeledCounter(std::string name, std::string help, std::string label, std::vector<std::string> preset = {})
      : name_(std::move(name)), help_(std::move(help)), label_(std::move(label)) {
    for (auto& v : preset) values_[v] = 0;
  }
  void Inc(const std::string& value, int64_t n = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    if (values_.size() >= kMaxSeries && values_.find(value) == values_.end()) {
      values_["other"] += n;  // bound cardinality
      return;
    }
    values_[value] += n;
  }
  int64_t Value(const std::string& value) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = values_.find(value);
    return it == values_.end() ? 0 : it->second;
  }
  void Render(std::string* out) const {
    metrics_internal::Header(out, name_, help_, "counter");
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [v, n] : values_) {
      *out += name_ + "{" + label_ + "=\"" + metrics_internal::EscapeLabel(v) + "\"} " + std::to_string(n) + "\n";
    }
  }

 private:
  static constexpr size_t kMaxSeries = 64;
  const std::string name_, help_, label_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> values_;  // guarded by mu_
};

class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing (upper bounds, without +Inf).
  Histogram(std::string name, std::string help, std::vector<double> bounds)
      : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)),
        buckets_(bounds_.size(), 0) {}
  void Observe(double v) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < bounds_.size(); ++i) {
      if (v <= bounds_[i]) ++buckets_[i];
    }
    ++count_;
    sum_ += v;
  }
  int64_t Count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  void Render(std::string* out) const {
    metrics_internal::Header(out, name_, help_, "histogram");
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < bounds_.size(); ++i) {
      *out += name_ + "_bucket{le=\"" + metrics_internal::FormatDouble(bounds_[i]) + "\"} " +
              std::to_string(buckets_[i]) + "\n";
    }
    *out += name_ + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
    *out += name_ + "_sum " + metrics_internal::FormatDouble(sum_) + "\n";
    *out += name_ + "_count " + std::to_string(count_) + "\n";
  }

 private:
  const std::string name_, help_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<int64_t> buckets_;  // cumulative; guarded by mu_
  int64_t count_ = 0;             // guarded by mu_
  double sum_ = 0;                // guarded by mu_
};

// Every metric holdgate exports. Who increments what:
//   holds_open                  hold coordinator, whenever a waiter is added or removed
//   decisions_total, decision_latency_seconds   review server (from the store's change feed)
//   calls_total                 gateway, per policy decision (allow|deny|hide|hold)
//   upstream_errors_total       gateway/upstream: transport errors and crashed children
//   upstream_requests_total, upstream_down_total   upstream/fleet (several upstreams): requests
//                               forwarded and times found down, by upstream name
//   webhook_deliveries_total    notifier, per attempt result (delivered|failed|gave_up)
//   auth_failures_total         review server, by reason (missing|invalid|expired|forbidden|origin)
struct Metrics {
  Gauge holds_open{"holdgate_holds_open", "Held tool calls currently waiting for a decision."};
  LabeledCounter decisions_total{"holdgate_decisions_total", "Approvals that reached a decision, by outcome.",
                                 "outcome", {"approved", "rejected", "expired", "cancelled"}};
  Histogram decision_latency_seconds{"holdgate_decision_latency_seconds",
                                     "Time from a held call to its decision, in seconds.",
                                     {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400}};
  LabeledCounter calls_total{"holdgate_calls_total", "Tool calls seen by the gateway, by policy decision.",
                             "decision", {"allow", "deny", "hide", "hold"}};
  Counter upstream_errors_total{"holdgate_upstream_errors_total", "Errors talking to the upstream MCP server."};
  LabeledCounter upstream_requests_total{"holdgate_upstream_requests_total",
                                         "Requests forwarded to one of several upstreams, by upstream.", "upstream"};
  LabeledCounter upstream_down_total{"holdgate_upstream_down_total",
                                     "Times one of several upstreams was found down (failed start or probe), by upstream.",
                                     "upstream"};
  LabeledCounter webhook_deliveries_total{"holdgate_webhook_deliveries_total",
                                          "Notification delivery attempts, by result.", "result",
                                          {"delivered", "failed", "gave_up"}};
  LabeledCounter auth_failures_total{"holdgate_review_auth_failures_total",
                                     "Refused reviewer API requests, by reason.", "reason",
                                     {"missing", "invalid", "expired", "forbidden", "origin"}};

  std::string RenderPrometheus() const {
    std::string out;
    holds_open.Render(&out);
    decisions_total.Render(&out);
    decision_latency_seconds.Render(&out);
    calls_total.Render(&out);
    upstream_errors_total.Render(&out);
    upstream_requests_total.Render(&out);
    upstream_down_total.Render(&out);
    webhook_deliveries_total.Render(&out);
    auth_failures_total.Render(&out);
    return out;
  }
};

// The process-wide instance (one per process even across static libraries: inline function).
inline Metrics& GlobalMetrics() {
  static Metrics metrics;
  return metrics;
}

}  // namespace holdgate::metrics
