// Webhook benchmark (not a test): inbound SMS injected into a running sandbox
// server at a fixed rate, delivered by its webhook engine to a receiver in
// this process. Prints end-to-end latency (from the moment each SMS was due to
// be injected to its arrival at the receiver, so a slow sender cannot hide
// latency) and the delivery rate, for each offered rate in turn.
//
// Usage: webhook_bench --server-port P --to +1... --receiver-port R
//                      [--rates 1000,2000,...] [--seconds N] [--senders N]
// The server's webhook must already point at http://127.0.0.1:R/ (see
// bench/webhook_bench.sh, which sets all of this up).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/server_process.hpp"
#include "tests/webhook_receiver.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The injection time is carried in the SMS text: "t=<ns>".
std::int64_t sent_ns_of(const std::string& body) {
  const std::size_t at = body.find("t=");
  return at == std::string::npos ? 0 : std::stoll(body.substr(at + 2));
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int server_port = 0, receiver_port = 0, seconds = 30, senders = 16;
  std::string to, rates_text = "1000";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--server-port") server_port = std::stoi(value);
    if (flag == "--receiver-port") receiver_port = std::stoi(value);
    if (flag == "--to") to = value;
    if (flag == "--rates") rates_text = value;
    if (flag == "--seconds") seconds = std::stoi(value);
    if (flag == "--senders") senders = std::stoi(value);
  }
  if (server_port == 0 || receiver_port == 0 || to.empty()) {
    std::fprintf(stderr, "usage: webhook_bench --server-port P --to +1... --receiver-port R\n");
    return 2;
  }
  ap::test::WebhookReceiver receiver(std::function<ap::test::ReceiverAnswer(int)>(), receiver_port);
  std::vector<int> rates;
  std::stringstream list(rates_text);
  for (std::string item; std::getline(list, item, ',');) rates.push_back(std::stoi(item));

  std::size_t seen = 0;
  for (const int rate : rates) {
    const std::int64_t total = static_cast<std::int64_t>(rate) * seconds;
    const std::int64_t interval_ns = 1'000'000'000LL / rate;
    const std::int64_t start_ns = now_ns() + 100'000'000;
    std::atomic<std::int64_t> next{0}, refused{0};
    std::vector<std::thread> threads;
    for (int s = 0; s < senders; ++s) {
      threads.emplace_back([&, s] {
        ap::test::HttpClient client(server_port);
        for (;;) {
          const std::int64_t k = next.fetch_add(1);
          if (k >= total) return;
          const std::int64_t due_ns = start_ns + k * interval_ns;
          const std::int64_t wait_ns = due_ns - now_ns();
          if (wait_ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
          // 10,000 senders, so that conversations stay short and many.
          char from[16];
          std::snprintf(from, sizeof from, "+1646%07lld", 3000000LL + (k % 10000));
          const std::string body = std::string("{\"from\":\"") + from + "\",\"to\":\"" + to +
                                   "\",\"body\":\"t=" + std::to_string(due_ns) + "\"}";
          if (client.request("POST", "/sim/sms", body).status != 200) refused.fetch_add(1);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const std::int64_t injected_ns = now_ns();
    const std::size_t want = seen + static_cast<std::size_t>(total - refused.load());
    std::vector<ap::test::ReceivedRequest> got = receiver.wait_for(want, 60'000);
    const std::int64_t drained_ns = now_ns();
    std::vector<double> latency_ms;
    for (std::size_t i = seen; i < got.size(); ++i) {
      const std::int64_t sent = sent_ns_of(got[i].body);
      const std::int64_t arrived =
          std::chrono::duration_cast<std::chrono::nanoseconds>(got[i].at.time_since_epoch())
              .count();
      if (sent > 0) latency_ms.push_back(static_cast<double>(arrived - sent) / 1e6);
    }
    const double span_s = static_cast<double>(drained_ns - start_ns) / 1e9;
    std::printf(
        "offered %5d msg/s for %ds: injected in %.1fs, %zu delivered (%lld refused), "
        "delivery rate %.0f msg/s, latency p50 %.1f ms p99 %.1f ms max %.1f ms%s\n",
        rate, seconds, static_cast<double>(injected_ns - start_ns) / 1e9, got.size() - seen,
        static_cast<long long>(refused.load()), static_cast<double>(got.size() - seen) / span_s,
        percentile(latency_ms, 0.5), percentile(latency_ms, 0.99), percentile(latency_ms, 1.0),
        got.size() < want ? "  (NOT all delivered)" : "");
    std::fflush(stdout);
    seen = got.size();
  }
  return 0;
}
