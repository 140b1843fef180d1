// Test support: runs the real `agentphone` binary as a child process on a
// free loopback port, and a minimal blocking HTTP/1.1 client to talk to it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ap::test {

struct HttpResult {
  int status = 0;
  std::string headers;  // Raw header block, lower-cased names not guaranteed.
  std::string body;
};

// One keep-alive connection to 127.0.0.1:port.
class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port) {}
  ~HttpClient() { disconnect(); }

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) raw += name + ": " + value + "\r\n";
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
      raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    raw += "\r\n" + body;
    return send_raw(raw);
  }

  // Sends bytes as they are and reads one response.
  HttpResult send_raw(const std::string& raw) {
    if (fd_ < 0) connect_now();
    std::size_t sent = 0;
    while (sent < raw.size()) {
      const ssize_t n = ::send(fd_, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // The server may close early (e.g. 413); still read its answer.
      sent += static_cast<std::size_t>(n);
    }
    return read_response();
  }

  void disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

 private:
  void connect_now() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  bool fill() {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  HttpResult read_response() {
    HttpResult result;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        disconnect();
        return result;  // status 0: connection closed without a response.
      }
    }
    result.headers = buffer_.substr(0, end);
    result.status = std::stoi(result.headers.substr(9, 3));
    std::size_t length = 0;
    std::string lower = result.headers;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = lower.find("content-length:");
    if (at != std::string::npos) length = std::stoul(lower.substr(at + 15));
    while (buffer_.size() < end + 4 + length) {
      if (!fill()) break;
    }
    result.body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    if (lower.find("connection: close") != std::string::npos) disconnect();
    return result;
  }

  int port_;
  int fd_ = -1;
  std::string buffer_;
};

// Starts `binary serve` with a data folder and port 0; stops it on destruction.
class ServerProcess {
 public:
  ServerProcess(std::string binary, std::string data_dir, std::vector<std::string> extra = {})
      : binary_(std::move(binary)), data_dir_(std::move(data_dir)), extra_(std::move(extra)) {
    start();
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void start() {
    const std::string port_file = data_dir_ + ".port";
    ::unlink(port_file.c_str());
    std::vector<std::string> args = {binary_,  "serve", "--data-dir",  data_dir_,
                                     "--port", "0",     "--port-file", port_file};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(binary_.c_str(), argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      std::ifstream in(port_file);
      if (in >> port_) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("server exited during start-up");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("server did not report its port");
  }

  // Sends `signal` and waits for the exit; returns the wait status.
  int stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  void restart() {
    stop(SIGTERM);
    start();
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  std::string binary_;
  std::string data_dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace ap::test
