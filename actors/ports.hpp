// Ports: what the domain needs from the outside world. Each has an embedded
// default (sim/) and may have real adapters later.
#pragma once

#include <string>

namespace ap::domain {

// Outcome of asking the carrier for a number.
struct NumberOffer {
  bool ok = false;
  std::string phone_number;  // E.164, when ok.
  int status = 0;            // HTTP-style status of the refusal, when !ok.
  std::string code;          // Contract error code, when !ok.
  std::string message;       // Human-readable refusal, when !ok.
};

class CarrierPort {
 public:
  virtual ~CarrierPort() = default;
  // Offers the next free number for `country` ("US"/"CA") and optional
  // 3-digit `area_code` ("" = any). The offer is not reserved: the caller
  // claims it in the log, and asks again if someone else claimed it first.
  virtual NumberOffer offer_number(const std::string& country, const std::string& area_code) = 0;
};

}  // namespace ap::domain
