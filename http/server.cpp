// The only translation unit that includes Boost.Beast and Asio for serving:
// they cost ~20 s and ~700 MB to compile, so everything else talks to the
// server through server.hpp.
#include "http/server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "eventstore/status.hpp"

namespace ap::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  asio::io_context ioc;
  // The acceptor's handlers and its close run on one strand: with several io
  // threads, an accept completing on one thread while another closes the
  // acceptor was a data race that crashed shutdown now and then.
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(ioc)};
  tcp::acceptor acceptor{accept_strand};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  std::vector<std::thread> threads;
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  std::uint16_t bound_port = 0;
  // Open connections by peer address.
  std::mutex peers_mu;
  std::unordered_map<std::string, int> peers;

  // Counts a connection from `address`; false when it is over the limit.
  bool admit(const std::string& address) {
    std::lock_guard<std::mutex> lock(peers_mu);
    int& open = peers[address];
    if (options.max_connections_per_ip > 0 && open >= options.max_connections_per_ip) {
      if (open == 0) peers.erase(address);
      return false;
    }
    ++open;
    return true;
  }
  void release(const std::string& address) {
    std::lock_guard<std::mutex> lock(peers_mu);
    auto it = peers.find(address);
    if (it != peers.end() && --it->second <= 0) peers.erase(it);
  }

  void request_stop() {
    {
      std::lock_guard<std::mutex> lock(stop_mu);
      stop_requested = true;
    }
    stop_cv.notify_all();
  }

  void do_accept();
};

namespace {

// One connection. Lifetime: every pending asynchronous operation and every
// outstanding Reply holds a shared_ptr to the session, so it lives until the
// last of them completes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `peer` is the counted address (server->admit), released when the session ends.
  Session(tcp::socket&& socket, Server::Impl* server, std::string peer)
      : stream_(std::move(socket)), server_(server), peer_(std::move(peer)) {}
  ~Session() { server_->release(peer_); }

  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    if (server_->stopping.load()) return do_close();
    parser_.emplace();
    parser_->body_limit(server_->options.body_limit_bytes);
    parser_->header_limit(16 * 1024);
    // The first request on a connection gets the read timeout; later ones on a
    // kept-alive connection get the idle timeout.
    stream_.expires_after(std::chrono::milliseconds(
        requests_ == 0 ? server_->options.read_timeout_ms : server_->options.idle_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return do_close();
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return write(error_response(413,
                                  "Request body exceeds the limit of " +
                                      std::to_string(server_->options.body_limit_bytes) + " bytes",
                                  "PAYLOAD_TOO_LARGE", "invalid_request_error"));
    }
    if (ec) {
      keep_alive_ = false;
      return write(error_response(400, "Malformed HTTP request: " + ec.message(), "BAD_REQUEST",
                                  "invalid_request_error"));
    }
    ++requests_;
    bhttp::request<bhttp::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();
    version_ = message.version();

    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.headers.reserve(8);
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(message.body());
    beast::error_code peer_error;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(peer_error);
    request.from_loopback = !peer_error && peer.address().is_loopback();
    if (!peer_error) request.peer_address = peer.address().to_string();

    // No timeout while the application works on the request; the reply
    // re-enters this strand through post().
    stream_.expires_never();
    server_->in_flight.fetch_add(1);
    auto self = shared_from_this();
    // Answered once: by the handler, or here when the handler throws (a
    // broken invariant, a bug) before answering, so that one bad request
    // costs its own answer and not every client's server.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Reply reply = [self, answered](Response response) {
      if (answered->exchange(true)) return;
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->server_->in_flight.fetch_sub(1);
        self->write(std::move(response));
      });
    };
    try {
      server_->handler(std::move(request), reply);
    } catch (const es::StorageError& e) {
      // The store failed a read (not "not found"): nothing was decided on it.
      std::fprintf(stderr, "agentphone: a request failed: %s\n", e.what());
      Response unavailable = error_response(503, e.what(), "STORAGE_UNAVAILABLE", "api_error");
      unavailable.headers.emplace_back("Retry-After", "1");
      reply(std::move(unavailable));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "agentphone: a request failed: %s\n", e.what());
      reply(error_response(500, std::string("Internal error: ") + e.what(), "INTERNAL_ERROR",
                           "api_error"));
    }
  }

  void write(Response response) {
    if (response.stream) return write_stream(std::move(response));
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_ == 0 ? 11 : version_);
    message->set(bhttp::field::server, "agentphone");
    // A 204 has no body, so it names no content type.
    if (!response.content_type.empty()) {
      message->set(bhttp::field::content_type, response.content_type);
    }
    for (auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive_ && !server_->stopping.load());
    message->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    bhttp::async_write(stream_, *message,
                       [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
                         self->on_write(ec, message->keep_alive());
                       });
  }

  // A streamed response: the head with no length, then whatever the
  // application writes, then the connection closes (HTTP/1.1 lets a body end
  // with the connection). The channel holds the session alive until it is
  // finished or the client is gone.
  class Channel final : public StreamChannel {
   public:
    explicit Channel(std::shared_ptr<Session> session) : session_(std::move(session)) {}
    bool write(std::string bytes) override {
      std::shared_ptr<Session> s = session();
      if (!s) return false;
      asio::post(s->stream_.get_executor(),
                 [s, bytes = std::move(bytes)]() mutable { s->queue_stream(std::move(bytes)); });
      return true;
    }
    void finish() override {
      std::shared_ptr<Session> s;
      {
        std::lock_guard<std::mutex> lock(mu_);
        s = std::move(session_);
      }
      if (s) asio::post(s->stream_.get_executor(), [s] { s->finish_stream(); });
    }

   private:
    std::shared_ptr<Session> session() {
      std::lock_guard<std::mutex> lock(mu_);
      if (session_ && session_->stream_gone_) session_.reset();
      return session_;
    }
    std::mutex mu_;
    std::shared_ptr<Session> session_;
  };

  void write_stream(Response response) {
    keep_alive_ = false;
    std::string head =
        "HTTP/1.1 " + std::to_string(response.status) + " " +
        std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(response.status))) +
        "\r\nServer: agentphone\r\nContent-Type: " + response.content_type +
        "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    // No timeout: an event stream may stay quiet between its heartbeats.
    stream_.expires_never();
    queue_stream(std::move(head));
    response.stream(std::make_shared<Channel>(shared_from_this()));
  }

  void queue_stream(std::string bytes) {
    if (stream_gone_) return;
    stream_queue_.push_back(std::move(bytes));
    if (stream_queue_.size() == 1) write_next_chunk();
  }

  void write_next_chunk() {
    asio::async_write(stream_, asio::buffer(stream_queue_.front()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->stream_queue_.pop_front();
                        if (ec) {
                          self->stream_gone_ = true;
                          self->stream_queue_.clear();
                          return self->do_close();
                        }
                        if (!self->stream_queue_.empty()) return self->write_next_chunk();
                        if (self->stream_finishing_) self->do_close();
                      });
  }

  void finish_stream() {
    stream_finishing_ = true;
    if (stream_queue_.empty()) do_close();
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    if (ec || !keep_alive) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  Server::Impl* server_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  // A streamed response (strand only, except stream_gone_, which the
  // channel reads to stop early).
  std::deque<std::string> stream_queue_;
  std::atomic<bool> stream_gone_{false};
  bool stream_finishing_ = false;
  std::uint64_t requests_ = 0;
};

}  // namespace

