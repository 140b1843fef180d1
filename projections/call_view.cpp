// The call rows of CoreView (see core_view.hpp for their layout).
#include <boost/json/parse.hpp>

#include <cstdio>

#include "actors/call.hpp"
#include "actors/domain.hpp"
#include "actors/invariant.hpp"
#include "actors/sms.hpp"
#include "projections/core_view.hpp"

namespace ap::projections {

namespace {

constexpr std::size_t kSnippetChars = 120;

std::string turn_key(const std::string& call_id, std::int64_t turn) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(turn));
  return "Ct/" + call_id + "/" + hex;
}

// The spoken lines of a turn joined as the transcript's `response`.
json::value joined(const json::array& lines) {
  std::string out;
  for (const json::value& line : lines) {
    if (!out.empty()) out.push_back(' ');
    out.append(domain::field(line, "text").as_string());
  }
  return out.empty() ? json::value(nullptr) : json::value(out);
}

}  // namespace

void CoreView::put_call_summary(const std::string& call_id, const json::object& summary,
                                es::ViewBatch& batch) const {
  std::optional<std::string> where = raw_row(batch, "Cx/" + call_id);
  AP_ASSERT(where, "a call's summary is written after call.started");
  const std::string account = where->substr(0, where->find(' '));
  batch.put("Ck/" + account + "/" + call_id, domain::to_json(summary));
}

void CoreView::apply_call(const std::string& type, const json::object& data, std::uint64_t position,
                          es::ViewBatch& batch) const {
  const std::string call_id = domain::text_of(data, "callId");
  const std::string account = domain::text_of(data, "accountId");
  if (type == "call.started") {
    const std::int64_t started_ms = domain::field(data, "startedAtMs").as_int64();
    const std::string order = newest_first_key(started_ms, static_cast<std::int64_t>(position));
    const bool inbound = domain::text_of(data, "direction") == "inbound";
    const std::string ours = domain::text_of(data, "phoneNumber");
    const std::string other = domain::text_of(data, "participant");
    const std::string number = domain::text_of(data, "numberId");
    json::object summary{{"id", call_id},
                         {"agentId", domain::field(data, "agentId")},
                         {"phoneNumberId", number},
                         {"phoneNumber", ours},
                         {"fromNumber", inbound ? other : ours},
                         {"toNumber", inbound ? ours : other},
                         {"direction", domain::field(data, "direction")},
                         {"status", domain::field(data, "status")},
                         {"startedAt", domain::iso8601(started_ms)},
                         {"endedAt", nullptr},
                         {"durationSeconds", nullptr},
                         {"disconnectionReason", nullptr},
                         {"lastTranscriptSnippet", nullptr},
                         {"recordingUrl", nullptr},
                         {"recordingAvailable", false},
                         {"voiceMode", domain::field(data, "mode")}};
    batch.put("Cx/" + call_id, account + " " + order);
    batch.put("Ck/" + account + "/" + call_id, domain::to_json(summary));
    batch.put("Co/" + account + "/" + order + "/" + call_id, account);
    batch.put("Coc/" + account, std::to_string(counter(batch, "Coc/" + account) + 1));
    batch.put("Cn/" + number + "/" + order + "/" + call_id, account);
    batch.put("Cnc/" + number, std::to_string(counter(batch, "Cnc/" + number) + 1));
    if (domain::field(data, "agentId").is_string()) {
      const std::string agent = domain::text_of(data, "agentId");
      batch.put("Ca/" + agent + "/" + order + "/" + call_id, account);
      batch.put("Cac/" + agent, std::to_string(counter(batch, "Cac/" + agent) + 1));
    }
    batch.put("Cv/" + call_id, account);
    return;
  }
  std::optional<json::object> summary = row(batch, "Ck/" + account + "/" + call_id);
  if (!summary) return;
  if (type == "call.answered") {
    (*summary)["status"] = "in-progress";
  } else if (type == "call.caller_spoke") {
    const std::string said = domain::text_of(data, "text");
    batch.put(turn_key(call_id, domain::field(data, "turn").as_int64()),
              domain::to_json(json::object{
                  {"id", call_id + "_t" + std::to_string(domain::field(data, "turn").as_int64())},
                  {"transcript", said},
                  {"response", nullptr},
                  {"confidence", domain::field(data, "confidence")},
                  {"createdAt", domain::iso8601(domain::field(data, "atMs").as_int64())},
                  {"interrupted", false},
                  {"answered", false},
                  {"said", json::array()}}));
    (*summary)["lastTranscriptSnippet"] = std::string(domain::utf8_prefix(said, kSnippetChars));
  } else if (type == "call.turn_answered") {
    const std::int64_t turn = domain::field(data, "turn").as_int64();
    const std::string key = turn_key(call_id, turn);
    std::optional<json::object> item = row(batch, key);
    if (!item) {
      // The greeting: a turn the agent opens without a caller line.
      item = json::object{{"id", call_id + "_t" + std::to_string(turn)},
                          {"transcript", ""},
                          {"confidence", 1.0},
                          {"createdAt", domain::iso8601(domain::field(data, "atMs").as_int64())}};
    }
    // Lines spoken while the answer was still arriving come first.
    json::array said;
    if (const json::value* before = item->if_contains("said")) said = before->as_array();
    for (const json::value& line : domain::field(data, "lines").as_array()) said.push_back(line);
    (*item)["response"] = joined(said);
    (*item)["interrupted"] = domain::field(data, "interrupted");
    (*item)["answered"] = true;
    (*item)["said"] = std::move(said);
    batch.put(key, domain::to_json(*item));
  } else if (type == "call.turn_progress") {
    const std::string key = turn_key(call_id, domain::field(data, "turn").as_int64());
    std::optional<json::object> item = row(batch, key);
    if (!item) return;
    json::array said = domain::field(*item, "said").as_array();
    for (const json::value& line : domain::field(data, "lines").as_array()) said.push_back(line);
    (*item)["response"] = joined(said);
    (*item)["said"] = std::move(said);
    batch.put(key, domain::to_json(*item));
    return;
  } else if (type == "call.ended") {
    (*summary)["status"] = domain::field(data, "status");
    (*summary)["endedAt"] = domain::iso8601(domain::field(data, "endedAtMs").as_int64());
    (*summary)["durationSeconds"] = domain::field(data, "durationSeconds");
    (*summary)["disconnectionReason"] = domain::field(data, "reason");
    batch.erase("Cv/" + call_id);
  } else {
    return;
  }
  put_call_summary(call_id, *summary, batch);
}

