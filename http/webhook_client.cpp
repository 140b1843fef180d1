#include "http/webhook_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <thread>
#include <variant>

namespace ap::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t kMaxResponseBytes = 64 * 1024;
// Idle kept-alive connections are dropped after this (receivers close theirs
// too), and never more than this many are kept in all.
constexpr auto kMaxIdle = std::chrono::seconds(30);
constexpr std::size_t kMaxIdleTotal = 256;

// One kept-alive connection: plain or TLS.
struct Connection {
  Clock::time_point idle_since;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*tls); }
};

std::string endpoint_key(const domain::WebhookUrl& url) {
  return url.scheme + "://" + url.host + ":" + url.port;
}

// Retry-After: delta seconds or an HTTP date; -1 when absent or unreadable.
std::int64_t retry_after_ms(std::string_view value) {
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), ::isdigit) && value.size() <= 9) {
    return std::stoll(std::string(value)) * 1000;
  }
  std::tm tm{};
  if (strptime(std::string(value).c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return -1;
  const std::time_t at = timegm(&tm);
  return std::max<std::int64_t>(0, (at - std::time(nullptr)) * 1000);
}

}  // namespace

struct WebhookClient::Impl {
  WebhookClientOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  ssl::context tls_context{ssl::context::tls_client};
  // Host name lookups block in getaddrinfo; they get threads of their own.
  asio::thread_pool dns_pool{4};
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  std::size_t idle_total = 0;
  std::thread thread;

  explicit Impl(WebhookClientOptions o) : options(std::move(o)) {
    tls_context.set_default_verify_paths();
    tls_context.set_verify_mode(ssl::verify_peer);
    tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
  }

