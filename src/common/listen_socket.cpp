#include "common/listen_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace holdgate {

void TuneListenSocket(int fd, int backlog, bool defer_accept) {
  if (fd < 0) return;
  ::listen(fd, backlog);
  if (defer_accept) {
    int seconds = 5;
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof(seconds));
  }
}

}  // namespace holdgate
