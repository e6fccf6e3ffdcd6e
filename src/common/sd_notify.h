#pragma once
// systemd's readiness protocol for Type=notify services, without libsystemd: a service sends
// newline-separated "KEY=VALUE" assignments as one datagram to the AF_UNIX socket named in
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). holdgate sends READY=1 once
// both listeners are bound, RELOADING=1 + MONOTONIC_USEC=… before a reload and READY=1 after it,
// STOPPING=1 when it starts draining, and STATUS=… text for `systemctl status`.
//
// Thread-safe; never blocks (MSG_DONTWAIT). Without $NOTIFY_SOCKET it does nothing.
#include <string_view>

namespace holdgate::sdnotify {

// Sends `state` (e.g. "READY=1\nSTATUS=serving"). Returns true when a datagram was sent,
// false when $NOTIFY_SOCKET is unset or the send failed (the service runs on either way).
bool Notify(std::string_view state);

// "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC now>" (systemd ≥ 253 requires the timestamp).
bool NotifyReloading();

}  // namespace holdgate::sdnotify
