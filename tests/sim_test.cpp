// The simulator's own tests: runs replay bit for bit, seeds matter, both
// stores agree, a planted bug is caught with its reproduction line, and a
// small seed matrix passes every invariant on both stores (what CI runs).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "sim/runner.hpp"

namespace ap::sim {
namespace {

RunOptions scenario(const char* name, std::uint64_t seed, const std::string& store) {
  RunOptions options;
  options.scenario_path = std::string(AP_SCENARIO_DIR "/") + name;
  std::ifstream file(options.scenario_path);
  std::stringstream text;
  text << file.rdbuf();
  const std::string error = parse_scenario(text.str(), &options.scenario);
  EXPECT_EQ(error, "");
  options.seed = seed;
  options.store = store;
  return options;
}

RunOptions smoke(std::uint64_t seed, const std::string& store = "memory") {
  return scenario("smoke.json", seed, store);
}

// Runs `command` in a shell; returns its exit code and standard output.
std::pair<int, std::string> run_command(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return {-1, ""};
  std::string output;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  return {WEXITSTATUS(pclose(pipe)), output};
}

std::string describe(const RunReport& report) {
  std::string out;
  for (const std::string& v : report.violations) out += v + "\n";
  return out;
}

TEST(SimRun, TheSameSeedReplaysTheSameLogBitForBit) {
  const RunReport a = run_simulation(smoke(11));
  const RunReport b = run_simulation(smoke(11));
  ASSERT_TRUE(a.violations.empty()) << describe(a);
  EXPECT_GT(a.head_position, 500u);
  EXPECT_EQ(a.head_hash, b.head_hash);
  ASSERT_EQ(a.checkpoints.size(), b.checkpoints.size());
  for (std::size_t i = 0; i < a.checkpoints.size(); ++i) {
    EXPECT_EQ(a.checkpoints[i].hash, b.checkpoints[i].hash) << "checkpoint " << i;
  }
  EXPECT_EQ(a.options, b.options);
}

TEST(SimRun, AnotherSeedGivesAnotherRun) {
  const RunReport a = run_simulation(smoke(11));
  const RunReport b = run_simulation(smoke(12));
  EXPECT_NE(a.head_hash, b.head_hash);
}

// Without power losses (which only the memory store can make forget an
// unsynced write) both stores must hold the same log.
TEST(SimRun, MemoryAndRocksDbStoresWriteTheSameLog) {
  RunOptions memory_options = smoke(5, "memory"), rocksdb_options = smoke(5, "rocksdb");
  memory_options.scenario.knobs["power_losses"] = {0, 0};
  rocksdb_options.scenario.knobs["power_losses"] = {0, 0};
  const RunReport memory = run_simulation(memory_options);
  const RunReport rocksdb = run_simulation(rocksdb_options);
  ASSERT_GE(memory.restarts, 1u);
  ASSERT_TRUE(rocksdb.violations.empty()) << describe(rocksdb);
  EXPECT_EQ(memory.head_position, rocksdb.head_position);
  EXPECT_EQ(memory.head_hash, rocksdb.head_hash);
}

TEST(SimRun, ItExercisesCrashesFaultsAndBothDirections) {
  const RunReport r = run_simulation(smoke(3));
  ASSERT_TRUE(r.violations.empty()) << describe(r);
  EXPECT_GE(r.restarts, 1u);
  EXPECT_GT(r.commands.at("inbound ok"), 0u);
  EXPECT_GT(r.commands.at("outbound ok"), 0u);
  EXPECT_GT(r.events.at("webhook.delivery_attempted"), 0u);
  EXPECT_GT(r.faults.at("endpoint answers: 500"), 0u);
  EXPECT_FALSE(r.outbound_delivery_ms.empty());
  EXPECT_FALSE(r.webhook_delivery_ms.empty());
}

TEST(SimRun, APlantedLostDeliveryIsCaughtWithItsPosition) {
  RunOptions options = smoke(7);
  options.plant_bug = "drop-delivery";
  const RunReport r = run_simulation(options);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_NE(r.violations.front().find("still pending"), std::string::npos) << describe(r);
  EXPECT_GT(r.first_bad_position, 0u);
}

TEST(SimRun, TheCommandPrintsTheReproductionLineAndFails) {
  const std::string command = std::string(AP_BINARY) +
                              " sim run --scenario " AP_SCENARIO_DIR
                              "/smoke.json --seed 7 --no-progress --plant-bug drop-delivery";
  const auto [status, output] = run_command(command);
  EXPECT_EQ(status, 1);
  EXPECT_NE(output.find("result: VIOLATION"), std::string::npos) << output;
  EXPECT_NE(output.find("reproduce: agentphone sim run --scenario " AP_SCENARIO_DIR
                        "/smoke.json --seed 7 --store memory --plant-bug drop-delivery"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("endpoint_error_ppm"), std::string::npos) << "derived options printed";
}

TEST(SimRun, CheckDeterminismAgreesAndExitsZero) {
  const std::string command = std::string(AP_BINARY) +
                              " sim run --scenario " AP_SCENARIO_DIR
                              "/smoke.json --seed 2 --no-progress --check-determinism";
  const auto [status, output] = run_command(command);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("determinism: OK"), std::string::npos) << output;
}

TEST(Scenario, RefusesUnknownKeysBadRangesAndValuesOutOfBounds) {
  Scenario s;
  EXPECT_EQ(parse_scenario(R"({"acounts": 3})", &s), "unknown key 'acounts'");
  EXPECT_NE(parse_scenario(R"({"accounts": [5, 2]})", &s).find("lo must not exceed hi"),
            std::string::npos);
  EXPECT_NE(parse_scenario(R"({"webhook_timeout_s": 1})", &s).find("within 5..120"),
            std::string::npos);
  EXPECT_NE(parse_scenario(R"({"accounts": "many"})", &s).find("integer or a range"),
            std::string::npos);
  EXPECT_NE(parse_scenario("[1]", &s).find("JSON object"), std::string::npos);
  EXPECT_NE(parse_scenario("{", &s).find("not valid JSON"), std::string::npos);
  EXPECT_EQ(parse_scenario(
                R"({"name": "x", "accounts": [1, 3], "start_time": "2026-05-01T00:00:00Z"})", &s),
            "");
  EXPECT_EQ(s.knobs.at("accounts").hi, 3);
}

TEST(SimCalls, CallFloodsWithCrashesReplayAndEveryCallEndsOnce) {
  const RunReport a = run_simulation(scenario("calls.json", 4, "memory"));
  EXPECT_TRUE(a.violations.empty()) << describe(a);
  // The run exercised what the invariants speak about.
  EXPECT_GT(a.restarts, 0u);
  EXPECT_GT(a.events.at("call.started"), 100u);
  EXPECT_EQ(a.events.at("call.ended"), a.events.at("call.started"));
  EXPECT_GT(a.events.at("call.turn_answered"), 100u);
  EXPECT_GT(a.events.at("message.voice"), 100u);
  EXPECT_GT(a.commands.at("call say ok"), 100u);
  EXPECT_FALSE(a.voice_turn_ms.empty());
  const RunReport b = run_simulation(scenario("calls.json", 4, "memory"));
  EXPECT_EQ(a.head_hash, b.head_hash);
}

TEST(SimBilling, MoneyRunsOutNumbersGoThroughGraceAndTheLedgerReplays) {
  // Seed 6 draws no top-ups: the sign-up credit runs out, renewals fail,
  // and unpaid numbers are released when their grace ends; auto-recharge
  // keeps some accounts paying. check_ledger and check_renewals hold.
  const RunReport a = run_simulation(scenario("billing.json", 6, "memory"));
  EXPECT_TRUE(a.violations.empty()) << describe(a);
  EXPECT_GT(a.restarts, 0u);
  EXPECT_GT(a.faults.at("numbers renewed"), 10u);
  EXPECT_GT(a.faults.at("numbers in grace"), 0u);
  EXPECT_GT(a.faults.at("numbers released unpaid"), 0u);
  EXPECT_GT(a.commands.at("outbound INSUFFICIENT_BALANCE"), 100u);
  EXPECT_GT(a.commands.at("number buy ok"), 10u);
  EXPECT_GT(a.events.at("account.credited"), 0u);  // Auto-recharges.
  // Live calls whose reservation could not be extended end, billed no further.
  EXPECT_GT(a.faults.at("calls ended: insufficient_balance"), 0u);
  const RunReport b = run_simulation(scenario("billing.json", 6, "memory"));
  EXPECT_EQ(a.head_hash, b.head_hash);
  // Seed 2 tops up, some payments declined.
  const RunReport c = run_simulation(scenario("billing.json", 2, "memory"));
  EXPECT_TRUE(c.violations.empty()) << describe(c);
  EXPECT_GT(c.commands.at("top-up ok"), 10u);
  EXPECT_GT(c.commands.at("top-up declined"), 10u);
}

// The seed matrices CI runs on both stores, one per scenario: every
// invariant holds. A parameter is (scenario file, seed, store).
class SeedMatrix
    : public ::testing::TestWithParam<std::tuple<const char*, std::uint64_t, const char*>> {};

TEST_P(SeedMatrix, EveryInvariantHolds) {
  const auto [file, seed, store] = GetParam();
  const RunReport r = run_simulation(scenario(file, seed, store));
  EXPECT_TRUE(r.violations.empty()) << "reproduce: agentphone sim run --scenario sim/scenarios/"
                                    << file << " --seed " << seed << " --store " << store << "\n"
                                    << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Smoke, SeedMatrix,
                         ::testing::Combine(::testing::Values("smoke.json"),
                                            ::testing::Values(1, 2, 3, 4, 5, 6, 8, 9),
                                            ::testing::Values("memory", "rocksdb")));
INSTANTIATE_TEST_SUITE_P(Calls, SeedMatrix,
                         ::testing::Combine(::testing::Values("calls.json"),
                                            ::testing::Values(1, 2, 3),
                                            ::testing::Values("memory", "rocksdb")));
INSTANTIATE_TEST_SUITE_P(Backpressure, SeedMatrix,
                         ::testing::Combine(::testing::Values("backpressure.json"),
                                            ::testing::Values(1, 2, 3),
                                            ::testing::Values("memory", "rocksdb")));
INSTANTIATE_TEST_SUITE_P(Billing, SeedMatrix,
                         ::testing::Combine(::testing::Values("billing.json"),
                                            ::testing::Values(1, 3, 4, 6),
                                            ::testing::Values("memory", "rocksdb")));

}  // namespace
}  // namespace ap::sim
