// Usage: counters of messages, calls, webhook deliveries and voice seconds per
// account, hour, day, agent and number (contract B.9, E.1), kept by CoreView
// from the same events as everything else. Hours and days are UTC; the
// by-agent periods of another time zone are summed from whole UTC hours, so
// a zone whose offset is not a whole number of hours has its boundary at the
// start of the hour that holds its local midnight.
#include <date/date.h>
#include <date/tz.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <cstdio>
#include <map>

#include "actors/domain.hpp"
#include "actors/webhook.hpp"
#include "projections/core_view.hpp"

namespace ap::projections {

namespace {

constexpr std::int64_t kHourMs = 60LL * 60 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

std::string hour_key(std::int64_t at_ms) {
  char out[16];
  std::snprintf(out, sizeof out, "%08llx",
                static_cast<unsigned long long>(floor_div(at_ms, kHourMs)));
  return out;
}

// "YYYY-MM-DD" of the UTC day of `at_ms`.
std::string day_of(std::int64_t at_ms) {
  return domain::iso8601(at_ms).substr(0, 10);
}

// Adds `delta` to `field` of the counter row at `key`.
void bump(json::object& row, const char* field, std::int64_t delta) {
  row[field] = domain::int_of(row, field, 0) + delta;
}

// Voice minutes as the daily and monthly points show them: billed seconds,
// rounded up to whole minutes.
std::int64_t minutes_of(std::int64_t seconds) {
  return (seconds + 59) / 60;
}

}  // namespace

void CoreView::bump_row(const std::string& key, const char* field, std::int64_t delta,
                        es::ViewBatch& batch) const {
  CounterRow counters = row(batch, key).value_or(CounterRow{});
  bump(counters, field, delta);
  batch.put(key, domain::to_json(counters));
}

void CoreView::apply_usage(const es::RecordedEvent& event, const json::object& data,
                           es::ViewBatch& batch) const {
  const std::string& type = event.type;
  const std::string account = domain::text_of(data, "accountId");
  // Bumps `field` of the account's hour and day holding `at_ms`.
  auto in_time = [&](std::int64_t at_ms, const char* field, std::int64_t delta) {
    bump_row("Uh/" + account + "/" + hour_key(at_ms), field, delta, batch);
    bump_row("Ud/" + account + "/" + day_of(at_ms), field, delta, batch);
  };
  auto agent_of = [](const json::value& agent) {
    return agent.is_string() ? std::string(agent.as_string()) : std::string("-");
  };
  if (type == "message.queued" || type == "message.received") {
    const std::int64_t at_ms = domain::int_of(data, "atMs", event.time_ms);
    in_time(at_ms, "m", 1);
    bump_row(
        "Ua/" + account + "/" + agent_of(domain::field(data, "agentId")) + "/" + hour_key(at_ms),
        "m", 1, batch);
    bump_row("Un/" + account + "/" + domain::text_of(data, "numberId"), "m", 1, batch);
    bump_row("Ut/" + account, "m", 1, batch);
  } else if (type == "call.started") {
    in_time(domain::int_of(data, "startedAtMs", event.time_ms), "c", 1);
    bump_row("Un/" + account + "/" + domain::text_of(data, "numberId"), "c", 1, batch);
    bump_row("Ut/" + account, "c", 1, batch);
  } else if (type == "call.ended") {
    const std::int64_t seconds = domain::int_of(data, "durationSeconds", 0);
    const std::int64_t at_ms = domain::int_of(data, "endedAtMs", event.time_ms);
    if (seconds > 0) in_time(at_ms, "s", seconds);
    if (domain::text_of(data, "status") != "completed") return;
    std::optional<json::object> summary =
        row(batch, "Ck/" + account + "/" + domain::text_of(data, "callId"));
    if (!summary) return;
    const std::string key = "Ua/" + account + "/" + agent_of(domain::field(*summary, "agentId")) +
                            "/" + hour_key(at_ms);
    bump_row(key, "c", 1, batch);
    bump_row(key, "s", seconds, batch);
  } else if (type == "webhook.delivery_created") {
    if (domain::is_test_delivery(data)) return;
    in_time(domain::int_of(data, "createdAtMs", event.time_ms), "w", 1);
  } else if (type == "agent.created") {
    batch.put("An/" + account + "/" + domain::text_of(data, "agentId"),
              domain::text_of(domain::field(data, "config").as_object(), "name"));
  } else if (type == "agent.updated") {
    const json::object& changes = domain::field(data, "changes").as_object();
    if (changes.contains("name")) {
      batch.put("An/" + account + "/" + domain::text_of(data, "agentId"),
                domain::text_of(changes, "name"));
    }
  }
}

// ---- Queries -------------------------------------------------------------------

json::object CoreView::usage(const std::string& account, std::int64_t now_ms) const {
  std::int64_t messages_24h = 0, calls_24h = 0;
  const std::string hours = "Uh/" + account + "/";
  scan(hours, hours + hour_key(now_ms - 23 * kHourMs),
       [&](std::string_view, std::string_view value) {
         const json::object o = json::parse(value).as_object();
         messages_24h += domain::int_of(o, "m", 0);
         calls_24h += domain::int_of(o, "c", 0);
         return true;
       });
  std::int64_t messages_7d = 0, calls_7d = 0, messages_30d = 0, calls_30d = 0;
  const std::string days = "Ud/" + account + "/";
  const std::string week_start = day_of(now_ms - 6 * kDayMs);
  scan(days, days + day_of(now_ms - 29 * kDayMs),
       [&](std::string_view key, std::string_view value) {
         const json::object o = json::parse(value).as_object();
         messages_30d += domain::int_of(o, "m", 0);
         calls_30d += domain::int_of(o, "c", 0);
         if (key.substr(days.size()) >= week_start) {
           messages_7d += domain::int_of(o, "m", 0);
           calls_7d += domain::int_of(o, "c", 0);
         }
         return true;
       });
  const json::object totals = row("Ut/" + account).value_or(json::object{});
  const std::array<std::int64_t, 3> deliveries = delivery_counts(account);
  const std::int64_t used = counter("nc/" + account);
  std::int64_t period_start = 0, period_end = 0;
  std::string error;
  calendar_period(now_ms, "month", "", &period_start, &period_end, &error);
  return {{"plan", json::object{{"name", "payg"},
                                {"limits", json::object{{"numbers", kNumberLimit},
                                                        {"messagesPerMonth", kNoCap},
                                                        {"voiceMinutesPerMonth", kNoCap},
                                                        {"maxCallDurationMinutes", kMaxCallMinutes},
                                                        {"concurrentCalls", kNoCap}}}}},
          {"numbers", json::object{{"used", used},
                                   {"limit", kNumberLimit},
                                   {"remaining", used < kNumberLimit ? kNumberLimit - used : 0}}},
          {"stats", json::object{{"totalMessages", domain::int_of(totals, "m", 0)},
                                 {"messagesLast24h", messages_24h},
                                 {"messagesLast7d", messages_7d},
                                 {"messagesLast30d", messages_30d},
                                 {"totalCalls", domain::int_of(totals, "c", 0)},
                                 {"callsLast24h", calls_24h},
                                 {"callsLast7d", calls_7d},
                                 {"callsLast30d", calls_30d},
                                 {"totalWebhookDeliveries", deliveries[0]},
                                 {"successfulWebhookDeliveries", deliveries[1]},
                                 {"failedWebhookDeliveries", deliveries[2]}}},
          {"periodStart", domain::iso8601(period_start)},
          {"periodEnd", domain::iso8601(period_end)}};
}

json::array CoreView::usage_daily(const std::string& account, std::int64_t now_ms, int days) const {
  json::array points;
  const std::string prefix = "Ud/" + account + "/";
  for (int back = days - 1; back >= 0; --back) {
    const std::string day = day_of(now_ms - back * kDayMs);
    const json::object o = row(prefix + day).value_or(json::object{});
    points.push_back(json::object{{"date", day},
                                  {"messages", domain::int_of(o, "m", 0)},
                                  {"calls", domain::int_of(o, "c", 0)},
                                  {"webhooks", domain::int_of(o, "w", 0)},
                                  {"voiceMinutes", minutes_of(domain::int_of(o, "s", 0))}});
  }
  return points;
}

json::array CoreView::usage_monthly(const std::string& account, std::int64_t now_ms,
                                    int months) const {
  const date::year_month_day today{date::floor<date::days>(
      date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{now_ms}})};
  const date::year_month first =
      date::year_month{today.year(), today.month()} - date::months{months - 1};
  std::map<std::string, std::array<std::int64_t, 4>> sums;  // By "YYYY-MM".
  char from[16];
  std::snprintf(from, sizeof from, "%04d-%02u-01", static_cast<int>(first.year()),
                static_cast<unsigned>(first.month()));
  const std::string prefix = "Ud/" + account + "/";
  scan(prefix, prefix + from, [&](std::string_view key, std::string_view value) {
    const json::object o = json::parse(value).as_object();
    std::array<std::int64_t, 4>& sum = sums[std::string(key.substr(prefix.size(), 7))];
    sum[0] += domain::int_of(o, "m", 0);
    sum[1] += domain::int_of(o, "c", 0);
    sum[2] += domain::int_of(o, "w", 0);
    sum[3] += domain::int_of(o, "s", 0);
    return true;
  });
  json::array points;
  for (int i = 0; i < months; ++i) {
    const date::year_month month = first + date::months{i};
    char name[16];
    std::snprintf(name, sizeof name, "%04d-%02u", static_cast<int>(month.year()),
                  static_cast<unsigned>(month.month()));
    const std::array<std::int64_t, 4> sum = sums[name];
    points.push_back(json::object{{"month", name},
                                  {"messages", sum[0]},
                                  {"calls", sum[1]},
                                  {"webhooks", sum[2]},
                                  {"voiceMinutes", minutes_of(sum[3])}});
  }
  return points;
}

