#include "http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <regex>

namespace ap::http {

namespace beast = boost::beast;
namespace asio = boost::asio;

ClientResponse http_request(const std::string& base_url, const std::string& method,
                            const std::string& target, const std::string& body,
                            std::int64_t timeout_ms, const std::string& bearer_token) {
  ClientResponse out;
  static const std::regex kUrl(R"(^http://([^/:]+)(?::([0-9]{1,5}))?/?$)");
  std::smatch match;
  if (!std::regex_match(base_url, match, kUrl)) {
    out.error = "server URL must look like http://127.0.0.1:8080, not " + base_url;
    return out;
  }
  const std::string host = match[1];
  const std::string port = match[2].matched ? std::string(match[2]) : "80";
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(resolver.resolve(host, port));
    beast::http::request<beast::http::string_body> request(beast::http::string_to_verb(method),
                                                           target, 11);
    request.set(beast::http::field::host, host);
    request.set(beast::http::field::user_agent, "agentphone-cli/" AP_VERSION);
    if (!bearer_token.empty()) {
      request.set(beast::http::field::authorization, "Bearer " + bearer_token);
    }
    if (!body.empty()) {
      request.set(beast::http::field::content_type, "application/json");
      request.body() = body;
    }
    request.prepare_payload();
    beast::http::write(stream, request);
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> response;
    beast::http::read(stream, buffer, response);
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  } catch (const boost::system::system_error& e) {
    out.error = "cannot reach " + base_url + ": " + e.code().message();
  } catch (const std::exception& e) {
    out.error = "cannot reach " + base_url + ": " + e.what();
  }
  return out;
}

}  // namespace ap::http
