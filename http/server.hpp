// Server: an asynchronous HTTP/1.1 server (Boost.Beast behind this header).
//
// The server parses requests, enforces the body limit and timeouts, and hands
// each request to a Handler together with a Reply callback. The handler may
// answer from any thread, at any later time; the reply is posted back to the
// connection's strand, so no io thread ever waits for the application.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ap::http {

struct Request {
  std::string method;                                        // Upper-case verb, e.g. "GET".
  std::string target;                                        // Path and query, as sent.
  std::vector<std::pair<std::string, std::string>> headers;  // Names lower-cased.
  std::string body;
  bool from_loopback = false;  // The peer's address is 127.0.0.0/8 or ::1.
  // Set only by in-process callers that authenticated this request's API key
  // already (the MCP tools): the key's SHA-256 and its account. The server
  // never sets them from the wire.
  std::string key_sha256;
  std::string authenticated_account;
  std::string peer_address;  // The peer's IP address, as text.

  // Returns the value of header `lower_name`, or "" when absent.
  const std::string& header(std::string_view lower_name) const;
  // Returns the value of header `lower_name`, or null when absent.
  const std::string* find_header(std::string_view lower_name) const;
};

// The client end of a streamed response (server-sent events): what the
// application writes goes out in order; thread-safe.
class StreamChannel {
 public:
  virtual ~StreamChannel() = default;
  // Queues `bytes` for the client. Returns false once the client is gone,
  // after which the producer should stop.
  virtual bool write(std::string bytes) = 0;
  // Ends the response once everything queued is written, and closes the connection.
  virtual void finish() = 0;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed instead: the head goes out without a
  // length (the connection closes at the end), and `stream` is called with
  // the channel to write the body into.
  std::function<void(std::shared_ptr<StreamChannel>)> stream;
};

// Must be called exactly once per request; thread-safe.
using Reply = std::function<void(Response)>;
using Handler = std::function<void(Request, Reply)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port; see Server::port().
  int io_threads = 2;
  std::size_t body_limit_bytes = 1 << 20;
  std::int64_t read_timeout_ms = 30'000;  // Whole request, once its first byte arrived.
  std::int64_t idle_timeout_ms = 75'000;  // Keep-alive connection with no request.
  std::int64_t shutdown_grace_ms = 10'000;
  // Open connections from one address; a client over it is answered 503 and
  // closed, so that one peer cannot take every socket. 0 = no limit.
  int max_connections_per_ip = 256;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts listening and the io threads. Returns "" or an error text.
  std::string start();

  // The bound port (useful when options.port was 0).
  std::uint16_t port() const;

  // Blocks until SIGINT/SIGTERM or stop(); then stops accepting, lets in-flight
  // requests finish (bounded by shutdown_grace_ms) and joins the io threads.
  void wait();

  // Asks wait() to return; safe from any thread.
  void stop();

  // Requests currently being handled.
  std::int64_t in_flight() const;

  // Opaque state; named here so that server.cpp's connection code can use it.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Builds a Response with the contract's generic error body:
// {"detail": message, "error": {"message", "code", "type"}}.
Response error_response(int status, std::string_view message, std::string_view code,
                        std::string_view type);

}  // namespace ap::http