json::array CoreView::usage_by_number(const std::string& account) const {
  json::array items;
  const std::string prefix = "n/" + account + "/";
  scan(prefix, "", [&](std::string_view, std::string_view value) {
    const json::object number = json::parse(value).as_object();
    const std::string id = domain::text_of(number, "id");
    const json::object counts = row("Un/" + account + "/" + id).value_or(json::object{});
    const json::value& agent = domain::field(number, "agentId");
    std::optional<std::string> name;
    if (agent.is_string()) name = raw_row("An/" + account + "/" + std::string(agent.as_string()));
    items.push_back(json::object{{"numberId", id},
                                 {"phoneNumber", domain::field(number, "phoneNumber")},
                                 {"country", domain::field(number, "country")},
                                 {"status", domain::field(number, "status")},
                                 {"agentId", agent},
                                 {"agentName", name ? json::value(*name) : json::value(nullptr)},
                                 {"messages", domain::int_of(counts, "m", 0)},
                                 {"calls", domain::int_of(counts, "c", 0)}});
    return true;
  });
  return items;
}

json::array CoreView::usage_by_agent(const std::string& account, std::int64_t from_ms,
                                     std::int64_t to_ms) const {
  // Every agent of the account appears, with or without traffic; a deleted
  // agent appears when it had traffic in the period (isOrphan).
  std::map<std::string, std::array<std::int64_t, 3>> sums;
  const std::string agents = "g/" + account + "/";
  scan(agents, "", [&](std::string_view key, std::string_view) {
    sums[std::string(key.substr(agents.size()))];
    return true;
  });
  const std::string prefix = "Ua/" + account + "/";
  const std::string first_hour = hour_key(from_ms), end_hour = hour_key(to_ms);
  scan(prefix, "", [&](std::string_view key, std::string_view value) {
    const std::string_view rest = key.substr(prefix.size());
    const std::size_t slash = rest.rfind('/');
    const std::string_view hour = rest.substr(slash + 1);
    if (hour < first_hour || hour >= end_hour) return true;
    const json::object o = json::parse(value).as_object();
    std::array<std::int64_t, 3>& sum = sums[std::string(rest.substr(0, slash))];
    sum[0] += domain::int_of(o, "m", 0);
    sum[1] += domain::int_of(o, "c", 0);
    sum[2] += domain::int_of(o, "s", 0);
    return true;
  });
  json::array items;
  for (const auto& [agent, sum] : sums) {
    if (agent == "-") continue;
    const bool orphan = !raw_row(agents + agent);
    const std::optional<std::string> name = raw_row("An/" + account + "/" + agent);
    items.push_back(json::object{{"agentId", agent},
                                 {"agentName", name.value_or("Deleted agent")},
                                 {"messages", sum[0]},
                                 {"calls", sum[1]},
                                 {"totalSeconds", sum[2]},
                                 {"isOrphan", orphan}});
  }
  if (auto none = sums.find("-"); none != sums.end()) {
    items.push_back(json::object{{"agentId", nullptr},
                                 {"agentName", "Unassigned"},
                                 {"messages", none->second[0]},
                                 {"calls", none->second[1]},
                                 {"totalSeconds", none->second[2]},
                                 {"isOrphan", false}});
  }
  return items;
}

