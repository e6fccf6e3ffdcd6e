#include "common/trace.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace holdgate::trace {

TEST_CASE("traceparent: a valid version-00 value parses into its fields", "[trace]") {
  auto tp = Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(tp.has_value());
  CHECK(tp->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(tp->parent_id == "00f067aa0ba902b7");
  CHECK(tp->flags == "01");
  CHECK(tp->ToString() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST_CASE("traceparent: invalid values are refused", "[trace]") {
  for (const char* bad : {
           "",                                                          // empty
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // version 00 has no tail
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // separator
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // not hex
       }) {
    INFO(bad);
    CHECK_FALSE(Parse(bad).has_value());
  }
}

TEST_CASE("traceparent: a future version is read by its first four fields", "[trace]") {
  auto tp = Parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future-stuff");
  REQUIRE(tp.has_value());
  CHECK(tp->version == "00");  // forwarded as the version we speak
  CHECK(tp->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_CASE("new traces and child spans", "[trace]") {
  TraceParent a = NewTrace();
  TraceParent b = NewTrace();
  CHECK(Parse(a.ToString()).has_value());
  CHECK(a.trace_id != b.trace_id);
  TraceParent child = ChildOf(a);
  CHECK(child.trace_id == a.trace_id);
  CHECK(child.parent_id != a.parent_id);
  CHECK(child.flags == a.flags);
  CHECK(Parse(child.ToString()).has_value());
}

TEST_CASE("ids stay valid and distinct across many traces and threads", "[trace]") {
  // Enough traces to draw on the randomness many times over, on two threads at once.
  auto make = [](std::vector<TraceParent>* out) {
    for (int i = 0; i < 2000; ++i) out->push_back(i % 2 ? ChildOf(NewTrace()) : NewTrace());
  };
  std::vector<TraceParent> mine, theirs;
  std::thread other(make, &theirs);
  make(&mine);
  other.join();
  std::set<std::string> trace_ids, parent_ids;
  for (const auto* list : {&mine, &theirs}) {
    for (const TraceParent& tp : *list) {
      REQUIRE(Parse(tp.ToString()).has_value());  // 32 + 16 lower-case hex digits, not all zero
      trace_ids.insert(tp.trace_id);
      parent_ids.insert(tp.parent_id);
    }
  }
  CHECK(trace_ids.size() == 4000);
  CHECK(parent_ids.size() == 4000);
  // No id is a piece of another: trace and parent ids come from separate random digits.
  for (const TraceParent& tp : mine) CHECK(tp.trace_id.find(tp.parent_id) == std::string::npos);
}

TEST_CASE("the current trace id is per thread and scoped", "[trace]") {
  CHECK(CurrentTraceId().empty());
  {
    ScopedTrace outer("aaaa");
    CHECK(CurrentTraceId() == "aaaa");
    {
      ScopedTrace inner("bbbb");
      CHECK(CurrentTraceId() == "bbbb");
      std::string seen_elsewhere = "unset";
      std::thread([&] { seen_elsewhere = CurrentTraceId(); }).join();
      CHECK(seen_elsewhere.empty());
    }
    CHECK(CurrentTraceId() == "aaaa");
  }
  CHECK(CurrentTraceId().empty());
}

}  // namespace holdgate::trace
