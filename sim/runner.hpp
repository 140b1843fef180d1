// The simulator behind `agentphone sim run`: the real node (actors/node.hpp)
// on one thread, under a virtual clock, seeded entropy, in-process webhook
// endpoints and the simulated carrier, with crashes at seeded points, each
// followed by a restart through the same recovery path the server runs.
//
// The loop: run every ready actor job and log commit until none is left;
// take the earliest of the next arrival, crash or timer; move the clock
// there; repeat. After every restart and at the end it checks invariants
// against a shadow record of what was acknowledged (see docs/simulation.md).
// The same scenario and seed give the same log, bit for bit: the head hash
// is the run's fingerprint.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/scenario.hpp"

namespace ap::sim {

struct RunOptions {
  std::string scenario_path;  // For the reproduction line.
  Scenario scenario;
  std::uint64_t seed = 1;
  std::string store = "memory";          // "memory" or "rocksdb".
  std::string data_dir;                  // rocksdb: the folder (a fresh temporary one when empty).
  std::string plant_bug;                 // "" or "drop-delivery" (the simulator's own test).
  bool progress = false;                 // A progress bar on stderr.
  std::int64_t checkpoint_every_s = 60;  // Head hash recorded every N virtual seconds.
  bool rebuild_check = true;             // Rebuild the read model after restarts and at the end.
};

// The head of the log at one virtual instant.
struct Checkpoint {
  std::int64_t at_ms = 0;
  std::uint64_t position = 0;
  std::string hash;
};

struct RunReport {
  Resolved options;
  std::vector<std::string> violations;  // Empty when every invariant held.
  std::uint64_t first_bad_position = 0;
  std::uint64_t head_position = 0;
  std::string head_hash;
  std::vector<Checkpoint> checkpoints;
  std::map<std::string, std::uint64_t> commands;   // "inbound ok", "outbound 402", ...
  std::map<std::string, std::uint64_t> events;     // By event type.
  std::map<std::string, std::uint64_t> faults;     // Endpoint outcomes, crashes, entity faults.
  std::vector<std::int64_t> outbound_delivery_ms;  // message.queued -> delivered, virtual.
  std::vector<std::int64_t> webhook_delivery_ms;   // delivery created -> delivered, virtual.
  std::vector<std::int64_t> voice_turn_ms;         // caller spoke -> agent answered, virtual.
  std::uint64_t duplicate_deliveries = 0;          // Delivery ids answered 2xx more than once.
  std::uint64_t restarts = 0;
  std::int64_t virtual_ms = 0;
  std::uint64_t store_bytes = 0;  // Memory store: bytes of keys and values at the end.
  double wall_s = 0;
};

// Runs one simulation.
RunReport run_simulation(const RunOptions& options);

// Prints `report` for people; `reproduce` is the command that replays it.
void print_report(const RunReport& report, const RunOptions& options, std::FILE* out);

// Writes report.html (histograms as SVG) and report.json into `dir`.
// Returns "" or why it could not.
std::string write_report_files(const RunReport& report, const RunOptions& options,
                               const std::string& dir);

// The whole `sim run` command: one run, or two compared checkpoint by
// checkpoint with `check_determinism`. Returns the exit code (0 = every
// invariant held and, if asked, both runs agree).
int sim_run(const RunOptions& options, bool check_determinism, const std::string& report_dir);

}  // namespace ap::sim
