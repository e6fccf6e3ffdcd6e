#pragma once
// Fresh PostgreSQL databases for tests, on the throwaway server scripts/test.sh starts
// (scripts/pg_throwaway.sh). HOLDGATE_TEST_PG_URL names it; a test that needs it and finds it
// unset FAILS (it never passes by skipping). Header-only; uses libpqxx like the store does.
// Not thread-safe per object; Catch assertions only on the test's main thread.
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <cstdlib>
#include <random>
#include <string>

namespace holdgate::testing {

// The test server's URL, or "" (and a failed test) when HOLDGATE_TEST_PG_URL is not set.
inline std::string PgTestServerUrl() {
  const char* url = std::getenv("HOLDGATE_TEST_PG_URL");
  if (url == nullptr || *url == '\0') {
    FAIL("HOLDGATE_TEST_PG_URL is not set: this test runs against PostgreSQL. scripts/test.sh starts a "
         "throwaway server (scripts/pg_throwaway.sh start) and exports it");
    return "";
  }
  return url;
}

// `url` with its database name replaced by `db`.
inline std::string PgUrlWithDatabase(const std::string& url, const std::string& db) {
  const size_t scheme = url.find("://");
  const size_t query = url.find('?');
  const std::string base = url.substr(0, query);
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  const size_t slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return (slash == std::string::npos ? base : base.substr(0, slash)) + "/" + db + rest;
}

// A database created for one test and dropped (with whatever still connects to it) afterwards.
class PgTestDatabase {
 public:
  PgTestDatabase() {
    server_ = PgTestServerUrl();
    std::random_device rd;
    std::mt19937_64 gen(rd());
    char name[32];
    std::snprintf(name, sizeof(name), "hg_t_%016llx", static_cast<unsigned long long>(gen()));
    name_ = name;
    pqxx::connection c(server_);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + name_);
    url_ = PgUrlWithDatabase(server_, name_);
  }
  ~PgTestDatabase() {
    try {
      pqxx::connection c(server_);
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
    }
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;
  const std::string& url() const { return url_; }
  // Runs one statement on the database (as the superuser: tests use it to tamper).
  void Exec(const std::string& sql) const {
    pqxx::connection c(url_);
    pqxx::nontransaction n(c);
    n.exec(sql);
  }

 private:
  std::string server_, name_, url_;
};

// Which store the parametrised store suites run against: HOLDGATE_STORE_BACKEND=pg selects
// PostgreSQL (ctest registers the [pg]-tagged store tests a second time with it); else SQLite.
inline bool PgBackendSelected() {
  const char* b = std::getenv("HOLDGATE_STORE_BACKEND");
  return b != nullptr && std::string(b) == "pg";
}

}  // namespace holdgate::testing
