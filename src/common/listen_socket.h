#pragma once
// Tuning for listening sockets that httplib 0.11.4 creates with a compiled-in backlog of 5: a
// burst of connections (hundreds of agents connecting at once) would otherwise see resets. Plain POSIX on a
// socket fd; call after bind/listen, from the thread that owns the listener.
namespace holdgate {

// Re-listens with a larger backlog (Linux updates the backlog of a listening socket) and, when
// `defer_accept` is set, makes accept() return only once request bytes have arrived.
void TuneListenSocket(int fd, int backlog = 4096, bool defer_accept = true);

}  // namespace holdgate