void Server::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      beast::error_code peer_error;
      const std::string peer = socket.remote_endpoint(peer_error).address().to_string();
      if (!admit(peer)) {
        // Over the limit: a short answer, written blocking (it fits any
        // socket buffer), and the connection closes.
        static const std::string kBusy = [] {
          const std::string body = error_response(503, "Too many connections from this address",
                                                  "TOO_MANY_CONNECTIONS", "rate_limit_error")
                                       .body;
          return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
        }();
        asio::write(socket, asio::buffer(kBusy), ec);
        socket.shutdown(tcp::socket::shutdown_both, ec);
      } else {
        std::make_shared<Session>(std::move(socket), this, peer)->start();
      }
    }
    do_accept();
  });
}

Server::Server(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

Server::~Server() {
  stop();
  impl_->ioc.stop();
  for (std::thread& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
}

std::string Server::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.address, ec);
  if (ec) return "invalid listen address '" + impl_->options.address + "'";
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return "cannot listen on " + impl_->options.address + ":" +
           std::to_string(impl_->options.port) + ": " + ec.message();
  }
  impl_->bound_port = impl_->acceptor.local_endpoint().port();
  impl_->signals.async_wait([this](beast::error_code error, int) {
    if (!error) impl_->request_stop();
  });
  impl_->do_accept();
  const int threads = std::max(1, impl_->options.io_threads);
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return "";
}

std::uint16_t Server::port() const {
  return impl_->bound_port;
}

std::int64_t Server::in_flight() const {
  return impl_->in_flight.load();
}

void Server::stop() {
  impl_->request_stop();
}

void Server::wait() {
  {
    std::unique_lock<std::mutex> lock(impl_->stop_mu);
    impl_->stop_cv.wait(lock, [&] { return impl_->stop_requested; });
  }
  // Stop accepting; sessions close after their current response.
  impl_->stopping.store(true);
  asio::post(impl_->accept_strand, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->signals.cancel(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(impl_->options.shutdown_grace_ms);
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Give the last responses a moment to be written before the loop stops.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  impl_->ioc.stop();
  for (std::thread& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
}

}  // namespace ap::http
