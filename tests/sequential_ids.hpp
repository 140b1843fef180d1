// Test support: ids "<prefix>1", "<prefix>2", … in order, as a simulator's
// seeded source would give, for deciders tested without a host.
#pragma once

#include <string>
#include <string_view>

#include "actors/domain.hpp"

namespace ap::test {

class SequentialIds final : public domain::IdSource {
 public:
  std::string new_id(std::string_view prefix) override {
    return std::string(prefix) + std::to_string(++next_);
  }

 private:
  int next_ = 0;
};

}  // namespace ap::test
