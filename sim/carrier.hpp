// SimCarrier: the embedded, offline carrier. Its number inventory is
// deterministic: for each area code it walks exchanges 200..209 and line
// numbers 0100..0199 in a fixed order (at most kMaxPerAreaCode numbers), so the
// same sequence of provisioning requests always yields the same numbers.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "actors/ports.hpp"

namespace ap::sim {

class SimCarrier final : public domain::CarrierPort {
 public:
  static constexpr int kMaxPerAreaCode = 1000;

  // `is_taken(e164)` says whether a number was ever claimed (released numbers
  // stay claimed: they never return to the inventory). `per_area_code` bounds
  // the inventory of each area code.
  SimCarrier(std::function<bool(const std::string&)> is_taken, int per_area_code = 1000);

  domain::NumberOffer offer_number(const std::string& country,
                                   const std::string& area_code) override;

  // The country ("US"/"CA") an area code belongs to, or "" if unknown.
  static std::string country_of(const std::string& area_code);

 private:
  std::string candidate(const std::string& area_code, int index) const;

  std::function<bool(const std::string&)> is_taken_;
  int per_area_code_;
  std::mutex mu_;
  std::map<std::string, int> next_index_;  // Numbers before it are known taken.
};

}  // namespace ap::sim
