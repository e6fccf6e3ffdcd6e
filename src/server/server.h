#pragma once
// The composition root of `holdgate serve` and `holdgate stdio`: builds every module from a
// Config and wires them (store and its change feed → hold coordinator; review listener and the
// one decision service; notifier; upstream; gateway; the agents' transport), runs until
// SIGINT/SIGTERM (serve) or end of input (stdio), and stops them in order: held calls answered,
// listeners closed, upstream stopped. SIGHUP (and a change of the policy file) reloads the
// policy; a bad new policy keeps the old one.
//
// Blocks the calling thread for the life of the server. Call once per process: it sets the
// process's signal mask and may set HOLDGATE_JWT_SECRET from the generated secret file.
#include "common/config.h"

namespace holdgate::server {

// REQUIRES: exactly one of config.upstream_cmd / config.upstream_url is set. Returns the exit
// code (0 after a clean stop, 1 when start-up failed, 2 for a bad setting).
int Run(Config config, bool stdio_mode);

}  // namespace holdgate::server
