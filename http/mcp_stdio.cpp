// `agentphone mcp --stdio`: MCP over stdin/stdout for clients that start a
// process (Claude Code, Cursor), as `npx agentphone-mcp` does. Each line read
// is one JSON-RPC message or batch, posted to a server's /mcp with the key
// from AGENTPHONE_API_KEY; each answer is written as one line. The server
// accepts requests without a session id, so the relay keeps no state. With a
// data folder, the server is this binary's own `serve` on that folder, on a
// loopback port, for as long as stdin stays open.
#include <boost/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

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

// Starts `agentphone serve` on `data_dir` (loopback, a free port) with its
// output on stderr, so that stdout carries only MCP. Sets *url and returns
// the child's pid, or -1 with the reason printed.
pid_t start_local_server(const std::string& data_dir, std::string* url) {
  const std::string port_file = data_dir + "/.mcp-stdio-port";
  std::error_code ec;
  std::filesystem::remove(port_file, ec);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("agentphone mcp: fork");
    return -1;
  }
  if (pid == 0) {
    ::dup2(2, 1);
    ::execl("/proc/self/exe", "agentphone", "serve", "--data-dir", data_dir.c_str(), "--address",
            "127.0.0.1", "--port", "0", "--port-file", port_file.c_str(),
            static_cast<char*>(nullptr));
    std::perror("agentphone mcp: exec");
    ::_exit(127);
  }
  // A bounded wait for the server to say its port.
  for (int i = 0; i < 300; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      *url = "http://127.0.0.1:" + std::to_string(port);
      return pid;
    }
    if (::waitpid(pid, nullptr, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "agentphone mcp: the server on %s did not start\n", data_dir.c_str());
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

}  // namespace

int run_mcp_stdio_local(const std::string& data_dir, const std::string& key) {
  if (key.empty()) return run_mcp_stdio("", key);  // Says what is missing.
  std::string url;
  const pid_t server = start_local_server(data_dir, &url);
  if (server < 0) return 1;
  const int status = run_mcp_stdio(url, key);
  // stdin closed: the client is gone; the server stops as on SIGTERM.
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  return status;
}

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
