#pragma once
// Helpers shared by the policy unit tests.
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "common/json_util.h"
#include "policy/policy.h"

namespace holdgate::policy::testutil {

inline std::shared_ptr<const Policy> MustParse(const std::string& text) {
  auto p = Policy::Parse(text);
  INFO(p.status().message());
  REQUIRE(p.ok());
  return *p;
}

// The error text of a policy that must be refused.
inline std::string ParseError(const std::string& text) {
  auto p = Policy::Parse(text);
  REQUIRE_FALSE(p.ok());
  return p.status().message();
}

inline Decision Eval(const Policy& p, std::string_view tool, const Json& args = Json::object(),
                     const Json* annotations = nullptr) {
  CallContext ctx;
  ctx.tool = tool;
  ctx.arguments = &args;
  ctx.principal = "alice";
  ctx.grant = "key-1";
  ctx.session = "s-1";
  ctx.annotations = annotations;
  return p.Evaluate(ctx);
}

// Repository root, derived from this file's path (tests/unit/policy/test_util.h).
inline std::string RepoRoot() {
  std::string f = __FILE__;
  for (int i = 0; i < 4; ++i) f = f.substr(0, f.find_last_of('/'));
  return f;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace holdgate::policy::testutil
