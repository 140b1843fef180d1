// SimCarrier: the embedded, offline carrier. Its number inventory is
// deterministic: for each area code it walks exchanges 200..209 and line
// numbers 0100..0199 in a fixed order (at most kMaxPerAreaCode numbers), so the
// same sequence of provisioning requests always yields the same numbers.
//
// Outbound messages move queued -> sent after `send_delay_ms` and then to
// delivered after `deliver_delay_ms`, reported through the host's Timers (a
// timer thread in the server, virtual time in the simulator). Faults can be set per destination:
// "unreachable" (sent, then failed), "reject" (failed without being sent) and "delay" (every report
// for that destination comes `delay_ms` later); any fault may add a delay.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "actors/ports.hpp"

namespace ap::sim {

struct SimCarrierOptions {
  int per_area_code = 1000;             // Inventory of each area code (1..1000).
  std::int64_t send_delay_ms = 20;      // queued -> sent.
  std::int64_t deliver_delay_ms = 100;  // sent -> delivered.
  std::size_t max_in_flight = 100'000;  // Messages held at once; more are refused.
  std::int64_t answer_delay_ms = 0;     // Dialled -> answered by the simulated callee.
};

struct SimFault {
  std::string to;  // The destination it applies to, E.164.
  // SMS: "unreachable", "reject" or "delay"; calls: "busy", "no-answer",
  // "fail" or "drop-after-ms".
  std::string mode;
  std::int64_t delay_ms = 0;
};

class SimCarrier final : public domain::CarrierPort {
 public:
  static constexpr int kMaxPerAreaCode = 1000;
  static constexpr std::size_t kMaxFaults = 1000;
  static constexpr std::int64_t kMaxFaultDelayMs = 600'000;

  // `is_taken(e164)` says whether a number was ever claimed (released numbers
  // stay claimed: they never return to the inventory). `timers` must outlive
  // the carrier's last scheduled report, or be stopped before it goes.
  SimCarrier(std::function<bool(const std::string&)> is_taken, domain::Timers& timers,
             SimCarrierOptions options = {});

  domain::NumberOffer offer_number(const std::string& country,
                                   const std::string& area_code) override;
  void send_sms(const domain::OutboundSms& sms, domain::CarrierReportFn report) override;
  void place_call(const std::string& call_id, const std::string& from, const std::string& to,
                  std::function<void(std::string event)> report) override;

  // Drops every report not yet made (the messages stay pending in the log
  // and are resubmitted at the next start) and accepts nothing more.
  void stop();

  // Sets (replaces) the fault for `fault.to`. Returns "" or why it was refused.
  std::string set_fault(const SimFault& fault);
  void clear_faults();
  std::vector<SimFault> faults() const;

  // Messages accepted for sending since start (resubmissions of a message
  // still held do not count).
  std::uint64_t accepted() const;

  // The country ("US"/"CA") an area code belongs to, or "" if unknown.
  static std::string country_of(const std::string& area_code);

 private:
  std::string candidate(const std::string& area_code, int index) const;
  // Makes `report` after `delay_ms`, unless the carrier stopped meanwhile.
  void report_after(std::int64_t delay_ms, domain::CarrierReportFn report, domain::CarrierReport r);

  std::function<bool(const std::string&)> is_taken_;
  domain::Timers& timers_;
  SimCarrierOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, int> next_index_;  // Numbers before it are known taken.
  std::map<std::string, SimFault> faults_;
  std::set<std::string> in_flight_;  // Message ids not yet delivered or failed.
  std::uint64_t accepted_ = 0;
  bool stopping_ = false;
};

}  // namespace ap::sim
