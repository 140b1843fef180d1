// The SMTP mail port against a local SMTP sink started by the test: the
// sign-up code travels by SMTP and verifies; a relay that refuses the
// recipient costs the mail, not the sign-up.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/api_fixture.hpp"

namespace ap::test {
namespace {

using namespace std::chrono_literals;

// A minimal SMTP server on 127.0.0.1: it speaks just enough of RFC 5321 for
// one client at a time, keeps every message's DATA, and refuses recipients
// whose address contains "reject".
class SmtpSink {
 public:
  SmtpSink() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 8);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~SmtpSink() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    thread_.join();
  }

  int port() const { return port_; }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  int refused() const { return refused_.load(); }

 private:
  void serve() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      talk(fd);
      ::close(fd);
    }
  }

  void say(int fd, const std::string& text) { ::send(fd, text.data(), text.size(), MSG_NOSIGNAL); }

  // Reads up to and including the next CRLF; "" when the client is gone.
  std::string line(int fd, std::string& pending) {
    for (;;) {
      const std::size_t end = pending.find("\r\n");
      if (end != std::string::npos) {
        std::string out = pending.substr(0, end + 2);
        pending.erase(0, end + 2);
        return out;
      }
      char chunk[1024];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return "";
      pending.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void talk(int fd) {
    std::string pending;
    say(fd, "220 sink ESMTP\r\n");
    for (std::string command = line(fd, pending); !command.empty(); command = line(fd, pending)) {
      if (command.rfind("EHLO", 0) == 0) {
        say(fd, "250-sink\r\n250 8BITMIME\r\n");
      } else if (command.rfind("RCPT", 0) == 0 && command.find("reject") != std::string::npos) {
        ++refused_;
        say(fd, "550 no such user\r\n");
      } else if (command.rfind("DATA", 0) == 0) {
        say(fd, "354 go ahead\r\n");
        std::string data;
        for (std::string l = line(fd, pending); !l.empty() && l != ".\r\n"; l = line(fd, pending)) {
          data += l;
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(data);
        }
        say(fd, "250 queued\r\n");
      } else if (command.rfind("QUIT", 0) == 0) {
        say(fd, "221 bye\r\n");
        return;
      } else {
        say(fd, "250 OK\r\n");
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::vector<std::string> messages_;
  std::thread thread_;
};

class SmtpTest : public ApiTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--smtp-url", "smtp://127.0.0.1:" + std::to_string(sink_.port()), "--smtp-from",
            "signup@example.org"};
  }

  HttpResult post(const std::string& target, const std::string& body) {
    HttpClient client(server_->port());
    return client.request("POST", target, body);
  }

  SmtpSink sink_;
};

TEST_F(SmtpTest, TheCodeTravelsBySmtpAndVerifies) {
  const HttpResult started =
      post("/v0/agent/sign-up", R"({"human_email":"dana@example.com","agent_name":"Dee"})");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string id(json::parse(started.body).at("verification_id").as_string());
  std::vector<std::string> mail;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       mail.empty() && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    mail = sink_.messages();
  }
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_NE(mail[0].find("To: <dana@example.com>\r\n"), std::string::npos) << mail[0];
  EXPECT_NE(mail[0].find("From: AgentPhone <signup@example.org>\r\n"), std::string::npos);
  std::smatch code;
  ASSERT_TRUE(std::regex_search(mail[0], code, std::regex("code is ([0-9]{6})"))) << mail[0];
  const HttpResult verified =
      post("/v0/agent/verify",
           R"({"verification_id":")" + id + R"(","otp_code":")" + code[1].str() + "\"}");
  EXPECT_EQ(verified.status, 200) << verified.body;
  EXPECT_NE(verified.body.find("sk_live_"), std::string::npos);
}

TEST_F(SmtpTest, ARefusedRecipientCostsTheMailNotTheSignUp) {
  const HttpResult started = post("/v0/agent/sign-up", R"({"human_email":"reject@example.com"})");
  EXPECT_EQ(started.status, 200) << started.body;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       sink_.refused() == 0 && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
  }
  EXPECT_EQ(sink_.refused(), 1);
  EXPECT_TRUE(sink_.messages().empty());
}

}  // namespace
}  // namespace ap::test
