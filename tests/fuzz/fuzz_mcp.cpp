// Fuzzes the MCP JSON-RPC decoder (http/mcp.cpp) and the tools' argument
// checks: the input is a POST /mcp body from an authenticated client, and the
// REST router behind the tools is a stub that answers every request at once.
// Whatever the bytes, the server answers exactly once, with 200, 202 or 400;
// a 200 or 400 body is JSON, and a single answer is a JSON-RPC 2.0 object.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/mcp.hpp"

namespace {

class CountingEntropy final : public ap::domain::Entropy {
 public:
  void fill(void* out, std::size_t bytes) override {
    auto* p = static_cast<std::uint8_t*>(out);
    for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(next_++);
  }

 private:
  std::uint64_t next_ = 0;
};

class NoTimers final : public ap::domain::Timers {
 public:
  void after(std::int64_t, std::function<void()>) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static CountingEntropy entropy;
  static NoTimers timers;
  static ap::http::McpServer server(
      [](ap::http::Request request, ap::http::Reply reply) {
        ap::http::Response r;
        // Lists for GETs, an error for one route, an object otherwise.
        r.body = request.method == "GET" ? R"({"data":[],"total":0})" : R"({"id":"x"})";
        if (request.target.find("agt_404") != std::string::npos) {
          r.status = 404;
          r.body = R"({"detail":"Agent not found"})";
        }
        reply(std::move(r));
      },
      [](const std::string&) { return std::optional<std::string>("acct_fuzz"); }, entropy, timers);

  ap::http::Request request;
  request.method = "POST";
  request.target = "/mcp";
  request.headers = {{"authorization", "Bearer sk_live_fuzz"},
                     {"content-type", "application/json"},
                     {"accept", "application/json, text/event-stream"}};
  request.body.assign(reinterpret_cast<const char*>(data), size);
  int answers = 0;
  ap::http::Response answer;
  server.handle(request, [&](ap::http::Response r) {
    ++answers;
    answer = std::move(r);
  });
  if (answers != 1) __builtin_trap();
  if (answer.status != 200 && answer.status != 202 && answer.status != 400) __builtin_trap();
  if (answer.status == 202) return 0;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(answer.body, ec);
  if (ec) __builtin_trap();
  if (v.is_object() && v.as_object().at("jsonrpc") != "2.0") __builtin_trap();
  return 0;
}
