#pragma once
// StaticUi: the approval page's files (approval-ui/, embedded at build time) by URL path, with
// their content types. Only embedded paths are served, so no request can reach the file system
// (no path traversal). Immutable after construction; thread-safe.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/embedded.h"

namespace holdgate::review {

struct StaticFile {
  std::string_view content;
  std::string content_type;
};

class StaticUi {
 public:
  explicit StaticUi(const std::vector<EmbeddedFile>& files);
  // `url_path` as requested ("/", "/app.js", "/css/site.css"). "/" and directory paths map to
  // index.html. nullptr when absent or when the path has "..", "\", NUL or "//".
  const StaticFile* Find(std::string_view url_path) const;
  size_t size() const { return files_.size(); }

  // Content-Type for a file name, by extension (application/octet-stream when unknown).
  static std::string ContentTypeFor(std::string_view name);

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
};

// The Content-Security-Policy sent with every response of the reviewer listener: scripts, styles
// and connections only from the page's own origin; no inline code, no framing.
inline constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

}  // namespace holdgate::review
