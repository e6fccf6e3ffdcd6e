#include "cli/review_client.h"

#include <httplib.h>

#include <cctype>

namespace holdgate::cli {
namespace {

httplib::Headers Headers(const std::string& token) {
  httplib::Headers h{{"X-Holdgate-Client", "cli"}, {"Accept", "application/json"}};
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return h;
}

// The review API returns an agent's arguments (accepted on /mcp up to 64 levels deep) nested a few
// levels inside its answers; a 64 limit here made `holdgate list` fail on such an approval (found by
// tests/integration/attacks_test.cpp). The parser is iterative: this only bounds memory.
constexpr int kApiMaxDepth = 512;

ApiReply FromResult(const httplib::Result& r) {
  ApiReply out;
  if (!r) {
    out.error = httplib::to_string(r.error());
    return out;
  }
  out.status = r->status;
  out.raw = r->body;
  auto parsed = ParseJson(r->body, kApiMaxDepth);
  if (parsed.ok()) out.body = std::move(*parsed);
  return out;
}

}  // namespace

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int ExitCodeFor(const ApiReply& reply) {
  if (reply.ok()) return kExitOk;
  switch (reply.status) {
    case 0: return kExitError;
    case 400:
    case 413:
    case 414: return kExitUsage;
    case 401:
    case 403: return kExitAuth;
    case 404: return kExitNotFound;
    case 409: return kExitConflict;
    default: return kExitError;
  }
}

std::string DescribeFailure(const ApiReply& reply) {
  if (reply.status == 0) return "cannot reach the review API: " + reply.error;
  std::string text = "HTTP " + std::to_string(reply.status);
  if (reply.body.is_object()) {
    if (reply.body.contains("error") && reply.body["error"].is_string()) {
      text += " " + reply.body["error"].get<std::string>();
    }
    if (reply.body.contains("message") && reply.body["message"].is_string()) {
      text += ": " + reply.body["message"].get<std::string>();
    }
  } else if (!reply.raw.empty()) {
    text += ": " + reply.raw.substr(0, 200);
  }
  if (reply.status == 401) text += " (set --token or HOLDGATE_TOKEN; `holdgate token` mints one)";
  return text;
}

Result<std::unique_ptr<ReviewClient>> ReviewClient::Create(const std::string& url, const std::string& token) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return InvalidArgument("--url must look like http://HOST:PORT, got " + url);
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return InvalidArgument("--url must use http or https");
  size_t path_at = url.find('/', scheme_end + 3);
  std::string origin = url.substr(0, path_at);
  std::string prefix = path_at == std::string::npos ? "" : url.substr(path_at);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (origin.size() <= scheme_end + 3) return InvalidArgument("--url has no host: " + url);
  std::unique_ptr<httplib::Client> client;
  try {
    client = std::make_unique<httplib::Client>(origin);  // scheme://host[:port] only: a full URL silently fails
  } catch (const std::exception& e) {
    return InvalidArgument("bad --url " + url + ": " + e.what());
  }
  if (!client->is_valid()) return InvalidArgument("bad --url " + url);
  client->set_connection_timeout(std::chrono::seconds(10));
  client->set_read_timeout(std::chrono::seconds(60));
  client->set_write_timeout(std::chrono::seconds(30));
  return std::unique_ptr<ReviewClient>(new ReviewClient(url, prefix, token, std::move(client)));
}

ReviewClient::ReviewClient(std::string url, std::string prefix, std::string token,
                           std::unique_ptr<httplib::Client> client)
    : url_(std::move(url)), prefix_(std::move(prefix)), token_(std::move(token)), client_(std::move(client)) {}

ReviewClient::~ReviewClient() = default;

std::string ReviewClient::Target(const std::string& path, const std::multimap<std::string, std::string>& params) const {
  std::string t = prefix_ + path;
  char sep = '?';
  for (const auto& [k, v] : params) {
    t += sep + UrlEncode(k) + "=" + UrlEncode(v);
    sep = '&';
  }
  return t;
}

ApiReply ReviewClient::Get(const std::string& path, const std::multimap<std::string, std::string>& params) {
  return FromResult(client_->Get(Target(path, params), Headers(token_)));
}

ApiReply ReviewClient::Post(const std::string& path, const Json& body) {
  return FromResult(client_->Post(Target(path, {}), Headers(token_), DumpJson(body), "application/json"));
}

ApiReply ReviewClient::Stream(const std::string& path, const std::multimap<std::string, std::string>& params,
                              const std::multimap<std::string, std::string>& headers,
                              const std::function<bool(std::string_view)>& on_data) {
  httplib::Headers h = Headers(token_);
  for (const auto& [k, v] : headers) h.emplace(k, v);
  int status = 0;
  std::string error_body;
  auto r = client_->Get(
      Target(path, params), h,
      [&](const httplib::Response& res) {
        status = res.status;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status < 200 || status >= 300) {
          if (error_body.size() < 65536) error_body.append(data, n);
          return true;
        }
        return on_data(std::string_view(data, n));
      });
  ApiReply out;
  out.status = status;
  if (status == 0) {
    out.error = r ? "no response" : httplib::to_string(r.error());
    return out;
  }
  if (!r && r.error() != httplib::Error::Canceled && status >= 200 && status < 300) {
    out.error = httplib::to_string(r.error());  // the stream broke; the caller may resume
  }
  out.raw = error_body;
  auto parsed = ParseJson(error_body);
  if (parsed.ok()) out.body = std::move(*parsed);
  return out;
}

}  // namespace holdgate::cli