bool calendar_period(std::int64_t now_ms, const std::string& period, const std::string& tz,
                     std::int64_t* from_ms, std::int64_t* to_ms, std::string* error) {
  using namespace date;
  const time_zone* zone = nullptr;
  try {
    zone = locate_zone(tz.empty() ? "UTC" : tz);
  } catch (const std::exception&) {
    *error = "Unknown time zone '" + tz + "': use an IANA name such as America/New_York";
    return false;
  }
  const sys_time<std::chrono::milliseconds> now{std::chrono::milliseconds{now_ms}};
  const local_days today = floor<days>(zone->to_local(now));
  const year_month_day ymd{today};
  local_days start, end;
  if (period == "week") {
    start = today - (weekday{today} - Monday);
    end = start + days{7};
  } else if (period == "month") {
    start = local_days{ymd.year() / ymd.month() / 1};
    end = local_days{(ymd.year() / ymd.month() + months{1}) / 1};
  } else if (period == "year") {
    start = local_days{ymd.year() / January / 1};
    end = local_days{(ymd.year() + years{1}) / January / 1};
  } else {
    *error = "Input should be 'week', 'month' or 'year'";
    return false;
  }
  auto to_utc_ms = [zone](local_days day) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               zone->to_sys(day, choose::earliest).time_since_epoch())
        .count();
  };
  *from_ms = to_utc_ms(start);
  *to_ms = to_utc_ms(end);
  return true;
}

}  // namespace ap::projections
