// SmtpMailer: the mail port over SMTP (`serve --smtp-url smtp://host:port`).
// One worker thread sends the queued mails in order, each on a connection of
// its own: EHLO, STARTTLS when the server offers it (the certificate is
// checked against the system's store and the host name), MAIL FROM, RCPT TO,
// DATA (dot-stuffed, CRLF), QUIT. Every step has a deadline. Asio stays
// behind this header.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "actors/ports.hpp"

namespace ap::http {

struct SmtpOptions {
  std::string url;  // "smtp://host:port" (port 25 when absent).
  std::string from = "no-reply@agentphone.local";
  std::int64_t timeout_ms = 15'000;
  std::size_t max_queued = 1'000;  // Mails waiting; more are refused at once.
};

class SmtpMailer final : public domain::MailPort {
 public:
  // `why` gets "" or what is wrong with the URL.
  SmtpMailer(SmtpOptions options, std::string* why);
  ~SmtpMailer() override;  // Sends nothing more; waits for the mail in progress.
  SmtpMailer(const SmtpMailer&) = delete;
  SmtpMailer& operator=(const SmtpMailer&) = delete;

  void send(const domain::Mail& mail, std::function<void(std::string error)> done) override;

 private:
  struct Job {
    domain::Mail mail;
    std::function<void(std::string)> done;
  };
  void run();
  std::string deliver(const domain::Mail& mail) const;

  SmtpOptions options_;
  std::string host_, port_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ap::http
