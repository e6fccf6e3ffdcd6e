#include "notify/http_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>

namespace holdgate::notify {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void SetTimeout(int64_t ms, const std::function<void(time_t, time_t)>& set) {
  ms = std::max<int64_t>(ms, 1);
  set(static_cast<time_t>(ms / 1000), static_cast<time_t>((ms % 1000) * 1000));
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace

std::string ParsedUrl::Origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ParsedUrl> SplitUrl(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("URL contains spaces or control characters");
    }
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return InvalidArgument("URL must start with http:// or https://");
  ParsedUrl out;
  out.scheme = Lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    return InvalidArgument("URL scheme must be http or https, got " + out.scheme);
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) return InvalidArgument("URL must not contain a fragment");
  const size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("URL must not contain user information");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("URL has an unterminated IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgument("URL has garbage after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return InvalidArgument("URL has an empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      out.host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return InvalidArgument("URL has an empty port");
    } else {
      out.host = std::string(authority);
    }
    if (out.host.find(':') != std::string::npos) return InvalidArgument("URL has a malformed host");
  }
  if (out.host.empty()) return InvalidArgument("URL has no host");
  out.host = Lower(out.host);
  if (!port_text.empty()) {
    if (!AllDigits(port_text) || port_text.size() > 5) return InvalidArgument("URL has a bad port");
    out.port = std::stoi(std::string(port_text));
    if (out.port < 1 || out.port > 65535) return InvalidArgument("URL port out of range");
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  out.path = path.empty() ? "/" : std::string(path);
  if (out.path.front() == '?') out.path = "/" + out.path;
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  const std::string h = Lower(host);
  if (h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1") return true;
  // 127.0.0.0/8 in dotted-quad form.
  if (h.rfind("127.", 0) != 0) return false;
  int parts = 0;
  size_t start = 0;
  while (start <= h.size()) {
    size_t dot = h.find('.', start);
    std::string_view part(h.data() + start, (dot == std::string::npos ? h.size() : dot) - start);
    if (!AllDigits(part) || part.size() > 3 || std::stoi(std::string(part)) > 255) return false;
    ++parts;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

std::string HttpOutcome::Summary() const {
  if (status == 0) return "error: " + (error.empty() ? std::string("no response") : error);
  std::string s = std::to_string(status);
  const char* phrase = ReasonPhrase(status);
  if (*phrase) s += std::string(" ") + phrase;
  if (!error.empty()) s += " (" + error + ")";
  return s;
}

HttpOutcome PostHttp(const HttpPost& post) {
  HttpOutcome out;
  auto url = SplitUrl(post.url);
  if (!url.ok()) {
    out.error = "bad url: " + url.status().message();
    return out;
  }
  if (url->scheme == "http" && !post.allow_http && !IsLoopbackHost(url->host)) {
    out.error = "plain http is allowed for loopback hosts only";
    return out;
  }
  try {
    httplib::Client cli(url->Origin());
    if (!cli.is_valid()) {
      out.error = "cannot build a client for " + url->Origin();
      return out;
    }
    SetTimeout(post.connect_timeout_ms, [&](time_t s, time_t us) { cli.set_connection_timeout(s, us); });
    SetTimeout(post.request_timeout_ms, [&](time_t s, time_t us) { cli.set_read_timeout(s, us); });
    SetTimeout(post.request_timeout_ms, [&](time_t s, time_t us) { cli.set_write_timeout(s, us); });
    cli.set_keep_alive(false);
    cli.set_follow_location(false);  // a 3xx is a failed delivery (Standard Webhooks)
    if (url->scheme == "https") {
      cli.enable_server_certificate_verification(true);
      if (!post.ca_file.empty()) cli.set_ca_cert_path(post.ca_file);
    }

    httplib::Request req;
    req.method = "POST";
    req.path = url->path;
    req.body = post.body;
    req.headers.emplace("Content-Type", post.content_type);
    req.headers.emplace("User-Agent", "holdgate-notifier/1");
    for (const auto& [k, v] : post.headers) req.headers.emplace(k, v);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(post.request_timeout_ms);
    bool cut = false;
    req.response_handler = [](const httplib::Response&) { return true; };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (out.body.size() < post.max_response_bytes) {
        out.body.append(data, std::min(len, post.max_response_bytes - out.body.size()));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        cut = true;
        return false;
      }
      return true;
    };

    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool sent = cli.send(req, res, err);
    if (!sent && !(err == httplib::Error::Canceled && cut && res.status > 0)) {
      out.status = 0;
      out.body.clear();
      if (err == httplib::Error::SSLServerVerification) {
        out.error = "ssl server verification failed (verify result " +
                    std::to_string(cli.get_openssl_verify_result()) + ")";
      } else if (err == httplib::Error::Canceled && cut) {
        out.error = "deadline exceeded";
      } else {
        out.error = Lower(httplib::to_string(err));
      }
      return out;
    }
    out.status = res.status;
    if (cut) out.error = "response cut at the deadline";
    const std::string retry_after = res.get_header_value("Retry-After");
    if (AllDigits(retry_after) && retry_after.size() < 9) out.retry_after_ms = std::stoll(retry_after) * 1000;
  } catch (const std::exception& e) {
    out.status = 0;
    out.error = std::string("client error: ") + e.what();
  }
  return out;
}

}  // namespace holdgate::notify
