#include "review/static_ui.h"

#include <algorithm>
#include <cctype>

namespace holdgate::review {

StaticUi::StaticUi(const std::vector<EmbeddedFile>& files) {
  for (const EmbeddedFile& f : files) {
    std::string path(f.path);
    files_.emplace(path, StaticFile{f.content, ContentTypeFor(path)});
  }
}

const StaticFile* StaticUi::Find(std::string_view url_path) const {
  if (url_path.empty() || url_path[0] != '/') return nullptr;
  std::string p(url_path.substr(1));
  if (p.find("..") != std::string::npos || p.find('\\') != std::string::npos ||
      p.find('\0') != std::string::npos || p.find("//") != std::string::npos) {
    return nullptr;
  }
  if (p.empty() || p.back() == '/') p += "index.html";
  auto it = files_.find(p);
  return it == files_.end() ? nullptr : &it->second;
}

std::string StaticUi::ContentTypeFor(std::string_view name) {
  size_t dot = name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : std::string(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json; charset=utf-8";
  if (ext == "webmanifest") return "application/manifest+json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "ico") return "image/x-icon";
  if (ext == "webp") return "image/webp";
  if (ext == "woff2") return "font/woff2";
  if (ext == "woff") return "font/woff";
  if (ext == "txt" || ext == "md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace holdgate::review
