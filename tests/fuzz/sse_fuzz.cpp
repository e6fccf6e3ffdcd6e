// libFuzzer target: the incremental SSE parser (transport::SseParser) used on upstream replies.
// The input is fed in chunks whose sizes come from the first bytes, so events split across
// chunks (and CRLF pairs split across chunks) are explored; every parsed event is re-encoded
// and parsed again, which must give back the same data.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "transport/sse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdgate;
  if (size < 1) return 0;
  const size_t chunk_seed = data[0];
  std::string_view text = fuzz::AsView(data + 1, size - 1);

  std::vector<transport::SseEvent> events;
  transport::SseParser parser([&](const transport::SseEvent& e) { events.push_back(e); });
  size_t pos = 0, step = 0;
  while (pos < text.size()) {
    size_t n = 1 + ((chunk_seed + step * 7) % 13);
    parser.Feed(text.substr(pos, n));
    pos += n;
    ++step;
  }
  if (parser.buffered() > text.size()) abort();  // never buffers more than it was given

  // Round trip: what we encode, our parser reads back unchanged (data without CR; the encoder
  // frames lines on '\n' only, as the server side only ever sends JSON).
  for (const auto& e : events) {
    if (e.data.find('\r') != std::string::npos) continue;
    std::vector<transport::SseEvent> again;
    transport::SseParser p2([&](const transport::SseEvent& x) { again.push_back(x); });
    p2.Feed(transport::EncodeSseEvent(e.data));
    if (again.size() != 1 || again[0].data != e.data) abort();
  }
  return 0;
}
