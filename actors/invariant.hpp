// Invariants: what the code relies on and the impossible, checked in every
// build (assert() is compiled out of Release builds by NDEBUG, so a broken
// invariant there would go on silently with corrupt state).
//
// A violated invariant throws InvariantViolation, which names what was
// expected and where. Inside an entity the host catches it: the command is
// answered ENTITY_FAULT, the fault is counted and the entity is rebuilt from
// the log on its next command (actors/entity_host.hpp). Anywhere else nothing
// catches it and the process stops with the message, rather than carrying on.
#pragma once

#include <stdexcept>
#include <string>

namespace ap {

class InvariantViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] inline void invariant_failed(const char* expected, const char* file, int line) {
  throw InvariantViolation(std::string("invariant failed: ") + expected + " (" + file + ":" +
                           std::to_string(line) + ")");
}

}  // namespace ap

// Checks `condition`; `expected` says in words what should hold.
#define AP_ASSERT(condition, expected) \
  ((condition) ? static_cast<void>(0) : ::ap::invariant_failed(expected, __FILE__, __LINE__))
