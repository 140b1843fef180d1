// McpServer: the Model Context Protocol inside the product, over Streamable
// HTTP at /mcp (contract D.1; docs/mcp.md).
//
//   POST /mcp     JSON-RPC requests, notifications and batches. `initialize`
//                 opens a session (Mcp-Session-Id) bound to the API key that
//                 opened it; answers are application/json, or one SSE event
//                 when the client accepts only text/event-stream.
//   GET /mcp      an idle SSE stream with a keep-alive comment every 25 s.
//   DELETE /mcp   ends the session.
//
// Every tool runs the REST route it names (contract D.2) in process, through
// `dispatch`: the same router, authentication, validation, limits and
// domain commands as a client's request, with no socket and no second copy
// of any rule. A REST error becomes a tool result with isError and the
// error's message; a JSON-RPC error is kept for what is not a tool call at all.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/ports.hpp"
#include "http/server.hpp"

namespace ap::http {

class McpServer {
 public:
  // Runs one REST request in process and answers it (any thread, later).
  using Dispatch = std::function<void(Request, Reply)>;
  // The account of the API key whose SHA-256 (lowercase hex) is `key_sha256`, if any.
  using Authenticate = std::function<std::optional<std::string>(const std::string& key_sha256)>;

  McpServer(Dispatch dispatch, Authenticate authenticate, domain::Entropy& entropy,
            domain::Timers& timers);
  ~McpServer();
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  // Answers a request whose path is /mcp.
  void handle(Request request, Reply reply);

  // GET /.well-known/mcp/server-card.json (no authentication).
  static Response server_card();

  // The protocol revisions this server speaks, newest first.
  static constexpr const char* kProtocolVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// `agentphone mcp --stdio`: relays newline-delimited JSON-RPC between
// stdin/stdout and the server at `url` (http://host:port) under API key
// `key`. Returns the process exit code.
int run_mcp_stdio(const std::string& url, const std::string& key);
// The same, serving from the data folder `data_dir` itself: this binary's
// `serve` runs on it (loopback, a free port) until stdin closes. The folder
// must not be in use by another server.
int run_mcp_stdio_local(const std::string& data_dir, const std::string& key);

}  // namespace ap::http
