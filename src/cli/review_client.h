#pragma once
// ReviewClient: the CLI's HTTP client for the review API (--url / HOLDGATE_URL, --token /
// HOLDGATE_TOKEN), and the mapping of its answers to the exit codes scripts rely on.
// One client per thread (httplib serialises a client's requests). Every call blocks on the network.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/json_util.h"
#include "common/status.h"

namespace httplib {
class Client;
}

namespace holdgate::cli {

// Exit codes of the reviewer commands (documented in every --help).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // server or network error (or the audit chain is broken, see audit verify)
  kExitUsage = 2,        // bad flags or arguments, or the server refused the request as malformed
  kExitNotFound = 3,     // no such approval
  kExitConflict = 4,     // already decided (or you already voted the other way)
  kExitAuth = 5,         // no token, invalid or expired token, or your role may not do this
};

struct ApiReply {
  int status = 0;     // HTTP status; 0 when the request never got an answer
  Json body;          // parsed JSON body (null when not JSON)
  std::string raw;    // the body as received
  std::string error;  // transport error text when status == 0

  bool ok() const { return status >= 200 && status < 300; }
};

// Exit code for a failed reply (kExitOk for 2xx).
int ExitCodeFor(const ApiReply& reply);
// One line for stderr: "HTTP 409 already_decided: already rejected by bob …" or the transport error.
std::string DescribeFailure(const ApiReply& reply);

class ReviewClient {
 public:
  // `url` like "http://127.0.0.1:8081" or "https://review.example/holdgate" (a path prefix is kept).
  static Result<std::unique_ptr<ReviewClient>> Create(const std::string& url, const std::string& token);
  ~ReviewClient();

  ApiReply Get(const std::string& path, const std::multimap<std::string, std::string>& params = {});
  ApiReply Post(const std::string& path, const Json& body);

  // GET with the body streamed to `on_data` (return false to stop). `headers` are extra request
  // headers. The reply's raw/body hold the body only when the status is not 2xx.
  ApiReply Stream(const std::string& path, const std::multimap<std::string, std::string>& params,
                  const std::multimap<std::string, std::string>& headers,
                  const std::function<bool(std::string_view)>& on_data);

  const std::string& url() const { return url_; }

 private:
  ReviewClient(std::string url, std::string prefix, std::string token, std::unique_ptr<httplib::Client> client);
  std::string Target(const std::string& path, const std::multimap<std::string, std::string>& params) const;

  std::string url_;
  std::string prefix_;  // path prefix from the URL, without a trailing '/'
  std::string token_;
  std::unique_ptr<httplib::Client> client_;
};

// Percent-encodes a query component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace holdgate::cli
