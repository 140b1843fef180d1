#include "sim/carrier.hpp"

#include <algorithm>
#include <set>

namespace ap::sim {

namespace {

const std::set<std::string>& us_area_codes() {
  static const std::set<std::string> kCodes = {
      "201", "202", "203", "205", "206", "207", "208", "209", "210", "212", "213", "214", "215",
      "216", "217", "218", "219", "224", "225", "228", "229", "231", "234", "239", "240", "248",
      "251", "252", "253", "254", "256", "260", "262", "267", "269", "270", "272", "276", "281",
      "301", "302", "303", "304", "305", "307", "308", "309", "310", "312", "313", "314", "315",
      "316", "317", "318", "319", "320", "321", "323", "325", "330", "331", "334", "336", "337",
      "339", "346", "347", "351", "352", "360", "361", "385", "386", "401", "402", "404", "405",
      "406", "407", "408", "409", "410", "412", "413", "414", "415", "417", "419", "423", "424",
      "425", "430", "432", "434", "435", "440", "442", "443", "458", "469", "470", "475", "478",
      "479", "480", "484", "501", "502", "503", "504", "505", "507", "508", "509", "510", "512",
      "513", "515", "516", "517", "518", "520", "530", "531", "534", "539", "540", "541", "551",
      "559", "561", "562", "563", "567", "570", "571", "573", "574", "575", "580", "585", "586",
      "601", "602", "603", "605", "606", "607", "608", "609", "610", "612", "614", "615", "616",
      "617", "618", "619", "620", "623", "626", "628", "629", "630", "631", "636", "641", "646",
      "650", "651", "657", "660", "661", "662", "667", "669", "678", "681", "682", "701", "702",
      "703", "704", "706", "707", "708", "712", "713", "714", "715", "716", "717", "718", "719",
      "720", "724", "725", "727", "731", "732", "734", "737", "740", "747", "754", "757", "760",
      "762", "763", "765", "769", "770", "772", "773", "774", "775", "779", "781", "785", "786",
      "801", "802", "803", "804", "805", "806", "808", "810", "812", "813", "814", "815", "816",
      "817", "818", "828", "830", "831", "832", "843", "845", "847", "848", "850", "856", "857",
      "858", "859", "860", "862", "863", "864", "865", "870", "872", "878", "901", "903", "904",
      "906", "907", "908", "909", "910", "912", "913", "914", "915", "916", "917", "918", "919",
      "920", "925", "928", "929", "931", "936", "937", "940", "941", "947", "949", "951", "952",
      "954", "956", "970", "971", "972", "973", "978", "979", "980", "984", "985", "989"};
  return kCodes;
}

const std::set<std::string>& ca_area_codes() {
  static const std::set<std::string> kCodes = {
      "204", "226", "236", "249", "250", "289", "306", "343", "365", "403", "416", "418", "431",
      "437", "438", "450", "506", "514", "519", "548", "579", "581", "587", "604", "613", "639",
      "647", "705", "709", "778", "780", "782", "807", "819", "825", "867", "873", "902", "905"};
  return kCodes;
}

const char* default_area_code(const std::string& country) {
  return country == "CA" ? "416" : "415";
}

}  // namespace

SimCarrier::SimCarrier(std::function<bool(const std::string&)> is_taken, domain::Timers& timers,
                       SimCarrierOptions options)
    : is_taken_(std::move(is_taken)), timers_(timers), options_(options) {
  options_.per_area_code = std::clamp(options_.per_area_code, 1, kMaxPerAreaCode);
}

void SimCarrier::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
}

std::string SimCarrier::country_of(const std::string& area_code) {
  if (us_area_codes().count(area_code)) return "US";
  if (ca_area_codes().count(area_code)) return "CA";
  return "";
}

std::string SimCarrier::candidate(const std::string& area_code, int index) const {
  // 100 line numbers (0100..0199) per exchange, exchanges 200..209, so an
  // index below kMaxPerAreaCode never meets an N11 exchange.
  const int exchange = 200 + index / 100;
  const int line = 100 + index % 100;
  return "+1" + area_code + std::to_string(exchange) + "0" + std::to_string(line);
}

