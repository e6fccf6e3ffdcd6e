#include "demo/stdio_front.h"

#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>

#include "common/log.h"

namespace holdgate::demo {
namespace {

std::mutex g_stdout_mu;

void WriteLine(const Json& message) {
  std::string line = DumpJson(message);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_stdout_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

class StdioExchange final : public Exchange {
 public:
  void Notify(const Json& notification) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) WriteLine(notification);
  }
  void Finish(const Json& response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    WriteLine(response);
  }
  void Abandon() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

 private:
  std::mutex mu_;  // orders this request's notifications before its response
  bool closed_ = false;
};

}  // namespace

int RunStdio(DemoServer& server) {
  auto session = std::make_shared<Session>("stdio");
  CallContext context;
  context.transport = "stdio";
  log::Info("demo upstream serving on stdio");
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    mcp::Message message;
    mcp::RpcError err = mcp::ParseMessage(line, &message);
    if (!err.ok()) {
      log::Warn("bad message on stdin", {{"error", err.message}});
      WriteLine(mcp::MakeError(err.id, err.code, err.message));
      continue;
    }
    std::shared_ptr<Exchange> exchange;
    if (message.is_request()) exchange = std::make_shared<StdioExchange>();
    server.Dispatch(message, session, context, exchange);
  }
  log::Info("stdin closed; shutting down");
  server.EndSession(session);
  return 0;
}

}  // namespace holdgate::demo
