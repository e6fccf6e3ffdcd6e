#pragma once
// Serves the demo upstream over stdio: newline-delimited JSON-RPC on stdin/stdout, logs on stderr.
// RunStdio() blocks until stdin reaches EOF; stdout writes are serialised by one mutex, so worker
// and job threads may answer concurrently.
#include "demo/demo_server.h"

namespace holdgate::demo {

// Returns the process exit code.
int RunStdio(DemoServer& server);

}  // namespace holdgate::demo
