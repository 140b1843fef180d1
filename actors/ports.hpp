// Ports: what the domain needs from the outside world. Each has an embedded
// default (sim/) and may have real adapters later.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ap::domain {

// Outcome of asking the carrier for a number.
struct NumberOffer {
  bool ok = false;
  std::string phone_number;  // E.164, when ok.
  int status = 0;            // HTTP-style status of the refusal, when !ok.
  std::string code;          // Contract error code, when !ok.
  std::string message;       // Human-readable refusal, when !ok.
};

// One outbound SMS/MMS handed to the carrier.
struct OutboundSms {
  std::string message_id;
  std::string conversation_id;
  std::string account_id;
  std::string from;  // Our number, E.164.
  std::string to;    // E.164.
  std::string body;
  std::vector<std::string> media_urls;
  std::int64_t segments = 1;
};

// A carrier's status callback for one message.
struct CarrierReport {
  std::string message_id;
  std::string conversation_id;
  std::string account_id;
  std::string status;         // "sent", "delivered" or "failed".
  std::string error_code;     // When failed, e.g. "CARRIER_ERROR".
  std::string error_message;  // When failed.
};

using CarrierReportFn = std::function<void(const CarrierReport&)>;

class CarrierPort {
 public:
  virtual ~CarrierPort() = default;
  // Offers the next free number for `country` ("US"/"CA") and optional
  // 3-digit `area_code` ("" = any). The offer is not reserved: the caller
  // claims it in the log, and asks again if someone else claimed it first.
  virtual NumberOffer offer_number(const std::string& country, const std::string& area_code) = 0;

  // Accepts `sms` for sending and returns at once; `report` is called later,
  // on a carrier thread, for each status change. Handing the same message
  // again while the carrier still holds it changes nothing, so callers may
  // resubmit after a restart.
  virtual void send_sms(const OutboundSms& sms, CarrierReportFn report) = 0;
};

}  // namespace ap::domain