  // The most recently used idle connection to `key` that is not too old.
  std::unique_ptr<Connection> take_idle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    std::unique_ptr<Connection> connection;
    while (!it->second.empty() && !connection) {
      connection = std::move(it->second.back());
      it->second.pop_back();
      --idle_total;
      if (Clock::now() - connection->idle_since > kMaxIdle) connection.reset();
    }
    if (it->second.empty()) idle.erase(it);
    return connection;
  }

  void give_back(const std::string& key, std::unique_ptr<Connection> connection) {
    if (idle_total >= kMaxIdleTotal) return;
    std::vector<std::unique_ptr<Connection>>& pool = idle[key];
    if (pool.size() >= options.max_idle_per_endpoint) return;
    connection->idle_since = Clock::now();
    pool.push_back(std::move(connection));
    ++idle_total;
  }

  // getaddrinfo, blocking, on a resolver pool thread.
  static asio::awaitable<tcp::resolver::results_type> blocking_resolve(std::string host,
                                                                       std::string port) {
    tcp::resolver resolver(co_await asio::this_coro::executor);
    co_return resolver.resolve(host, port);
  }

  // Resolves, checks every address, connects and (for https) handshakes.
  // Returns "" and sets `out`, or why it could not.
  asio::awaitable<std::string> open(const domain::WebhookUrl& url, Clock::time_point deadline,
                                    std::unique_ptr<Connection>* out) {
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    auto override_it = options.resolve_overrides.find(url.host);
    const std::string lookup =
        override_it != options.resolve_overrides.end() ? override_it->second : url.host;
    // The lookup runs on the resolver pool and races the deadline: a name
    // server that never answers costs this attempt, not everyone's.
    asio::steady_timer timer(io, deadline);
    std::variant<tcp::resolver::results_type, std::monostate> answer;
    try {
      answer = co_await (
          asio::co_spawn(dns_pool, blocking_resolve(lookup, url.port), asio::use_awaitable) ||
          timer.async_wait(asio::use_awaitable));
    } catch (const boost::system::system_error& e) {
      co_return "cannot resolve " + url.host + ": " + e.code().message();
    }
    if (answer.index() == 1) co_return "cannot resolve " + url.host + ": no answer in time";
    const tcp::resolver::results_type results = std::get<0>(answer);
    for (const auto& entry : results) {
      const std::string address = entry.endpoint().address().to_string();
      if (std::string why = domain::forbidden_address_reason(address, options.production);
          !why.empty()) {
        co_return "refused: " + url.host + " resolves to " + why;
      }
      endpoints.push_back(entry.endpoint());
    }
    if (endpoints.empty()) co_return "cannot resolve " + url.host + ": no addresses";
    auto connection = std::make_unique<Connection>();
    if (url.scheme == "https") {
      connection->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, tls_context);
    } else {
      connection->plain = std::make_unique<beast::tcp_stream>(io);
    }
    beast::tcp_stream& stream = connection->tcp();
    stream.expires_at(deadline);
    co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return "cannot connect to " + url.host + ":" + url.port + ": " + ec.message();
    if (connection->tls) {
      // SNI, and the certificate must name the host.
      if (!SSL_set_tlsext_host_name(connection->tls->native_handle(), url.host.c_str())) {
        co_return "TLS setup failed for " + url.host;
      }
      connection->tls->set_verify_callback(ssl::host_name_verification(url.host));
      co_await connection->tls->async_handshake(ssl::stream_base::client,
                                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return "TLS handshake with " + url.host + " failed: " + ec.message();
    }
    *out = std::move(connection);
    co_return "";
  }

  using Parser = beast::http::response_parser<beast::http::string_body>;

  // Writes the request and reads the final response into `parser` (made anew
  // for each interim 1xx answer, such as 100 Continue, that precedes it).
  template <class Stream>
  asio::awaitable<beast::error_code> exchange(
      Stream& stream, beast::http::request<beast::http::string_body>& request,
      std::optional<Parser>& parser, const std::function<void(std::string_view)>& on_body) {
    beast::error_code ec;
    co_await beast::http::async_write(stream, request,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    beast::flat_buffer buffer;
    constexpr int kMaxInterim = 8;
    for (int interim = 0; interim <= kMaxInterim; ++interim) {
      parser.emplace();
      parser->body_limit(kMaxResponseBytes);
      if (!on_body) {
        co_await beast::http::async_read(stream, buffer, *parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec || parser->get().result_int() / 100 != 1) break;
        continue;
      }
      co_await beast::http::async_read_header(stream, buffer, *parser,
                                              asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      if (parser->get().result_int() / 100 == 1) continue;
      // The body piece by piece: each read adds to the parser's body, and
      // what it added is handed on at once.
      const bool wanted = parser->get().result_int() / 100 == 2;
      std::size_t seen = 0;
      // Bounded: every read consumes input or fails; the body limit caps it.
      while (!parser->is_done()) {
        co_await beast::http::async_read_some(stream, buffer, *parser,
                                              asio::redirect_error(asio::use_awaitable, ec));
        if (ec == beast::http::error::need_buffer) ec = {};
        if (ec) break;
        const std::string& body = parser->get().body();
        if (wanted && body.size() > seen) on_body(std::string_view(body).substr(seen));
        seen = body.size();
      }
      break;
    }
    co_return ec;
  }

  static bool closed_while_idle(const beast::error_code& ec) {
    return ec == beast::http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated;
  }

  // One request on a kept-alive or new connection; fills `result`.
  asio::awaitable<void> attempt(const WebhookRequest& request, Clock::time_point deadline,
                                WebhookResult& result) {
    const std::string key = endpoint_key(request.url);
    beast::http::request<beast::http::string_body> message(beast::http::verb::post,
                                                           request.url.target, 11);
    const bool default_port = (request.url.scheme == "https" && request.url.port == "443") ||
                              (request.url.scheme == "http" && request.url.port == "80");
    const std::string host = request.url.host.find(':') != std::string::npos
                                 ? "[" + request.url.host + "]"
                                 : request.url.host;
    message.set(beast::http::field::host, default_port ? host : host + ":" + request.url.port);
    for (const auto& [name, value] : request.headers) message.set(name, value);
    message.keep_alive(true);
    message.body() = request.body;
    message.prepare_payload();

    std::unique_ptr<Connection> connection = take_idle(key);
    bool reused = connection != nullptr;
    for (;;) {
      if (!connection) {
        result.error = co_await open(request.url, deadline, &connection);
        if (!result.error.empty()) co_return;
      }
      connection->tcp().expires_at(deadline);
      std::optional<Parser> parser;
      const beast::error_code ec =
          connection->tls ? co_await exchange(*connection->tls, message, parser, request.on_body)
                          : co_await exchange(*connection->plain, message, parser, request.on_body);
      if (ec && reused && closed_while_idle(ec)) {
        // The endpoint closed a kept-alive connection; try once on a new one.
        connection.reset();
        reused = false;
        continue;
      }
      if (ec == beast::http::error::body_limit && parser && parser->is_header_done()) {
        // An answer too long to keep still counts by its status; the
        // connection, with the rest unread, is not reused.
        result.http_status = static_cast<int>(parser->get().result_int());
        co_return;
      }
      if (ec == beast::error::timeout) {
        result.error = "no response within " + std::to_string(request.timeout_ms / 1000) + " s";
        co_return;
      }
      if (ec) {
        result.error = "request failed: " + ec.message();
        co_return;
      }
      auto& response = parser->get();
      result.http_status = static_cast<int>(response.result_int());
      result.body = std::move(response.body());
      result.content_type = std::string(response[beast::http::field::content_type]);
      result.retry_after_ms = retry_after_ms(response[beast::http::field::retry_after]);
      if (response.keep_alive()) give_back(key, std::move(connection));
      co_return;
    }
  }

  // Runs one attempt and always reports it, even when something throws, so
  // that no caller waits forever for an answer.
  asio::awaitable<void> run(WebhookRequest request, std::function<void(WebhookResult)> done) {
    const auto started = Clock::now();
    WebhookResult result;
    try {
      co_await attempt(request, started + std::chrono::milliseconds(request.timeout_ms), result);
    } catch (const std::exception& e) {
      result = WebhookResult{};
      result.error = std::string("request failed: ") + e.what();
    }
    result.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    done(std::move(result));
  }
};

WebhookClient::WebhookClient(WebhookClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->thread = std::thread([this] {
    // A handler that throws must not take the process down, nor stop the
    // engine: report it and keep running until stop().
    for (;;) {
      try {
        impl_->io.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "agentphone: webhook engine: %s\n", e.what());
      }
    }
  });
}

WebhookClient::~WebhookClient() {
  stop();
}

void WebhookClient::stop() {
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->dns_pool.stop();
}

void WebhookClient::send(WebhookRequest request, std::function<void(WebhookResult)> done) {
  asio::co_spawn(impl_->io, impl_->run(std::move(request), std::move(done)), asio::detached);
}

void WebhookClient::defer(std::function<void()> fn) {
  asio::post(impl_->io, std::move(fn));
}

void WebhookClient::defer_after(std::int64_t delay_ms, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io, std::chrono::milliseconds(delay_ms));
  timer->async_wait([timer, fn = std::move(fn)](const beast::error_code& ec) {
    if (!ec) fn();
  });
}

}  // namespace ap::http
