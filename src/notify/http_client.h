#pragma once
// Outbound HTTP for notifications: URL splitting (httplib's Client takes scheme://host:port only:
// given a full URL it silently sends nothing) and one POST with bounded time. The only file pair of
// notify/ that includes httplib.
//
// Thread-safe: every call builds its own client. PostHttp blocks for at most about
// connect_timeout + request_timeout (the body read is cut at the deadline; header reads are
// bounded per read by the same timeout, as httplib 0.11.4 has no overall deadline).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace holdgate::notify {

struct ParsedUrl {
  std::string scheme;  // "http" | "https"
  std::string host;    // without brackets for IPv6
  int port = 0;        // explicit or the scheme's default
  std::string path;    // path + query, at least "/"

  // "scheme://host:port" (IPv6 in brackets): what httplib::Client accepts.
  std::string Origin() const;
};

// Splits an absolute http(s) URL. kInvalidArgument for other schemes, userinfo, an empty host, a
// bad port, fragments, spaces or control characters.
Result<ParsedUrl> SplitUrl(std::string_view url);

// localhost, 127.0.0.0/8, ::1.
bool IsLoopbackHost(std::string_view host);

struct HttpPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  std::string ca_file;        // extra trust anchor (PEM file); empty: the system store
  bool allow_http = false;    // plain http to a non-loopback host
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 15000;
  size_t max_response_bytes = 4096;  // the rest of the body is read but dropped
};

struct HttpOutcome {
  int status = 0;           // HTTP status, 0 when no response arrived
  std::string error;        // transport error ("connection refused", "ssl verification", …)
  std::string body;         // first max_response_bytes of the response
  int64_t retry_after_ms = -1;  // from a Retry-After header in seconds, else -1

  bool ok() const { return status >= 200 && status < 300; }
  // For the delivery log: "200", "503 Service Unavailable", "error: connection (…)".
  std::string Summary() const;
};

// Never throws. Certificate and host name checks are on for https; plain http is refused for
// non-loopback hosts unless allow_http.
HttpOutcome PostHttp(const HttpPost& post);

}  // namespace holdgate::notify
