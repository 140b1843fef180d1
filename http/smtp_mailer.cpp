#include "http/smtp_mailer.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <regex>

namespace ap::http {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// One SMTP conversation on a plain or (after STARTTLS) TLS stream.
class Conversation {
 public:
  Conversation(asio::io_context& io, const std::string& host) : host_(host), socket_(io) {}

  tcp::socket& socket() { return socket_; }

  // Sends `line` + CRLF (nothing when empty) and reads the reply; returns its
  // code, or 0 with `error` set.
  int exchange(const std::string& line, std::string* reply, std::string* error) {
    boost::system::error_code ec;
    if (!line.empty()) write(line + "\r\n", ec);
    if (ec) {
      *error = "cannot send to the mail server: " + ec.message();
      return 0;
    }
    // A reply is lines "NNN-text" ending with "NNN text".
    reply->clear();
    for (;;) {
      const std::size_t n = tls_ ? asio::read_until(*tls_, buffer_, "\r\n", ec)
                                 : asio::read_until(socket_, buffer_, "\r\n", ec);
      if (ec) {
        *error = "the mail server did not answer: " + ec.message();
        return 0;
      }
      std::string text(asio::buffers_begin(buffer_.data()),
                       asio::buffers_begin(buffer_.data()) + n);
      buffer_.consume(n);
      *reply += text;
      if (text.size() < 4 || text[3] != '-') {
        return text.size() >= 3 ? std::atoi(text.substr(0, 3).c_str()) : 0;
      }
    }
  }

  void write(const std::string& bytes, boost::system::error_code& ec) {
    if (tls_) {
      asio::write(*tls_, asio::buffer(bytes), ec);
    } else {
      asio::write(socket_, asio::buffer(bytes), ec);
    }
  }

  std::string start_tls() {
    context_.set_default_verify_paths();
    context_.set_verify_mode(ssl::verify_peer);
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, context_);
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), host_.c_str())) return "TLS setup failed";
    tls_->set_verify_callback(ssl::host_name_verification(host_));
    boost::system::error_code ec;
    tls_->handshake(ssl::stream_base::client, ec);
    return ec ? "TLS handshake with the mail server failed: " + ec.message() : "";
  }

 private:
  std::string host_;
  tcp::socket socket_;
  ssl::context context_{ssl::context::tls_client};
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  asio::streambuf buffer_;
};

// The text of DATA: headers, a blank line, the body with CRLF line ends and
// every line that starts with "." doubled (RFC 5321 §4.5.2), then ".".
std::string data_of(const domain::Mail& mail, const std::string& from) {
  std::string out = "From: AgentPhone <" + from + ">\r\nTo: <" + mail.to +
                    ">\r\nSubject: " + mail.subject +
                    "\r\nX-AgentPhone-Reference: " + mail.reference +
                    "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  std::size_t at = 0;
  while (at <= mail.text.size()) {
    std::size_t end = mail.text.find('\n', at);
    if (end == std::string::npos) end = mail.text.size();
    std::string line = mail.text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line.front() == '.') line.insert(0, ".");
    if (!(end == mail.text.size() && line.empty())) out += line + "\r\n";
    at = end + 1;
  }
  return out + ".";
}

}  // namespace

SmtpMailer::SmtpMailer(SmtpOptions options, std::string* why) : options_(std::move(options)) {
  static const std::regex kUrl(R"(^smtp://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?/?$)");
  std::smatch match;
  if (!std::regex_match(options_.url, match, kUrl)) {
    if (why != nullptr) *why = "must look like smtp://host:port";
  } else {
    host_ = match[1];
    port_ = match[2].matched ? std::string(match[2]) : "25";
    if (why != nullptr) why->clear();
  }
  thread_ = std::thread([this] { run(); });
}

SmtpMailer::~SmtpMailer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SmtpMailer::send(const domain::Mail& mail, std::function<void(std::string error)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back(Job{mail, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done("the mail queue is full or closed");
}

void SmtpMailer::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.done(deliver(job.mail));
  }
}

std::string SmtpMailer::deliver(const domain::Mail& mail) const {
  if (host_.empty()) return "the SMTP URL " + options_.url + " is not usable";
  try {
    asio::io_context io;
    Conversation smtp(io, host_);
    tcp::resolver resolver(io);
    asio::connect(smtp.socket(), resolver.resolve(host_, port_));
    // Blocking reads and writes, each bounded by the deadline.
    timeval timeout{static_cast<time_t>(options_.timeout_ms / 1000),
                    static_cast<suseconds_t>((options_.timeout_ms % 1000) * 1000)};
    setsockopt(smtp.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(smtp.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::string reply, error;
    auto step = [&](const std::string& line, int want_class) -> bool {
      const int code = smtp.exchange(line, &reply, &error);
      if (code / 100 == want_class) return true;
      if (error.empty()) error = "the mail server refused \"" + line + "\": " + reply;
      return false;
    };
    if (!step("", 2) || !step("EHLO agentphone.local", 2)) return error;
    if (reply.find("STARTTLS") != std::string::npos) {
      if (!step("STARTTLS", 2)) return error;
      if (std::string why = smtp.start_tls(); !why.empty()) return why;
      if (!step("EHLO agentphone.local", 2)) return error;
    }
    if (!step("MAIL FROM:<" + options_.from + ">", 2) || !step("RCPT TO:<" + mail.to + ">", 2) ||
        !step("DATA", 3) || !step(data_of(mail, options_.from), 2)) {
      return error;
    }
    step("QUIT", 2);  // The mail is accepted already; a rude goodbye changes nothing.
    return "";
  } catch (const std::exception& e) {
    return std::string("cannot reach the mail server: ") + e.what();
  }
}

}  // namespace ap::http
