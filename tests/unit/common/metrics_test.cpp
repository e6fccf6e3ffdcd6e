// The process-wide metrics and their Prometheus text rendering.
#include "common/metrics.h"

#include <catch2/catch.hpp>
#include <sstream>

namespace holdgate::metrics {

TEST_CASE("metrics render in the Prometheus text format", "[common][metrics]") {
  Metrics m;
  m.holds_open.Set(3);
  m.decisions_total.Inc("approved");
  m.decisions_total.Inc("approved");
  m.decision_latency_seconds.Observe(2.5);
  m.decision_latency_seconds.Observe(7200);
  m.webhook_deliveries_total.Inc("weird\"label\\\n");
  std::string text = m.RenderPrometheus();
  CHECK(text.find("# TYPE holdgate_holds_open gauge\nholdgate_holds_open 3\n") != std::string::npos);
  CHECK(text.find("holdgate_decisions_total{outcome=\"approved\"} 2\n") != std::string::npos);
  CHECK(text.find("holdgate_decisions_total{outcome=\"rejected\"} 0\n") != std::string::npos);
  CHECK(text.find("holdgate_decision_latency_seconds_bucket{le=\"1\"} 0\n") != std::string::npos);
  CHECK(text.find("holdgate_decision_latency_seconds_bucket{le=\"5\"} 1\n") != std::string::npos);
  CHECK(text.find("holdgate_decision_latency_seconds_bucket{le=\"14400\"} 2\n") != std::string::npos);
  CHECK(text.find("holdgate_decision_latency_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("holdgate_decision_latency_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("result=\"weird\\\"label\\\\\\n\"") != std::string::npos);
  // Every sample line belongs to a family announced by # TYPE.
  std::istringstream in(text);
  std::string line, family;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) family = line.substr(7, line.find(' ', 7) - 7);
    else if (line[0] != '#') CHECK(line.rfind(family, 0) == 0);
  }
  CHECK(&GlobalMetrics() == &GlobalMetrics());
}

}  // namespace holdgate::metrics
