#pragma once
// Bench harness: what the benchmark prints and writes: aligned Markdown tables (pasteable into the
// README) and small SVG line charts, one panel per figure, with no dependency beyond the STL.
// Pure functions and value types; thread-compatible.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace holdgate::bench {

inline std::string Fmt(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// 3 significant digits, no exponent: 0.0412, 1.23, 45.6, 12345.
inline std::string Sig(double v) {
  if (std::isnan(v)) return "n/a";
  double a = std::fabs(v);
  int decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4;
  return Fmt(v, decimals);
}

// Display width of UTF-8 text (code points; every one here is one column wide).
inline size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Row(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    rows_.push_back(std::move(cells));
  }
  bool empty() const { return rows_.empty(); }

  std::string Markdown() const {
    std::vector<size_t> width(headers_.size());
    for (size_t i = 0; i < headers_.size(); ++i) width[i] = DisplayWidth(headers_[i]);
    for (const auto& r : rows_) {
      for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], DisplayWidth(r[i]));
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s = "|";
      for (size_t i = 0; i < cells.size(); ++i) {
        s += ' ';
        s += cells[i];
        s += std::string(width[i] - DisplayWidth(cells[i]), ' ');
        s += " |";
      }
      return s + "\n";
    };
    std::string out = line(headers_);
    std::string sep = "|";
    for (size_t w : width) sep += std::string(w + 2, '-') + "|";
    out += sep + "\n";
    for (const auto& r : rows_) out += line(r);
    return out;
  }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = true;
  std::vector<Series> series;
  double target = std::nan("");  // optional horizontal target line
};

namespace svg_detail {

inline std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

inline double NiceStep(double range) {
  if (range <= 0) return 1;
  double raw = range / 5;
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double norm = raw / mag;
  double nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
  return nice * mag;
}

inline std::string Num(double v) {
  char buf[32];
  if (std::fabs(v) >= 1000 && std::fmod(v, 1000) == 0) std::snprintf(buf, sizeof(buf), "%gk", v / 1000);
  else std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace svg_detail

// Renders the charts as panels of one SVG document, `columns` panels per row.
inline std::string RenderSvg(const std::vector<Chart>& charts, int columns, const std::string& caption) {
  using namespace svg_detail;
  const int pw = 460, ph = 300, ml = 64, mr = 16, mt = 34, mb = 46;
  const int rows = static_cast<int>((charts.size() + columns - 1) / columns);
  const int width = pw * columns, height = ph * rows + 28;
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"8\" y=\"" + std::to_string(height - 10) + "\" fill=\"#555\">" + Escape(caption) + "</text>\n";
  for (size_t k = 0; k < charts.size(); ++k) {
    const Chart& c = charts[k];
    const int ox = static_cast<int>(k % columns) * pw, oy = static_cast<int>(k / columns) * ph;
    const int x0 = ox + ml, x1 = ox + pw - mr, y0 = oy + ph - mb, y1 = oy + mt;
    double xmin = INFINITY, xmax = -INFINITY, ymax = 0;
    for (const auto& se : c.series) {
      for (auto [x, y] : se.points) {
        xmin = std::min(xmin, x);
        xmax = std::max(xmax, x);
        ymax = std::max(ymax, y);
      }
    }
    if (!std::isnan(c.target)) ymax = std::max(ymax, c.target);
    if (!std::isfinite(xmin)) xmin = 1, xmax = 10;
    if (c.log_x) {
      xmin = std::pow(10, std::floor(std::log10(std::max(xmin, 1e-9))));
      xmax = std::pow(10, std::ceil(std::log10(std::max(xmax, xmin * 10))));
    } else if (xmax <= xmin) {
      xmax = xmin + 1;
    }
    double ystep = NiceStep(ymax > 0 ? ymax : 1);
    double ytop = std::ceil((ymax > 0 ? ymax : 1) / ystep) * ystep;
    auto px = [&](double x) {
      double f = c.log_x ? (std::log10(x) - std::log10(xmin)) / (std::log10(xmax) - std::log10(xmin))
                         : (x - xmin) / (xmax - xmin);
      return x0 + f * (x1 - x0);
    };
    auto py = [&](double y) { return y0 - (y / ytop) * (y0 - y1); };
    char buf[256];
    s += "<text x=\"" + std::to_string(ox + pw / 2) + "\" y=\"" + std::to_string(oy + 18) +
         "\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">" + Escape(c.title) + "</text>\n";
    std::snprintf(buf, sizeof(buf), "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
                  x0, y1, x1 - x0, y0 - y1);
    s += buf;
    for (double y = 0; y <= ytop + ystep / 2; y += ystep) {
      std::snprintf(buf, sizeof(buf),
                    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                    x0, x1, py(y), py(y), x0 - 4, py(y) + 4, Num(y).c_str());
      s += buf;
    }
    if (c.log_x) {
      for (double x = xmin; x <= xmax * 1.0001; x *= 10) {
        std::snprintf(buf, sizeof(buf),
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#eee\"/>"
                      "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                      px(x), px(x), y1, y0, px(x), y0 + 14, Num(x).c_str());
        s += buf;
      }
    } else {
      double xstep = NiceStep(xmax - xmin);
      for (double x = std::ceil(xmin / xstep) * xstep; x <= xmax + xstep / 2; x += xstep) {
        std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px(x),
                      y0 + 14, Num(x).c_str());
        s += buf;
      }
    }
    s += "<text x=\"" + std::to_string((x0 + x1) / 2) + "\" y=\"" + std::to_string(y0 + 32) +
         "\" text-anchor=\"middle\">" + Escape(c.x_label) + "</text>\n";
    std::snprintf(buf, sizeof(buf), "<text transform=\"translate(%d,%d) rotate(-90)\" text-anchor=\"middle\">", ox + 14,
                  (y0 + y1) / 2);
    s += buf + Escape(c.y_label) + "</text>\n";
    if (!std::isnan(c.target)) {
      std::snprintf(buf, sizeof(buf),
                    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"5,4\"/>"
                    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#666\">target</text>\n",
                    x0, x1, py(c.target), py(c.target), x1 - 4, py(c.target) - 4);
      s += buf;
    }
    for (size_t i = 0; i < c.series.size(); ++i) {
      const Series& se = c.series[i];
      const char* color = kColors[i % 6];
      std::string pts;
      for (auto [x, y] : se.points) {
        std::snprintf(buf, sizeof(buf), "%.1f,%.1f ", px(x), py(y));
        pts += buf;
      }
      s += "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
      for (auto [x, y] : se.points) {
        std::snprintf(buf, sizeof(buf), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s: %g at %g</title></circle>\n",
                      px(x), py(y), color, Escape(se.name).c_str(), y, x);
        s += buf;
      }
      std::snprintf(buf, sizeof(buf),
                    "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
                    x0 + 8, y1 + 8 + static_cast<int>(i) * 15, color, x0 + 22, y1 + 17 + static_cast<int>(i) * 15);
      s += buf + Escape(se.name) + "</text>\n";
    }
  }
  s += "</svg>\n";
  return s;
}

}  // namespace holdgate::bench
