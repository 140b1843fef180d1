// Scenario: what `agentphone sim run` simulates, read from a JSON file (the
// format is documented in docs/simulation.md; examples in sim/scenarios/).
//
// Every knob is either a fixed integer or a range [lo, hi]; the seed picks a
// value in each range (resolve()), and the runner prints every value it
// picked, so a run is fully described by (scenario file, seed).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actors/ports.hpp"

namespace ap::sim {

// An inclusive integer range; lo == hi for a fixed value.
struct Range {
  std::int64_t lo = 0;
  std::int64_t hi = 0;
};

struct Scenario {
  std::string name;
  std::int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z.
  // Knob name -> range.
  std::map<std::string, Range> knobs;
};

// A knob: its name, default and allowed bounds, and what it means.
struct Knob {
  const char* name;
  std::int64_t default_value;
  std::int64_t min;
  std::int64_t max;
  const char* meaning;
};

// Every knob a scenario may set (unknown keys are refused, so typos are loud).
const std::vector<Knob>& knobs();

// Parses a scenario file's text. Returns "" or what is wrong, naming the key.
std::string parse_scenario(const std::string& text, Scenario* out);

// The knobs' values for one run: a value picked in each range by `entropy`,
// in the fixed order of knobs().
using Resolved = std::map<std::string, std::int64_t>;
Resolved resolve(const Scenario& scenario, domain::Entropy& entropy);

// The range of the knob `name` in `scenario`, and its resolved value. Every
// knob of knobs() has both (parse_scenario fills in defaults, resolve() picks
// each), so a missing one is a broken invariant.
const Range& knob_range(const Scenario& scenario, const std::string& name);
std::int64_t knob_value(const Resolved& resolved, const std::string& name);

}  // namespace ap::sim