domain::NumberOffer SimCarrier::offer_number(const std::string& country,
                                             const std::string& area_code) {
  domain::NumberOffer offer;
  const std::string code = area_code.empty() ? default_area_code(country) : area_code;
  const std::string owner = country_of(code);
  if (owner.empty()) {
    offer.status = 400;
    offer.code = "AREA_CODE_UNAVAILABLE";
    offer.message = "Area code " + code + " is not an area code we serve";
    return offer;
  }
  if (owner != country) {
    offer.status = 400;
    offer.code = "AREA_CODE_UNAVAILABLE";
    offer.message = "Area code " + code + " belongs to " + owner + ", not " + country;
    return offer;
  }
  std::lock_guard<std::mutex> lock(mu_);
  int& index = next_index_[code];
  for (; index < options_.per_area_code; ++index) {
    const std::string phone = candidate(code, index);
    if (!is_taken_(phone)) {
      offer.ok = true;
      offer.phone_number = phone;
      return offer;
    }
  }
  offer.status = 409;
  offer.code = "AREA_CODE_EXHAUSTED";
  offer.message = "No numbers are available in area code " + code + "; try another area code";
  return offer;
}

void SimCarrier::send_sms(const domain::OutboundSms& sms, domain::CarrierReportFn report) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || in_flight_.count(sms.message_id) > 0) return;
  auto make = [&sms](const char* status, std::string code = "", std::string message = "") {
    return domain::CarrierReport{sms.message_id, sms.conversation_id, sms.account_id,
                                 status,         std::move(code),     std::move(message)};
  };
  if (in_flight_.size() >= options_.max_in_flight) {
    // A real carrier throttles; ours refuses rather than queueing without bound.
    report_after(0, report,
                 make("failed", "CARRIER_ERROR", "The carrier's queue is full; try again later"));
    return;
  }
  in_flight_.insert(sms.message_id);
  ++accepted_;
  SimFault fault;
  if (auto it = faults_.find(sms.to); it != faults_.end()) fault = it->second;
  if (fault.mode == "reject") {
    report_after(fault.delay_ms, report,
                 make("failed", "CARRIER_ERROR", "The carrier rejected the message to " + sms.to));
    return;
  }
  const std::int64_t sent_ms = options_.send_delay_ms + fault.delay_ms;
  report_after(sent_ms, report, make("sent"));
  report_after(sent_ms + options_.deliver_delay_ms, report,
               fault.mode == "unreachable" ? make("failed", "CARRIER_ERROR",
                                                  "The destination " + sms.to + " is unreachable")
                                           : make("delivered"));
}

void SimCarrier::place_call(const std::string& call_id, const std::string& from,
                            const std::string& to, std::function<void(std::string event)> report) {
  // The simulated callee answers every caller the same way; a real carrier
  // adapter needs the call id (for its status callbacks) and our number.
  (void)call_id;
  (void)from;
  SimFault fault;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (auto it = faults_.find(to); it != faults_.end()) fault = it->second;
  }
  auto later = [this, report](std::int64_t delay_ms, const char* event) {
    timers_.after(delay_ms, [this, report, event] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      report(event);
    });
  };
  if (fault.mode == "no-answer") return;
  if (fault.mode == "busy") return later(fault.delay_ms, "busy");
  if (fault.mode == "fail") return later(fault.delay_ms, "failed");
  // A "delay" fault delays the answer; "drop-after-ms" delays the drop.
  const bool drops = fault.mode == "drop-after-ms";
  later(options_.answer_delay_ms + (drops ? 0 : fault.delay_ms), "answered");
  if (drops) later(options_.answer_delay_ms + fault.delay_ms, "dropped");
}

void SimCarrier::report_after(std::int64_t delay_ms, domain::CarrierReportFn report,
                              domain::CarrierReport r) {
  timers_.after(delay_ms, [this, report = std::move(report), r = std::move(r)] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      // A final report frees the message's place; "sent" keeps it.
      if (r.status != "sent") in_flight_.erase(r.message_id);
    }
    // The report leaves the lock: it calls into the runtime.
    report(r);
  });
}

std::string SimCarrier::set_fault(const SimFault& fault) {
  static const std::set<std::string> kModes{"unreachable", "reject", "delay",        "busy",
                                            "no-answer",   "fail",   "drop-after-ms"};
  if (kModes.count(fault.mode) == 0) {
    return "mode must be unreachable, reject, delay, busy, no-answer, fail or drop-after-ms";
  }
  if (fault.delay_ms < 0 || fault.delay_ms > kMaxFaultDelayMs) {
    return "delayMs must be between 0 and " + std::to_string(kMaxFaultDelayMs);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (faults_.size() >= kMaxFaults && faults_.count(fault.to) == 0) {
    return "at most " + std::to_string(kMaxFaults) + " faults can be set";
  }
  faults_[fault.to] = fault;
  return "";
}

void SimCarrier::clear_faults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

std::vector<SimFault> SimCarrier::faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SimFault> out;
  for (const auto& [to, fault] : faults_) out.push_back(fault);
  return out;
}

std::uint64_t SimCarrier::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

}  // namespace ap::sim
