#include "sim/scenario.hpp"

#include <boost/json/parse.hpp>

#include "actors/domain.hpp"
#include "actors/invariant.hpp"

namespace ap::sim {

namespace json = boost::json;

const std::vector<Knob>& knobs() {
  static const std::vector<Knob> kKnobs = {
      {"duration_s", 600, 1, 30 * 86'400, "virtual seconds of traffic and faults"},
      {"quiet_s", 3'600, 0, 400 * 86'400,
       "fault-free virtual seconds after the traffic, for retries and reports to finish"},
      {"accounts", 4, 1, 10'000, "accounts, each with one number and one agent"},
      {"agent_webhook_pct", 50, 0, 100, "share of agents with a webhook of their own"},
      {"no_webhook_pct", 10, 0, 100, "share of accounts with no webhook at all"},
      {"participants", 200, 1, 1'000'000, "outside phone numbers that text our numbers"},
      {"inbound_per_s", 20, 0, 100'000, "inbound SMS per virtual second, all numbers together"},
      {"outbound_per_s", 10, 0, 100'000, "outbound SMS per virtual second"},
      {"body_chars_max", 200, 1, 1'600, "longest message body, in characters"},
      {"ucs2_pct", 10, 0, 100, "share of bodies with a non-GSM character"},
      {"endpoint_latency_ms_max", 300, 1, 120'000, "slowest webhook answer of an endpoint"},
      {"endpoint_error_ppm", 50'000, 0, 1'000'000, "webhook answers that are HTTP 500"},
      {"endpoint_timeout_ppm", 5'000, 0, 1'000'000, "webhook requests that never answer"},
      {"endpoint_outages", 2, 0, 1'000, "windows in which one endpoint refuses connections"},
      {"endpoint_outage_s_max", 120, 1, 86'400, "longest outage"},
      {"webhook_timeout_s", 10, 5, 120, "the webhooks' configured timeout"},
      {"retry_base_ms", 1'000, 10, 600'000, "first webhook retry after about this"},
      {"webhook_max_in_flight", 8, 1, 256, "webhook requests in flight per endpoint"},
      {"webhook_max_held", 10'000, 1, 1'000'000, "webhook deliveries held in memory at once"},
      {"webhook_max_held_per_account", 2'500, 1, 1'000'000,
       "one account's share of them; past it deliveries are deferred"},
      {"webhook_max_waiting", 1'000, 1, 1'000'000,
       "deliveries waiting for one endpoint; past it they are deferred"},
      {"carrier_send_delay_ms", 20, 0, 600'000, "carrier: queued to sent"},
      {"carrier_deliver_delay_ms", 100, 0, 600'000, "carrier: sent to delivered"},
      {"unreachable_pct", 2, 0, 100, "share of participants the carrier cannot reach"},
      {"reject_pct", 1, 0, 100, "share of participants the carrier rejects"},
      {"process_crashes", 2, 0, 1'000,
       "process crashes (what was written survives; unflushed view rows do not)"},
      {"power_losses", 1, 0, 1'000, "power losses (only synced writes survive)"},
      {"crash_steps_max", 40, 0, 100'000,
       "a crash falls this many scheduler steps at most after its instant"},
      {"idle_timeout_ms", 60'000, 10, 86'400'000, "entity actors passivate after this"},
      {"memtable_kib", 1'024, 16, 1 << 20,
       "the memory store flushes after this many KiB of writes, as a memtable does"},
      {"inbound_calls_per_s", 0, 0, 10'000, "calls per virtual second from participants"},
      {"outbound_calls_per_s", 0, 0, 10'000, "calls per virtual second placed by agents"},
      {"hosted_pct", 30, 0, 100, "share of agents in hosted voice mode (the built-in responder)"},
      {"call_turns_max", 4, 1, 100, "most lines a simulated caller says in one call"},
      {"think_ms_max", 4'000, 1, 600'000,
       "longest pause before a caller speaks again (shorter than the agent's answer: the "
       "caller talks over it)"},
      {"caller_hangup_pct", 70, 0, 100,
       "share of callers who hang up after their last line (the others fall silent)"},
      {"call_silence_ms", 30'000, 10'000, 3'600'000, "the agents' maxSilenceMs"},
      {"busy_pct", 1, 0, 100, "share of participants whose line is busy to our calls"},
      {"no_answer_pct", 1, 0, 100, "share of participants who never pick up our calls"},
      {"top_ups_per_day", 0, 0, 1'000'000,
       "top-ups of $1.00 to $50.00 per virtual day, all accounts together, over the whole run"},
      {"decline_pct", 0, 0, 100, "share of top-ups the simulated processor declines"},
      {"auto_recharge_pct", 0, 0, 100,
       "share of accounts with auto-recharge ($5.00 to $20.00 below $1.00)"},
      {"number_buys_per_day", 0, 0, 100'000,
       "extra numbers bought per virtual day, over the whole run"},
      {"number_releases_per_day", 0, 0, 100'000,
       "extra numbers released by their owner per virtual day, over the whole run"},
  };
  return kKnobs;
}

std::string parse_scenario(const std::string& text, Scenario* out) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return "the scenario is not valid JSON: " + ec.message();
  if (!root.is_object()) return "the scenario must be a JSON object";
  Scenario scenario;
  for (const Knob& knob : knobs()) {
    scenario.knobs[knob.name] = Range{knob.default_value, knob.default_value};
  }
  for (const auto& [key, value] : root.as_object()) {
    if (key == "name") {
      if (!value.is_string()) return "name must be a string";
      scenario.name = std::string(value.as_string());
      continue;
    }
    if (key == "start_time") {
      if (!value.is_string() || !domain::parse_iso8601(value.as_string(), &scenario.start_ms)) {
        return "start_time must be an ISO-8601 time, e.g. 2026-01-01T00:00:00Z";
      }
      continue;
    }
    if (key == "comment") continue;
    auto it = scenario.knobs.find(std::string(key));
    if (it == scenario.knobs.end()) return "unknown key '" + std::string(key) + "'";
    const Knob* knob = nullptr;
    for (const Knob& k : knobs()) {
      if (key == k.name) knob = &k;
    }
    Range range;
    if (value.is_int64()) {
      range.lo = range.hi = value.as_int64();
    } else if (value.is_array() && value.as_array().size() == 2 && value.as_array()[0].is_int64() &&
               value.as_array()[1].is_int64()) {
      range.lo = value.as_array()[0].as_int64();
      range.hi = value.as_array()[1].as_int64();
    } else {
      return std::string(key) + " must be an integer or a range [lo, hi]";
    }
    if (range.lo > range.hi) return std::string(key) + ": lo must not exceed hi";
    if (range.lo < knob->min || range.hi > knob->max) {
      return std::string(key) + " must lie within " + std::to_string(knob->min) + ".." +
             std::to_string(knob->max);
    }
    it->second = range;
  }
  *out = std::move(scenario);
  return "";
}

const Range& knob_range(const Scenario& scenario, const std::string& name) {
  const auto found = scenario.knobs.find(name);
  AP_ASSERT(found != scenario.knobs.end(), "a parsed scenario has a range for every knob");
  return found->second;
}

std::int64_t knob_value(const Resolved& resolved, const std::string& name) {
  const auto found = resolved.find(name);
  AP_ASSERT(found != resolved.end(), "a resolved scenario has a value for every knob");
  return found->second;
}

Resolved resolve(const Scenario& scenario, domain::Entropy& entropy) {
  Resolved out;
  for (const Knob& knob : knobs()) {
    const Range& range = knob_range(scenario, knob.name);
    // Only a range draws from the seed, so that a knob added later with a
    // fixed default leaves every earlier seed's run as it was.
    if (range.lo == range.hi) {
      out[knob.name] = range.lo;
      continue;
    }
    const std::uint64_t span = static_cast<std::uint64_t>(range.hi - range.lo) + 1;
    out[knob.name] = range.lo + static_cast<std::int64_t>(entropy.uniform(span));
  }
  return out;
}

}  // namespace ap::sim