std::optional<std::string> CoreView::call(const std::string& account,
                                          const std::string& call_id) const {
  if (call_id.find('/') != std::string::npos) return std::nullopt;
  return raw_row("Ck/" + account + "/" + call_id);
}

std::optional<std::string> CoreView::call_account(const std::string& call_id) const {
  if (call_id.find('/') != std::string::npos) return std::nullopt;
  std::optional<std::string> where = raw_row("Cx/" + call_id);
  if (!where) return std::nullopt;
  return where->substr(0, where->find(' '));
}

std::optional<std::string> CoreView::call_status(const std::string& call_id) const {
  std::optional<std::string> account = call_account(call_id);
  if (!account) return std::nullopt;
  std::optional<json::object> summary = row("Ck/" + *account + "/" + call_id);
  if (!summary) return std::nullopt;
  return domain::text_of(*summary, "status");
}

std::vector<json::object> CoreView::call_turns(const std::string& call_id) const {
  std::vector<json::object> turns;
  scan("Ct/" + call_id + "/", "", [&](std::string_view, std::string_view value) {
    turns.push_back(json::parse(value).as_object());
    return true;
  });
  return turns;
}

std::optional<json::object> CoreView::call_turn(const std::string& call_id, int turn) const {
  return row(turn_key(call_id, turn));
}

Page CoreView::calls(const std::string& account, const std::string& scope,
                     const std::string& scope_id, const CallFilter& filter, std::uint64_t offset,
                     std::uint64_t limit) const {
  const std::string index = scope == "agent" ? "Ca/" : scope == "number" ? "Cn/" : "Co/";
  const std::string prefix = index + scope_id + "/";
  // An index row names its call's account: an agent's or number's rows can
  // only be this account's, and the check keeps it so.
  auto summary_of = [&](std::string_view key,
                        std::string_view value) -> std::optional<std::string> {
    if (value != account) return std::nullopt;
    const std::string call_id(key.substr(key.rfind('/') + 1));
    return raw_row("Ck/" + account + "/" + call_id);
  };
  const bool filtered =
      !filter.status.empty() || !filter.direction.empty() || !filter.search.empty();
  if (!filtered) {
    const std::string total_key = (scope == "agent"    ? "Cac/"
                                   : scope == "number" ? "Cnc/"
                                                       : "Coc/") +
                                  scope_id;
    return offset_page(prefix, total_key, offset, limit, summary_of);
  }
  // Filters walk the whole scope: the total counts every match.
  Page page;
  scan(prefix, "", [&](std::string_view key, std::string_view value) {
    std::optional<std::string> wire = summary_of(key, value);
    if (!wire) return true;
    const json::object summary = json::parse(*wire).as_object();
    if (!filter.status.empty() && domain::text_of(summary, "status") != filter.status) return true;
    if (!filter.direction.empty() && domain::text_of(summary, "direction") != filter.direction)
      return true;
    if (!filter.search.empty() &&
        domain::text_of(summary, "fromNumber").find(filter.search) == std::string::npos &&
        domain::text_of(summary, "toNumber").find(filter.search) == std::string::npos) {
      return true;
    }
    const std::uint64_t index_of = page.total++;
    if (index_of < offset) return true;
    if (page.items.size() == limit) {
      page.has_more = true;
    } else {
      page.items.push_back(std::move(*wire));
    }
    return true;
  });
  return page;
}

std::vector<std::pair<std::string, std::string>> CoreView::live_calls() const {
  std::vector<std::pair<std::string, std::string>> live;
  scan("Cv/", "", [&](std::string_view key, std::string_view value) {
    live.emplace_back(std::string(key.substr(3)), std::string(value));
    return true;
  });
  return live;
}

}  // namespace ap::projections
