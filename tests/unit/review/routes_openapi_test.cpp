// Every route the reviewer listener registers is documented in schema/openapi.yaml with the same
// method, and every documented operation is a registered route (no stale documentation).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "review/routes.h"

namespace holdgate::review {
namespace {

std::string ReadOpenApi() {
  auto path = std::filesystem::path(__FILE__).parent_path() / ".." / ".." / ".." / "schema" / "openapi.yaml";
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// (METHOD path) pairs under `paths:` in the YAML: a path is a 2-space-indented key starting with
// '/', its operations 4-space-indented `get:` / `post:` / … keys.
std::set<std::string> DocumentedOperations(const std::string& yaml) {
  std::set<std::string> ops;
  std::istringstream in(yaml);
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line.rfind("paths:", 0) == 0) {
      in_paths = true;
      continue;
    }
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = false;
    if (!in_paths) continue;
    if (line.rfind("  /", 0) == 0 && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
      continue;
    }
    for (const char* m : {"get", "post", "put", "patch", "delete"}) {
      if (line == std::string("    ") + m + ":") {
        std::string upper(m);
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        ops.insert(upper + " " + path);
      }
    }
  }
  return ops;
}

}  // namespace

TEST_CASE("every registered route is in the OpenAPI document and vice versa", "[review][openapi]") {
  const std::set<std::string> documented = DocumentedOperations(ReadOpenApi());
  REQUIRE(documented.size() >= 10);
  std::set<std::string> registered;
  for (const RouteSpec& r : Routes()) {
    std::string op = std::string(r.method) + " " + std::string(r.openapi_path);
    CAPTURE(op);
    CHECK(documented.count(op) == 1);
    registered.insert(op);
  }
  // Routes other modules plug in with ReviewServer::AddPlainRoute are documented too.
  const std::set<std::string> plain = {"POST /slack/actions"};
  for (const std::string& op : documented) {
    CAPTURE(op);
    CHECK(registered.count(op) + plain.count(op) == 1);
  }
}

TEST_CASE("route table: matching and access", "[review][routes]") {
  auto id_of = [](std::string_view m, std::string_view p) {
    const RouteSpec* r = MatchRoute(m, p);
    return r == nullptr ? -1 : static_cast<int>(r->id);
  };
  CHECK(id_of("GET", "/healthz") == static_cast<int>(RouteId::kHealthz));
  CHECK(id_of("HEAD", "/healthz") == static_cast<int>(RouteId::kHealthz));
  CHECK(id_of("GET", "/api/approvals") == static_cast<int>(RouteId::kListApprovals));
  CHECK(id_of("GET", "/api/approvals/apr_0123abcd") == static_cast<int>(RouteId::kGetApproval));
  CHECK(id_of("POST", "/api/approvals/apr_0123abcd/approve") == static_cast<int>(RouteId::kApprove));
  CHECK(id_of("POST", "/api/approvals/apr_0123abcd/reject") == static_cast<int>(RouteId::kReject));
  CHECK(id_of("GET", "/api/approvals/apr_0123abcd/approve") == -1);
  CHECK(id_of("POST", "/api/approvals/a/b/approve") == -1);
  CHECK(id_of("POST", "/api/approvals/../approve") == -1);
  CHECK(id_of("GET", "/api/unknown") == -1);  // never the UI catch-all
  CHECK(id_of("GET", "/api/approvals/x/y") == -1);
  CHECK(id_of("GET", "/") == static_cast<int>(RouteId::kUiIndex));
  CHECK(id_of("GET", "/js/app.js") == static_cast<int>(RouteId::kUiFile));
  CHECK(id_of("POST", "/js/app.js") == -1);
  CHECK(id_of("POST", "/api/deliveries/12/redeliver") == static_cast<int>(RouteId::kRedeliver));
  CHECK(id_of("POST", "/api/deliveries/x/redeliver") == -1);

  for (const RouteSpec& r : Routes()) {
    CAPTURE(r.openapi_path);
    const bool api = r.openapi_path.rfind("/api/", 0) == 0;
    CHECK(api == (r.access != Access::kPublic));  // everything under /api/ needs a token
    if (r.method == "POST") CHECK((r.access == Access::kDecide || r.access == Access::kAdmin));
  }
}

}  // namespace holdgate::review
