#pragma once
// A reviewer for integration tests: mints HS256 tokens with the test secret and calls the review
// API over real HTTP. Blocking; one per thread.
#include <string>

#include "common/json_util.h"

namespace holdgate::testing {

inline constexpr char kTestJwtSecret[] = "test-secret-0123456789abcdef0123456789abcdef";

std::string MintToken(const std::string& sub, const std::string& role = "reviewer", int64_t ttl_s = 3600);

class ReviewClient {
 public:
  ReviewClient(int port, std::string sub, std::string role = "reviewer");
  struct Reply {
    int status = 0;
    Json body;
  };
  Reply Get(const std::string& path);
  Reply Post(const std::string& path, const Json& body);
  Reply Approve(const std::string& id, const std::string& reason = "");
  Reply Reject(const std::string& id, const std::string& reason);
  // Pending approvals (first page).
  Json Pending();
  // Waits until exactly one approval is pending and returns it (null on timeout).
  Json WaitForPending(int count = 1, int timeout_ms = 10000);

 private:
  int port_;
  std::string token_;
};

}  // namespace holdgate::testing
