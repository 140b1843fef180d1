// Durability under kill -9: every event the child saw acknowledged must be in
// the log after a restart, byte for byte, and the chain must verify.
//
// AP_CRASH_ROUNDS (default 3) sets how many kill/reopen rounds run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "eventstore/event_store.hpp"
#include "tests/crash_payload.hpp"
#include "tests/temp_dir.hpp"

namespace ap::es {
namespace {

struct Acked {
  std::string stream;
  std::uint64_t version;
};

// Runs the child for `run_ms`, kills it with SIGKILL, and returns every
// complete line it printed.
std::string run_and_kill(const std::string& dir, int run_ms) {
  int fds[2];
  if (pipe(fds) != 0) return "";
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(AP_CRASH_CHILD, AP_CRASH_CHILD, dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string output;
  std::thread reader([&] {
    char buffer[65536];
    for (;;) {
      const ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n <= 0) break;
      output.append(buffer, static_cast<std::size_t>(n));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
  kill(pid, SIGKILL);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  reader.join();
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(wstatus)) << "child exited by itself; status " << wstatus;
  // Drop a trailing partial line: its event may or may not be acknowledged.
  const auto last_newline = output.rfind('\n');
  output.resize(last_newline == std::string::npos ? 0 : last_newline + 1);
  return output;
}

TEST(EventStoreCrash, AcknowledgedAppendsSurviveKillNine) {
  const char* rounds_env = std::getenv("AP_CRASH_ROUNDS");
  const int rounds = rounds_env != nullptr ? std::atoi(rounds_env) : 3;
  TempDir dir;
  std::mt19937 rng(std::random_device{}());
  std::map<std::uint64_t, Acked> acked;

  for (int round = 0; round < rounds; ++round) {
    const int run_ms = std::uniform_int_distribution<int>(300, 900)(rng);
    std::istringstream lines(run_and_kill(dir.path(), run_ms));
    std::uint64_t position = 0;
    Acked entry;
    std::size_t new_acks = 0;
    while (lines >> position >> entry.stream >> entry.version) {
      acked[position] = entry;
      ++new_acks;
    }
    ASSERT_GT(new_acks, 0u) << "round " << round << ": the child acknowledged nothing";

    Options options;
    options.path = dir.path();
    options.clock_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    std::unique_ptr<EventStore> store;
    ASSERT_TRUE(EventStore::open(options, &store).ok());
    ASSERT_GE(store->head_position(), acked.rbegin()->first);
    for (const auto& [pos, expected] : acked) {
      std::vector<RecordedEvent> one;
      ASSERT_TRUE(store->read_all(pos, 1, &one).ok());
      ASSERT_EQ(one.size(), 1u) << "acknowledged position " << pos << " is missing";
      EXPECT_EQ(one[0].position, pos);
      EXPECT_EQ(one[0].stream, expected.stream);
      EXPECT_EQ(one[0].version, expected.version);
      EXPECT_EQ(one[0].type, "crash.appended");
      EXPECT_EQ(one[0].payload, crash_payload(expected.stream, expected.version));
    }
    VerifyReport report = store->verify_chain();
    EXPECT_TRUE(report.ok) << "round " << round << ": " << report.problem << " at "
                           << report.first_bad;
    std::printf("round %d: ran %d ms, %zu new acknowledged events, head %llu, chain ok\n", round,
                run_ms, new_acks, static_cast<unsigned long long>(store->head_position()));
  }
}

}  // namespace
}  // namespace ap::es
