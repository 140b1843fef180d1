// Voice-turn benchmark (not a test): many live sandbox calls against a
// running server, each caller speaking a line every `--interval-ms`, a
// webhook receiver in this process that answers every turn at once. Because
// the caller and the receiver share this process's clock, the platform's own
// share of each turn splits in two measurable halves:
//   in  = the caller's line sent            -> the agent.message request arrives
//   out = the receiver has the request      -> the caller hears the answer
// (the receiver answers at once, so `out` is all platform). Then a second
// phase starts and finishes calls (dial, two lines, hang up) as fast as it
// can for `--churn-seconds`, for the calls/s the server sustains.
//
// Usage: call_bench --server-port P --to +1... --receiver-port R [--server-pid PID]
//                   [--calls N] [--seconds N] [--interval-ms N] [--threads N]
//                   [--churn-seconds N]
// bench/call_bench.sh sets the server up (agent, number, webhook).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/server_process.hpp"
#include "tests/webhook_receiver.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()))];
}

std::string field(const std::string& body, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const std::size_t at = body.find(key);
  if (at == std::string::npos) return "";
  const std::size_t end = body.find('"', at + key.size());
  return body.substr(at + key.size(), end - at - key.size());
}

long rss_mib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

void print_ms(const char* what, const std::vector<double>& ms) {
  std::printf("  %-34s n=%zu  p50=%.2f  p90=%.2f  p99=%.2f  max=%.2f ms\n", what, ms.size(),
              percentile(ms, 0.5), percentile(ms, 0.9), percentile(ms, 0.99),
              ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

}  // namespace

int main(int argc, char** argv) {
  int server_port = 0, receiver_port = 0, server_pid = 0, calls = 1000, seconds = 20;
  int interval_ms = 2000, threads = 16, churn_seconds = 10;
  std::string to;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--server-port") server_port = std::stoi(value);
    if (flag == "--receiver-port") receiver_port = std::stoi(value);
    if (flag == "--server-pid") server_pid = std::stoi(value);
    if (flag == "--to") to = value;
    if (flag == "--calls") calls = std::stoi(value);
    if (flag == "--seconds") seconds = std::stoi(value);
    if (flag == "--interval-ms") interval_ms = std::stoi(value);
    if (flag == "--threads") threads = std::stoi(value);
    if (flag == "--churn-seconds") churn_seconds = std::stoi(value);
  }
  if (server_port == 0 || receiver_port == 0 || to.empty()) {
    std::fprintf(stderr, "usage: call_bench --server-port P --to +1... --receiver-port R\n");
    return 2;
  }

  // The receiver notes when each turn's request arrived, by its transcript
  // ("<call>#<n>"), and answers at once.
  std::mutex mu;
  std::map<std::string, Clock::time_point> arrived;
  ap::test::WebhookReceiver receiver(
      std::function<ap::test::ReceiverAnswer(const ap::test::ReceivedRequest&)>(
          [&](const ap::test::ReceivedRequest& r) {
            const std::string words = field(r.body, "transcript");
            if (!words.empty()) {
              std::lock_guard<std::mutex> lock(mu);
              arrived[words] = r.at;
            }
            ap::test::ReceiverAnswer answer;
            answer.body = "{\"text\":\"ok\"}";
            return answer;
          }),
      receiver_port);

  // HTTP floor: a GET /healthz round trip on the same server.
  std::vector<double> floor_ms;
  {
    ap::test::HttpClient client(server_port);
    for (int i = 0; i < 2000; ++i) {
      const auto t0 = Clock::now();
      client.request("GET", "/healthz");
      floor_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
  }

  // Dial every call.
  std::vector<std::string> ids(static_cast<std::size_t>(calls));
  {
    std::vector<std::thread> dialers;
    std::atomic<int> next{0};
    for (int t = 0; t < threads; ++t) {
      dialers.emplace_back([&] {
        ap::test::HttpClient client(server_port);
        for (int i = next++; i < calls; i = next++) {
          const ap::test::HttpResult r = client.request(
              "POST", "/sim/calls", "{\"from\":\"+14155550123\",\"to\":\"" + to + "\"}");
          ids[static_cast<std::size_t>(i)] = field(r.body, "callId");
        }
      });
    }
    for (std::thread& d : dialers) d.join();
  }
  const long live_rss = rss_mib(server_pid);

  // Each call speaks every interval, the calls spread evenly over it.
  std::vector<double> in_ms, out_ms, turn_ms;
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  const auto stop = start + std::chrono::seconds(seconds);
  {
    std::vector<std::thread> speakers;
    for (int t = 0; t < threads; ++t) {
      speakers.emplace_back([&, t] {
        ap::test::HttpClient client(server_port);
        std::vector<double> mine_in, mine_out, mine_turn;
        for (int round = 0;; ++round) {
          bool any = false;
          for (int i = t; i < calls; i += threads) {
            const auto due = start + std::chrono::milliseconds(
                                         static_cast<std::int64_t>(round) * interval_ms +
                                         static_cast<std::int64_t>(i) * interval_ms / calls);
            if (due >= stop) continue;
            any = true;
            std::this_thread::sleep_until(due);
            const std::string words =
                ids[static_cast<std::size_t>(i)] + "#" + std::to_string(round);
            const auto sent = Clock::now();
            const ap::test::HttpResult r =
                client.request("POST", "/sim/calls/" + ids[static_cast<std::size_t>(i)] + "/say",
                               "{\"text\":\"" + words + "\"}");
            const auto heard = Clock::now();
            Clock::time_point at;
            {
              std::lock_guard<std::mutex> lock(mu);
              auto it = arrived.find(words);
              if (it == arrived.end() || r.status != 200 ||
                  r.body.find("\"ok\"") == std::string::npos) {
                ++failures;
                continue;
              }
              at = it->second;
              arrived.erase(it);
            }
            mine_in.push_back((ns_of(at) - ns_of(sent)) / 1e6);
            mine_out.push_back((ns_of(heard) - ns_of(at)) / 1e6);
            mine_turn.push_back((ns_of(heard) - ns_of(sent)) / 1e6);
          }
          if (!any) break;
        }
        std::lock_guard<std::mutex> lock(mu);
        in_ms.insert(in_ms.end(), mine_in.begin(), mine_in.end());
        out_ms.insert(out_ms.end(), mine_out.begin(), mine_out.end());
        turn_ms.insert(turn_ms.end(), mine_turn.begin(), mine_turn.end());
      });
    }
    for (std::thread& s : speakers) s.join();
  }
  // Hang the calls up.
  {
    ap::test::HttpClient client(server_port);
    for (const std::string& id : ids) client.request("POST", "/sim/calls/" + id + "/hangup");
  }

  // Churn: whole calls, back to back, from every thread.
  std::atomic<std::int64_t> churned{0};
  {
    const auto churn_stop = Clock::now() + std::chrono::seconds(churn_seconds);
    std::vector<std::thread> churners;
    for (int t = 0; t < threads; ++t) {
      churners.emplace_back([&] {
        ap::test::HttpClient client(server_port);
        while (Clock::now() < churn_stop) {
          const std::string id =
              field(client
                        .request("POST", "/sim/calls",
                                 "{\"from\":\"+14155550124\",\"to\":\"" + to + "\"}")
                        .body,
                    "callId");
          if (id.empty()) continue;
          client.request("POST", "/sim/calls/" + id + "/say", "{\"text\":\"churn one\"}");
          client.request("POST", "/sim/calls/" + id + "/say", "{\"text\":\"churn two\"}");
          if (client.request("POST", "/sim/calls/" + id + "/hangup").status == 200) ++churned;
        }
      });
    }
    for (std::thread& c : churners) c.join();
  }

  std::printf("voice turns: %d live calls, a line every %d ms each, %d s (%zu turns, %d failed)\n",
              calls, interval_ms, seconds, turn_ms.size(), failures.load());
  print_ms("HTTP floor (GET /healthz)", floor_ms);
  print_ms("in: line sent -> webhook request", in_ms);
  print_ms("out: webhook request -> words heard", out_ms);
  print_ms("whole turn (receiver answers at once)", turn_ms);
  const double p99 = percentile(turn_ms, 0.99);
  std::printf(
      "  platform overhead p99 %.2f ms = %.2fx the 2 ms goal (%.1fx the HTTP floor's p99)\n", p99,
      p99 / 2.0, p99 / std::max(0.001, percentile(floor_ms, 0.99)));
  std::printf("call churn: %lld calls (dial, 2 lines, hang up) in %d s = %.0f calls/s\n",
              static_cast<long long>(churned.load()), churn_seconds,
              static_cast<double>(churned.load()) / churn_seconds);
  std::printf("server RSS: %ld MiB with %d live calls, %ld MiB after %lld more ended calls\n",
              live_rss, calls, rss_mib(server_pid), static_cast<long long>(churned.load()) + calls);
  return failures.load() == 0 ? 0 : 1;
}
