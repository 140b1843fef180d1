// `agentphone mcp --stdio`: MCP over stdin/stdout for clients that start a
// process (Claude Code, Cursor), as `npx agentphone-mcp` does. Each line read
// is one JSON-RPC message or batch, posted to a running server's /mcp with the
// key from AGENTPHONE_API_KEY; each answer is written as one line. The server
// accepts requests without a session id, so the proxy keeps no state.
#include <boost/json.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "http/client.hpp"
#include "http/mcp.hpp"

namespace ap::http {

namespace {

// Tool calls may wait for a call to end (make_conversation_call: up to 600 s).
constexpr std::int64_t kToolTimeoutMs = 660'000;
constexpr std::size_t kMaxLineBytes = 1 << 20;

// A JSON-RPC error for each request in `line` (the server gave no answer).
std::string errors_for(const std::string& line, const std::string& why) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(line, ec);
  auto error = [&why](const boost::json::value& id) {
    return boost::json::object{{"jsonrpc", "2.0"},
                               {"error", boost::json::object{{"code", -32000}, {"message", why}}},
                               {"id", id}};
  };
  if (ec) return boost::json::serialize(error(nullptr));
  auto id_of = [](const boost::json::value& m) -> const boost::json::value* {
    const boost::json::object* o = m.if_object();
    return o != nullptr && o->contains("method") ? o->if_contains("id") : nullptr;
  };
  if (v.is_array()) {
    boost::json::array out;
    for (const boost::json::value& m : v.as_array()) {
      if (const boost::json::value* id = id_of(m)) out.push_back(error(*id));
    }
    return out.empty() ? "" : boost::json::serialize(out);
  }
  const boost::json::value* id = id_of(v);
  return id == nullptr ? "" : boost::json::serialize(error(*id));
}

}  // namespace

int run_mcp_stdio(const std::string& url, const std::string& key) {
  if (key.empty()) {
    std::fprintf(stderr, "agentphone mcp: set AGENTPHONE_API_KEY to your API key\n");
    return 2;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::string answer;
    if (line.size() > kMaxLineBytes) {
      answer = errors_for("{}", "Message larger than 1 MiB");
    } else {
      const ClientResponse r = http_request(url, "POST", "/mcp", line, kToolTimeoutMs, key);
      if (r.status == 202) continue;
      answer =
          r.status == 0
              ? errors_for(line, "Cannot reach the AgentPhone server at " + url + ": " + r.error)
              : r.body;
    }
    if (answer.empty()) continue;
    std::fwrite(answer.data(), 1, answer.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace ap::http
