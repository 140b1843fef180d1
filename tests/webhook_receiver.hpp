// Test support: a webhook receiver on 127.0.0.1 that records every request
// (headers with lower-case names, raw body, arrival time) and answers as the
// test's policy says: a status, an optional delay, extra headers and a body,
// chosen by request index or by the request itself. HTTP/1.1 keep-alive, one
// thread per connection.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ap::test {

struct ReceivedRequest {
  std::map<std::string, std::string> headers;  // Lower-case names.
  std::string body;
  std::chrono::steady_clock::time_point at;
};

struct ReceiverAnswer {
  int status = 200;
  int delay_ms = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  // What the answer carries, e.g. a voice agent's reply. An empty body is sent
  // without a Content-Type, so that nothing invites the server to read it.
  std::string body;
  std::string content_type = "application/json";
  // When set, the body is sent in these pieces instead, each after its delay
  // (ms), with no length: the connection closes after the last piece, as a
  // streaming endpoint's answer ends.
  std::vector<std::pair<int, std::string>> pieces;
};

class WebhookReceiver {
 public:
  // `policy(i)` answers the i-th request (0-based); 200 at once by default.
  // Listens on `port`, or on any free port when 0.
  explicit WebhookReceiver(std::function<ReceiverAnswer(int)> policy = nullptr, int port = 0)
      : WebhookReceiver(by_index(std::move(policy)), port, Tag{}) {}

  // `policy(request)` answers each request by what it holds, for senders whose
  // requests do not arrive in a fixed order (a voice turn and an event that
  // is delivered in the background, say).
  explicit WebhookReceiver(std::function<ReceiverAnswer(const ReceivedRequest&)> policy,
                           int port = 0)
      : WebhookReceiver(by_request(std::move(policy)), port, Tag{}) {}

  ~WebhookReceiver() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    accept_thread_.join();
    for (std::thread& t : workers_) t.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Waits until at least `count` requests arrived or `timeout_ms` passed;
  // returns a copy of all received so far.
  std::vector<ReceivedRequest> wait_for(std::size_t count, int timeout_ms = 10'000) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                 [&] { return received_.size() >= count; });
    return received_;
  }

  std::vector<ReceivedRequest> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  using Policy = std::function<ReceiverAnswer(int, const ReceivedRequest&)>;
  struct Tag {};  // Keeps the constructor below out of the public overloads.

  static Policy by_index(std::function<ReceiverAnswer(int)> policy) {
    if (!policy) return nullptr;
    return
        [policy = std::move(policy)](int index, const ReceivedRequest&) { return policy(index); };
  }

  static Policy by_request(std::function<ReceiverAnswer(const ReceivedRequest&)> policy) {
    if (!policy) return nullptr;
    return [policy = std::move(policy)](int, const ReceivedRequest& request) {
      return policy(request);
    };
  }

  WebhookReceiver(Policy policy, int port, Tag) : policy_(std::move(policy)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  void accept_loop() {
    for (;;) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      connections_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char chunk[65536];
    for (;;) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return close_fd(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      ReceivedRequest request;
      const std::string head = buffer.substr(0, end);
      std::size_t pos = head.find("\r\n") + 2;  // Past the request line.
      while (pos < head.size()) {
        std::size_t next = head.find("\r\n", pos);
        if (next == std::string::npos) next = head.size();
        const std::string line = head.substr(pos, next - pos);
        const std::size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          std::transform(name.begin(), name.end(), name.begin(), ::tolower);
          std::size_t value_start = line.find_first_not_of(' ', colon + 1);
          request.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
        }
        pos = next + 2;
      }
      const std::size_t length = request.headers.count("content-length")
                                     ? std::stoul(request.headers["content-length"])
                                     : 0;
      while (buffer.size() < end + 4 + length) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return close_fd(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      request.body = buffer.substr(end + 4, length);
      buffer.erase(0, end + 4 + length);
      request.at = std::chrono::steady_clock::now();
      int index;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = static_cast<int>(received_.size());
        received_.push_back(request);
      }
      cv_.notify_all();
      const ReceiverAnswer answer = policy_ ? policy_(index, request) : ReceiverAnswer{};
      if (answer.delay_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
      }
      std::string response = "HTTP/1.1 " + std::to_string(answer.status) + " X\r\n";
      for (const auto& [name, value] : answer.headers) response += name + ": " + value + "\r\n";
      if (!answer.pieces.empty()) {
        response += "Content-Type: " + answer.content_type + "\r\nConnection: close\r\n\r\n";
        bool sent = ::send(fd, response.data(), response.size(), MSG_NOSIGNAL) >= 0;
        for (const auto& [delay_ms, piece] : answer.pieces) {
          if (!sent) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
          sent = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) >= 0;
        }
        return close_fd(fd);
      }
      if (!answer.body.empty()) response += "Content-Type: " + answer.content_type + "\r\n";
      response += "Content-Length: " + std::to_string(answer.body.size()) + "\r\n\r\n";
      response += answer.body;
      if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) return close_fd(fd);
    }
  }

  void close_fd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(std::remove(connections_.begin(), connections_.end(), fd),
                       connections_.end());
    ::close(fd);
  }

  Policy policy_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<int> connections_;
  std::vector<std::thread> workers_;
  std::vector<ReceivedRequest> received_;
};

}  // namespace ap::test
