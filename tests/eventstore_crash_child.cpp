// Crash-test child: appends to the log as fast as it can from several threads
// and prints "<position> <stream> <version>" on stdout for every acknowledged
// event, until it is killed with SIGKILL by the parent test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/event_store.hpp"
#include "tests/crash_payload.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: eventstore_crash_child <data-dir>\n");
    return 2;
  }
  ap::es::Options options;
  options.path = argv[1];
  options.clock_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::unique_ptr<ap::es::EventStore> store;
  ap::es::Status status = ap::es::EventStore::open(options, &store);
  if (!status.ok()) {
    std::fprintf(stderr, "open: %s\n", status.to_string().c_str());
    return 1;
  }
  std::mutex out_mu;
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread owns its streams, so it knows the next version in advance.
      for (std::uint64_t round = 0;; ++round) {
        const std::string stream = "crash-" + std::to_string(t) + "-" + std::to_string(round % 3);
        std::uint64_t version = 0;
        if (!store->stream_version(stream, &version).ok()) std::abort();
        std::vector<ap::es::StreamAppend> parts;
        parts.push_back({stream,
                         version == 0 ? ap::es::ExpectedVersion::no_stream()
                                      : ap::es::ExpectedVersion::exact(version),
                         {{"crash.appended", ap::crash_payload(stream, version + 1)},
                          {"crash.appended", ap::crash_payload(stream, version + 2)}}});
        ap::es::AppendResult result;
        ap::es::Status s = store->append_and_wait(std::move(parts), &result);
        if (!s.ok()) {
          std::fprintf(stderr, "append: %s\n", s.to_string().c_str());
          std::_Exit(1);
        }
        std::lock_guard<std::mutex> lock(out_mu);
        std::printf("%llu %s %llu\n%llu %s %llu\n",
                    static_cast<unsigned long long>(result.first_position), stream.c_str(),
                    static_cast<unsigned long long>(version + 1),
                    static_cast<unsigned long long>(result.last_position), stream.c_str(),
                    static_cast<unsigned long long>(version + 2));
        std::fflush(stdout);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}
