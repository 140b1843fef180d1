#include "projections/core_view.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cassert>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "actors/domain.hpp"
#include "actors/invariant.hpp"
#include "actors/secrets.hpp"
#include "actors/sms.hpp"
#include "actors/webhook.hpp"

namespace ap::projections {

CoreView::CoreView(es::EventStore& store, std::string name)
    : store_(store), name_(std::move(name)) {
  // A read model that cannot find out where it stands must not guess: a
  // wrong checkpoint would apply events twice or skip them.
  if (es::Status s = store_.load_checkpoint(name_, &checkpoint_); !s.ok()) {
    throw std::runtime_error("the read model's checkpoint could not be read: " + s.to_string());
  }
  std::string version;
  es::Status read = store_.get_view(name_, kVersionKey, &version);
  if (!read.ok() && read.code() != es::Code::kNotFound) {
    throw std::runtime_error("the read model's layout version could not be read: " +
                             read.to_string());
  }
  version_written_ = read.ok() && version == std::to_string(kRowsVersion);
  if (checkpoint_ > 0 && !version_written_) {
    // The rows were written by a build with another row layout. They are
    // derived data: drop them and replay the whole log.
    std::fprintf(stderr, "agentphone: read model layout changed; rebuilding it from the log\n");
    erase_rows();
  }
  funds_checkpoint_ = checkpoint_;
}

void CoreView::erase_rows() {
  // In bounded batches, so that a large read model does not become one
  // huge write.
  constexpr std::size_t kBatchRows = 10'000;
  for (;;) {
    es::ViewBatch batch;
    scan("", "", [&](std::string_view key, std::string_view) {
      batch.erase(std::string(key));
      return batch.size() < kBatchRows;
    });
    if (batch.empty()) break;
    const es::Status status = store_.commit_view(name_, std::move(batch), 0);
    if (!status.ok()) {
      std::fprintf(stderr, "agentphone: cannot reset the read model: %s\n",
                   status.message().c_str());
      std::abort();
    }
  }
  checkpoint_ = 0;
  version_written_ = false;
}

void CoreView::each_row(
    const std::function<void(std::string_view, std::string_view)>& visit) const {
  scan("", "", [&](std::string_view key, std::string_view value) {
    visit(key, value);
    return true;
  });
}

CoreView::~CoreView() {
  subscription_.reset();
}

void CoreView::start() {
  subscription_ = store_.subscribe(checkpoint() + 1, [this](const auto& events) { apply(events); });
}

void CoreView::set_listener(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

std::uint64_t CoreView::checkpoint() const {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpoint_;
}

bool CoreView::wait_until(std::uint64_t position, std::int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return checkpoint_ >= position; });
}

void CoreView::when_applied(std::uint64_t position, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (checkpoint_ < position) {
      waiters_.emplace(position, std::move(fn));
      return;
    }
  }
  fn();
}

void CoreView::apply(const std::vector<es::RecordedEvent>& events) {
  // All the events delivered together are applied in one view batch and one
  // commit; reads while applying see the batch's own writes first.
  es::ViewBatch batch;
  try {
    for (const es::RecordedEvent& event : events) apply_one(event, batch);
  } catch (const es::StorageError& e) {
    // Rows built on a failed read would be wrong for good. Stop, as when a
    // commit fails: the next start replays from the last checkpoint.
    std::fprintf(stderr, "agentphone: %s\n", e.what());
    std::abort();
  }
  if (events.empty()) return;
  // The layout version rides with the first commit of a fresh read model.
  if (!version_written_) batch.put(kVersionKey, std::to_string(kRowsVersion));
  const std::uint64_t last = events.back().position;
  const es::Status status = commit_with_funds(std::move(batch), last);
  // A view that cannot be written cannot serve reads correctly, and going on
  // would commit a later checkpoint over the lost rows. Stop the process:
  // the next start replays the log from the last committed checkpoint.
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone: cannot write the read model: %s\n", status.message().c_str());
    std::abort();
  }
  version_written_ = true;
  std::vector<std::function<void()>> ready;
  Listener listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = listener_;
    checkpoint_ = last;
    auto end = waiters_.upper_bound(checkpoint_);
    for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), end);
  }
  cv_.notify_all();
  if (listener) {
    for (const es::RecordedEvent& event : events)
      listener(event.type, event.payload, event.position);
  }
  for (auto& fn : ready) fn();
}

std::string CoreView::agent_key(const std::string& account, const std::string& agent_id) {
  return "g/" + account + "/" + agent_id;
}

std::optional<std::string> CoreView::raw_row(const std::string& key) const {
  std::string value;
  if (!es::found(store_.get_view(name_, key, &value))) return std::nullopt;
  return value;
}

void CoreView::scan(const std::string& prefix, const std::string& start,
                    const std::function<bool(std::string_view, std::string_view)>& visit) const {
  if (es::Status status = store_.scan_view(name_, prefix, start, visit); !status.ok()) {
    throw es::StorageError(status);
  }
}

std::optional<std::string> CoreView::raw_row(const es::ViewBatch& batch,
                                             const std::string& key) const {
  if (const std::optional<std::string>* pending = batch.find(key)) return *pending;
  return raw_row(key);
}

std::optional<json::object> CoreView::row(const es::ViewBatch& batch,
                                          const std::string& key) const {
  std::optional<std::string> value = raw_row(batch, key);
  if (!value) return std::nullopt;
  return json::parse(*value).as_object();
}

std::int64_t CoreView::counter(const es::ViewBatch& batch, const std::string& key) const {
  std::optional<std::string> value = raw_row(batch, key);
  return value ? std::stoll(*value) : 0;
}

std::optional<json::object> CoreView::row(const std::string& key) const {
  std::optional<std::string> value = raw_row(key);
  if (!value) return std::nullopt;
  return json::parse(*value).as_object();
}

std::int64_t CoreView::counter(const std::string& key) const {
  std::optional<std::string> value = raw_row(key);
  return value ? std::stoll(*value) : 0;
}

void CoreView::start_conversation(const std::string& account, const json::object& data,
                                  std::int64_t created_ms, es::ViewBatch& batch) const {
  const std::string id = domain::text_of(data, "conversationId");
  const std::string created = domain::iso8601(created_ms);
  json::object summary{{"id", id},
                       {"agentId", domain::field(data, "agentId")},
                       {"phoneNumberId", domain::field(data, "numberId")},
                       {"phoneNumber", domain::field(data, "phoneNumber")},
                       {"participant", domain::field(data, "participant")},
                       {"lastMessageAt", created},
                       {"lastMessagePreview", ""},
                       {"messageCount", 0},
                       {"createdAt", created},
                       {"isGroup", false},
                       {"groupId", nullptr},
                       {"groupName", nullptr},
                       {"groupIconUrl", nullptr},
                       {"participants", nullptr},
                       {"metadata", nullptr}};
  batch.put("c/" + account + "/" + id, domain::to_json(summary));
  batch.put("cc/" + account, std::to_string(counter(batch, "cc/" + account) + 1));
  if (domain::field(data, "agentId").is_string()) {
    const std::string agent = domain::text_of(data, "agentId");
    batch.put("cac/" + agent, std::to_string(counter(batch, "cac/" + agent) + 1));
  }
}

void CoreView::apply_one(const es::RecordedEvent& event, es::ViewBatch& batch) {
  const std::string& type = event.type;
  if (type.rfind("account.", 0) != 0 && type.rfind("agent.", 0) != 0 &&
      type.rfind("number.", 0) != 0 && type.rfind("conversation.", 0) != 0 &&
      type.rfind("message.", 0) != 0 && type.rfind("idempotency.", 0) != 0 &&
      type.rfind("webhook.", 0) != 0 && type.rfind("call.", 0) != 0 &&
      type.rfind("email.", 0) != 0 && type.rfind("contact.", 0) != 0) {
    return;
  }
  const json::object data = json::parse(event.payload).as_object();
  const std::string account = domain::text_of(data, "accountId");
  apply_ledger(event, data, batch);
  apply_usage(event, data, batch);

  if (type == "account.api_key_created") {
    batch.put("k/" + domain::text_of(data, "sha256"),
              account + " " + domain::text_of(data, "sha256"));
  } else if (type == "account.api_key_revoked") {
    batch.erase("k/" + domain::text_of(data, "sha256"));
  } else if (type == "agent.created") {
    json::object agent;
    agent["id"] = domain::text_of(data, "agentId");
    for (const auto& [key, value] : domain::field(data, "config").as_object()) agent[key] = value;
    agent["createdAt"] = domain::iso8601(domain::field(data, "createdAtMs").as_int64());
    agent["numbers"] = json::array();
    batch.put(agent_key(account, domain::text_of(data, "agentId")), domain::to_json(agent));
    batch.put("gc/" + account, std::to_string(counter(batch, "gc/" + account) + 1));
  } else if (type == "agent.updated") {
    const std::string key = agent_key(account, domain::text_of(data, "agentId"));
    std::optional<json::object> agent = row(batch, key);
    if (!agent) return;
    for (const auto& [field, value] : domain::field(data, "changes").as_object())
      (*agent)[field] = value;
    batch.put(key, domain::to_json(*agent));
  } else if (type == "agent.deleted") {
    const std::string key = agent_key(account, domain::text_of(data, "agentId"));
    std::optional<json::object> agent = row(batch, key);
    if (!agent) return;
    // Numbers stay with the account, no longer attached to anyone.
    for (const json::value& attached : domain::field(*agent, "numbers").as_array()) {
      const std::string number_key =
          "n/" + account + "/" + std::string(domain::field(attached, "id").as_string());
      if (std::optional<json::object> number = row(batch, number_key)) {
        (*number)["agentId"] = nullptr;
        batch.put(number_key, domain::to_json(*number));
      }
    }
    batch.erase(key);
    batch.put("gc/" + account, std::to_string(counter(batch, "gc/" + account) - 1));
    // The agent's webhook goes with it; its events fall back to the project's.
    batch.erase("wh/" + account + "/agent-" + domain::text_of(data, "agentId"));
  } else if (type == "number.provisioned") {
    const std::string number_id = domain::text_of(data, "numberId");
    json::object number{
        {"id", number_id},
        {"phoneNumber", domain::text_of(data, "phoneNumber")},
        {"country", domain::text_of(data, "country")},
        {"status", "active"},
        {"type", "sms"},
        {"agentId", domain::field(data, "agentId")},
        {"createdAt", domain::iso8601(domain::field(data, "createdAtMs").as_int64())}};
    batch.put("n/" + account + "/" + number_id, domain::to_json(number));
    batch.put("nc/" + account, std::to_string(counter(batch, "nc/" + account) + 1));
    batch.put("p/" + domain::text_of(data, "phoneNumber"), account + " " + number_id);
    if (domain::field(data, "agentId").is_string()) {
      attach_to_agent(account, domain::text_of(data, "agentId"), number, batch);
    }
  } else if (type == "number.agent_attached" || type == "number.agent_detached" ||
             type == "number.released") {
    const std::string number_id = domain::text_of(data, "numberId");
    const std::string key = "n/" + account + "/" + number_id;
    std::optional<json::object> number = row(batch, key);
    if (!number) return;
    const json::value previous = (*number)["agentId"];
    if (previous.is_string()) {
      detach_from_agent(account, std::string(previous.as_string()), number_id, batch);
    }
    (*number)["agentId"] = nullptr;
    if (type == "number.agent_attached") {
      (*number)["agentId"] = domain::text_of(data, "agentId");
      attach_to_agent(account, domain::text_of(data, "agentId"), *number, batch);
    }
    if (type == "number.released") {
      (*number)["status"] = "released";
      batch.erase("p/" + std::string(domain::field(*number, "phoneNumber").as_string()));
      batch.put("nc/" + account, std::to_string(counter(batch, "nc/" + account) - 1));
    }
    batch.put(key, domain::to_json(*number));
  } else if (type == "conversation.started") {
    start_conversation(account, data, domain::field(data, "createdAtMs").as_int64(), batch);
  } else if (type == "conversation.metadata_updated") {
    const std::string conversation = domain::text_of(data, "conversationId");
    std::optional<json::object> summary = row(batch, "c/" + account + "/" + conversation);
    if (!summary) return;
    (*summary)["metadata"] = domain::field(data, "metadata");
    const std::optional<std::string> order = raw_row(batch, "ct/" + conversation);
    put_summary(account, conversation, order.value_or(""), *summary, batch);
  } else if (type == "message.queued" || type == "message.received") {
    apply_message(account, data, event.position, batch);
  } else if (type == "message.voice") {
    // A call's first line starts its conversation when the parties never texted.
    if (!raw_row(batch, "c/" + account + "/" + domain::text_of(data, "conversationId"))) {
      start_conversation(account, data, domain::field(data, "atMs").as_int64(), batch);
    }
    apply_message(account, data, event.position, batch);
  } else if (type == "webhook.configured") {
    batch.put("wh/" + account + "/" + domain::text_of(data, "entity"),
              domain::to_json(domain::field(data, "config")));
  } else if (type == "webhook.deleted") {
    batch.erase("wh/" + account + "/" + domain::text_of(data, "entity"));
  } else if (type.rfind("webhook.delivery_", 0) == 0) {
    apply_delivery(type, data, event.position, batch);
  } else if (type == "message.status_updated") {
    apply_status(data, batch);
  } else if (type.rfind("call.", 0) == 0) {
    apply_call(type, data, event.position, batch);
  } else if (type.rfind("contact.", 0) == 0) {
    apply_contact(type, data, batch);
  } else if (type == "email.claimed") {
    batch.put("e/" + domain::sha256_hex(domain::text_of(data, "email")), account);
  } else if (type == "idempotency.claimed") {
    batch.put("i/" + domain::text_of(data, "keyHash"),
              domain::to_json(json::object{{"fingerprint", domain::field(data, "fingerprint")},
                                           {"atMs", domain::field(data, "atMs")}}));
  } else if (type == "idempotency.completed") {
    const std::string key = "i/" + domain::text_of(data, "keyHash");
    std::optional<json::object> claim = row(batch, key);
    if (!claim) return;
    (*claim)["status"] = domain::field(data, "status");
    (*claim)["body"] = domain::field(data, "body");
    batch.put(key, domain::to_json(*claim));
  }
}

void CoreView::apply_delivery(const std::string& type, const json::object& data,
                              std::uint64_t position, es::ViewBatch& batch) const {
  const std::string account = domain::text_of(data, "accountId");
  const std::string id = domain::text_of(data, "deliveryId");
  if (type == "webhook.delivery_skipped") return;
  if (type == "webhook.delivery_created") {
    const std::int64_t created_ms = domain::field(data, "createdAtMs").as_int64();
    const std::string order = newest_first_key(created_ms, static_cast<std::int64_t>(position));
    const std::string entity = domain::text_of(data, "entity");
    const std::string agent = entity.rfind("agent-", 0) == 0 ? entity.substr(6) : "-";
    const bool test = domain::is_test_delivery(data);
    json::object delivery{{"id", id},
                          {"messageId", domain::field(data, "messageId")},
                          {"eventType", domain::field(data, "eventType")},
                          {"channel", domain::field(data, "channel")},
                          {"status", "pending"},
                          {"httpStatus", nullptr},
                          {"errorMessage", nullptr},
                          {"responseBody", nullptr},
                          {"attemptCount", 0},
                          {"lastAttemptAt", nullptr},
                          {"nextRetryAt", nullptr},
                          {"createdAt", domain::iso8601(created_ms)},
                          // The official MCP server's names for the same facts (contract G).
                          {"event", domain::field(data, "eventType")},
                          {"statusCode", nullptr},
                          {"success", false},
                          {"deliveredAt", nullptr},
                          {"responseMs", nullptr},
                          {"test", test}};
    batch.put("d/" + account + "/" + order + "/" + id, domain::to_json(delivery));
    const bool sent = domain::was_sent_when_recorded(data);
    const std::string pending_key = sent ? "-" : "dp/" + hex16(position);
    batch.put("dx/" + id, account + " " + order + " " + agent + " " + pending_key);
    if (agent != "-") batch.put("da/" + agent + "/" + order + "/" + id, "");
    batch.put("dc/" + account, std::to_string(counter(batch, "dc/" + account) + 1));
    // Sent already; its outcome is in the same append.
    if (sent) return;
    batch.put(pending_key, domain::to_json(json::object{
                               {"deliveryId", id},
                               {"accountId", account},
                               {"entity", entity},
                               {"conversationId", domain::field(data, "conversationId")},
                               {"eventType", domain::field(data, "eventType")},
                               {"body", domain::field(data, "body")},
                               {"attempts", 0},
                               {"nextAttemptAtMs", created_ms},
                               {"position", position}}));
    return;
  }
  // webhook.delivery_attempted or webhook.delivery_deferred
  std::optional<std::string> where = raw_row(batch, "dx/" + id);
  if (!where) return;
  const std::size_t a = where->find(' '), b = where->find(' ', a + 1), c = where->find(' ', b + 1);
  AP_ASSERT(c != std::string::npos, "a dx/ row has four fields");
  const std::string key = "d/" + account + "/" + where->substr(a + 1, b - a - 1) + "/" + id;
  const std::string pending_key = where->substr(c + 1);
  std::optional<json::object> delivery = row(batch, key);
  if (!delivery) return;
  // When the next attempt is due; none once the delivery is final.
  std::optional<std::int64_t> due_ms;
  const bool deferred = type == "webhook.delivery_deferred";
  const std::string status = deferred ? "pending" : domain::text_of(data, "status");
  if (deferred) {
    // Still pending, no attempt spent.
    due_ms = domain::field(data, "untilMs").as_int64();
  } else {
    (*delivery)["status"] = status;
    (*delivery)["httpStatus"] = domain::field(data, "httpStatus");
    (*delivery)["errorMessage"] = domain::field(data, "error");
    (*delivery)["responseBody"] = domain::field(data, "responseBody");
    (*delivery)["attemptCount"] = domain::field(data, "attempt");
    (*delivery)["lastAttemptAt"] = domain::iso8601(domain::field(data, "atMs").as_int64());
    (*delivery)["statusCode"] = domain::field(data, "httpStatus");
    (*delivery)["success"] = status == "delivered";
    (*delivery)["deliveredAt"] =
        status == "delivered" ? domain::field(*delivery, "lastAttemptAt") : json::value(nullptr);
    (*delivery)["responseMs"] = domain::field(data, "httpStatus").is_null()
                                    ? json::value(nullptr)
                                    : domain::field(data, "durationMs");
    const json::value& next = domain::field(data, "nextRetryAtMs");
    if (next.is_int64()) due_ms = next.as_int64();
  }
  (*delivery)["nextRetryAt"] =
      due_ms ? json::value(domain::iso8601(*due_ms)) : json::value(nullptr);
  batch.put(key, domain::to_json(*delivery));
  // The pending row moves to the time its next attempt is due, or goes once final.
  std::optional<json::object> pending;
  if (pending_key != "-") {
    pending = row(batch, pending_key);
    batch.erase(pending_key);
  }
  std::string now_pending = "-";
  if (due_ms && pending) {
    if (!deferred) (*pending)["attempts"] = domain::field(data, "attempt");
    (*pending)["nextAttemptAtMs"] = *due_ms;
    now_pending = "dr/" + hex16(static_cast<std::uint64_t>(*due_ms)) + "/" +
                  hex16(domain::field(*pending, "position").to_number<std::uint64_t>());
    batch.put(now_pending, domain::to_json(*pending));
  }
  batch.put("dx/" + id, where->substr(0, c + 1) + now_pending);
  if (status == "pending") return;
  const std::string tally = (status == "delivered" ? "dS/" : "dF/") + account;
  batch.put(tally, std::to_string(counter(batch, tally) + 1));
}

void CoreView::put_summary(const std::string& account, const std::string& conversation,
                           const std::string& order, const json::object& summary,
                           es::ViewBatch& batch) const {
  const std::string text = domain::to_json(summary);
  batch.put("c/" + account + "/" + conversation, text);
  if (order.empty()) return;  // Not listed until its first message.
  batch.put("cl/" + account + "/" + order + "/" + conversation, text);
  const json::value& agent = domain::field(summary, "agentId");
  if (agent.is_string()) {
    batch.put("ca/" + std::string(agent.as_string()) + "/" + order + "/" + conversation, text);
  }
}

void CoreView::apply_status(const json::object& data, es::ViewBatch& batch) const {
  const std::string message_id = domain::text_of(data, "messageId");
  std::optional<std::string> where = raw_row(batch, "mi/" + message_id);
  if (!where) return;
  // "<account> <conv id> <order> <number id>"
  const std::size_t a = where->find(' '), b = where->find(' ', a + 1), c = where->find(' ', b + 1);
  const std::string conversation = where->substr(a + 1, b - a - 1);
  const std::string order = where->substr(b + 1, c - b - 1);
  const std::string number = where->substr(c + 1);
  for (const std::string& key : {"m/" + conversation + "/" + order + "/" + message_id,
                                 "nm/" + number + "/" + order + "/" + message_id}) {
    std::optional<json::object> message = row(batch, key);
    if (!message) continue;
    (*message)["status"] = domain::field(data, "status");
    (*message)["errorCode"] = domain::field(data, "errorCode");
    (*message)["errorMessage"] = domain::field(data, "errorMessage");
    batch.put(key, domain::to_json(*message));
  }
  if (domain::field(data, "status") != "sent") batch.erase("op/" + message_id);
}

void CoreView::apply_message(const std::string& account, const json::object& data,
                             std::uint64_t position, es::ViewBatch& batch) const {
  const std::string conversation = domain::text_of(data, "conversationId");
  const std::string key = "c/" + account + "/" + conversation;
  std::optional<json::object> summary = row(batch, key);
  if (!summary) return;
  // The listed time strictly increases across each number's messages, so a
  // client walking any message list with `before`/`after` (an ISO time, ms
  // precision) sees every message exactly once. The conversation already
  // makes its own times strictly increase; this extends that to the number,
  // whose conversations may share a millisecond. A number busier than one
  // message per millisecond lists its messages slightly ahead of the clock.
  const std::string number_id = domain::text_of(data, "numberId");
  const std::string number_clock = "nt/" + number_id;
  const std::int64_t at_ms =
      std::max(domain::field(data, "atMs").as_int64(), counter(batch, number_clock) + 1);
  batch.put(number_clock, std::to_string(at_ms));
  const std::int64_t seq = domain::field(*summary, "messageCount").as_int64() + 1;
  const std::string at = domain::iso8601(at_ms);
  const std::string body = domain::text_of(data, "body");
  const json::array& media = domain::field(data, "mediaUrls").as_array();

  // Newest-first order indexes: the conversation moves to the front of its
  // account's (and agent's) list. The index rows carry the summary itself,
  // so that a page of conversations is one scan.
  const json::value& agent = domain::field(*summary, "agentId");
  if (std::optional<std::string> previous = raw_row(batch, "ct/" + conversation)) {
    batch.erase("cl/" + account + "/" + *previous + "/" + conversation);
    if (agent.is_string())
      batch.erase("ca/" + std::string(agent.as_string()) + "/" + *previous + "/" + conversation);
  }
  // Ties within one millisecond break by log position, which orders every
  // message of every conversation; a per-conversation count would rank a
  // long conversation above a newer message elsewhere.
  const std::string order = newest_first_key(at_ms, static_cast<std::int64_t>(position));
  batch.put("ct/" + conversation, order);
  (*summary)["lastMessageAt"] = at;
  (*summary)["lastMessagePreview"] = body.empty() && !media.empty()
                                         ? std::string("[media]")
                                         : std::string(domain::utf8_prefix(body, 100));
  (*summary)["messageCount"] = seq;
  put_summary(account, conversation, order, *summary, batch);

  const std::string message_id = domain::text_of(data, "messageId");
  json::object message{{"id", message_id},
                       {"body", body},
                       {"fromNumber", domain::field(data, "from")},
                       {"toNumber", domain::field(data, "to")},
                       {"direction", domain::field(data, "direction")},
                       {"senderIdentifier", domain::field(data, "from")},
                       {"channel", domain::field(data, "channel")},
                       {"mediaUrl", media.empty() ? json::value(nullptr) : media.front()},
                       {"mediaUrls", media},
                       {"receivedAt", at},
                       {"reactions", json::array()},
                       {"replyTo", nullptr},
                       {"status", domain::field(data, "status")},
                       {"errorCode", nullptr},
                       {"errorMessage", nullptr},
                       {"segments", domain::field(data, "segments")}};
  batch.put("m/" + conversation + "/" + order + "/" + message_id, domain::to_json(message));
  batch.put("mi/" + message_id, account + " " + conversation + " " + order + " " + number_id);
  // A call's lines thread into the conversation only: they never went
  // through the carrier's SMS path, and the number's list is its texts.
  if (domain::field(data, "channel") == "voice") return;
  if (domain::field(data, "direction") == "outbound") {
    batch.put("op/" + message_id, domain::to_json(data));
    batch.put("ob/" + order + "/" + message_id, "");
  }
  // Number messages (MessageResponse): the spec's `from_` and the clients' `from`.
  json::object number_message{{"id", message_id},
                              {"from_", domain::field(data, "from")},
                              {"from", domain::field(data, "from")},
                              {"to", domain::field(data, "to")},
                              {"body", body},
                              {"direction", domain::field(data, "direction")},
                              {"channel", domain::field(data, "channel")},
                              {"receivedAt", at},
                              {"conversationId", conversation},
                              {"status", domain::field(data, "status")},
                              {"errorCode", nullptr},
                              {"errorMessage", nullptr}};
  batch.put("nm/" + number_id + "/" + order + "/" + message_id, domain::to_json(number_message));
}

std::string CoreView::hex16(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string CoreView::newest_first_key(std::int64_t at_ms, std::int64_t seq) {
  // Inverted, fixed-width hex sorts newest first; the sequence (a log
  // position) breaks ties between rows of the same millisecond.
  char text[34];
  std::snprintf(text, sizeof text, "%016llx%016llx",
                static_cast<unsigned long long>(~static_cast<std::uint64_t>(at_ms)),
                static_cast<unsigned long long>(~static_cast<std::uint64_t>(seq)));
  return text;
}

void CoreView::attach_to_agent(const std::string& account, const std::string& agent_id,
                               const json::object& number, es::ViewBatch& batch) const {
  const std::string key = agent_key(account, agent_id);
  std::optional<json::object> agent = row(batch, key);
  if (!agent) return;
  domain::field(*agent, "numbers")
      .as_array()
      .push_back(json::object{{"id", domain::field(number, "id")},
                              {"phoneNumber", domain::field(number, "phoneNumber")},
                              {"status", domain::field(number, "status")},
                              {"type", "sms"}});
  batch.put(key, domain::to_json(*agent));
}

void CoreView::detach_from_agent(const std::string& account, const std::string& agent_id,
                                 const std::string& number_id, es::ViewBatch& batch) const {
  const std::string key = agent_key(account, agent_id);
  std::optional<json::object> agent = row(batch, key);
  if (!agent) return;  // The agent was deleted; its rows are gone already.
  json::array& numbers = domain::field(*agent, "numbers").as_array();
  for (auto it = numbers.begin(); it != numbers.end(); ++it) {
    if (domain::field(*it, "id").as_string() == number_id) {
      numbers.erase(it);
      break;
    }
  }
  batch.put(key, domain::to_json(*agent));
}

std::optional<std::string> CoreView::account_for_email(const std::string& normalized_email) const {
  return raw_row("e/" + domain::sha256_hex(normalized_email));
}

std::optional<std::string> CoreView::account_for_key(const std::string& sha256_hex) const {
  std::string row;
  if (!es::found(store_.get_view(name_, "k/" + sha256_hex, &row))) return std::nullopt;
  const std::size_t space = row.find(' ');
  if (space == std::string::npos) return std::nullopt;
  // The row is found by the hash; the stored hash is still compared in
  // constant time so that no code path compares key material byte by byte.
  if (!domain::constant_time_equal(std::string_view(row).substr(space + 1), sha256_hex)) {
    return std::nullopt;
  }
  return row.substr(0, space);
}

std::optional<std::string> CoreView::agent(const std::string& account,
                                           const std::string& agent_id) const {
  // Ids never hold '/'; one that does (URL-encoded) must not reach other rows.
  if (agent_id.find('/') != std::string::npos) return std::nullopt;
  return raw_row(agent_key(account, agent_id));
}

Page CoreView::offset_page(
    const std::string& prefix, const std::string& total_key, std::uint64_t offset,
    std::uint64_t limit,
    const std::function<std::optional<std::string>(std::string_view key, std::string_view value)>&
        item) const {
  Page page;
  page.total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, counter(total_key)));
  std::uint64_t index = 0;
  scan(prefix, "", [&](std::string_view key, std::string_view value) {
    std::optional<std::string> wire = item(key, value);
    if (!wire) return true;
    if (index++ < offset) return true;
    if (page.items.size() == limit) {
      page.has_more = true;
      return false;
    }
    page.items.push_back(std::move(*wire));
    return true;
  });
  return page;
}

Page CoreView::agents(const std::string& account, std::uint64_t offset, std::uint64_t limit) const {
  return offset_page(
      "g/" + account + "/", "gc/" + account, offset, limit,
      [](std::string_view, std::string_view value) { return std::optional<std::string>(value); });
}

std::optional<std::string> CoreView::number(const std::string& account,
                                            const std::string& number_id) const {
  if (number_id.find('/') != std::string::npos) return std::nullopt;
  return raw_row("n/" + account + "/" + number_id);
}

Page CoreView::numbers(const std::string& account, std::uint64_t offset,
                       std::uint64_t limit) const {
  return offset_page("n/" + account + "/", "nc/" + account, offset, limit,
                     [](std::string_view, std::string_view value) -> std::optional<std::string> {
                       if (domain::field(json::parse(value), "status").as_string() != "active") {
                         return std::nullopt;
                       }
                       return std::string(value);
                     });
}

std::optional<std::pair<std::string, std::string>> CoreView::number_by_phone(
    const std::string& e164) const {
  std::optional<std::string> value = raw_row("p/" + e164);
  if (!value) return std::nullopt;
  const std::size_t space = value->find(' ');
  return std::make_pair(value->substr(0, space), value->substr(space + 1));
}

std::vector<std::pair<std::string, std::string>> CoreView::active_numbers() const {
  std::vector<std::pair<std::string, std::string>> out;
  scan("p/", "", [&](std::string_view, std::string_view value) {
    const std::size_t space = value.find(' ');
    out.emplace_back(std::string(value.substr(space + 1)), std::string(value.substr(0, space)));
    return true;
  });
  return out;
}

std::optional<std::string> CoreView::conversation(const std::string& account,
                                                  const std::string& id) const {
  if (id.find('/') != std::string::npos) return std::nullopt;
  return raw_row("c/" + account + "/" + id);
}

Page CoreView::conversations(const std::string& account, const std::string& agent_id,
                             std::uint64_t offset, std::uint64_t limit) const {
  const bool by_agent = !agent_id.empty();
  return offset_page(
      by_agent ? "ca/" + agent_id + "/" : "cl/" + account + "/",
      by_agent ? "cac/" + agent_id : "cc/" + account, offset, limit,
      [](std::string_view, std::string_view value) { return std::optional<std::string>(value); });
}

Page CoreView::messages(const std::string& prefix, std::int64_t before_ms, std::int64_t after_ms,
                        std::uint64_t limit) const {
  Page page;
  // Keys sort newest first; `before` starts the scan at the first key older
  // than it, `after` stops it at the first key not newer than it.
  const std::string start = before_ms > 0 ? prefix + newest_first_key(before_ms - 1, -1) : "";
  const std::string stop = after_ms > 0 ? prefix + newest_first_key(after_ms, -1) : "";
  scan(prefix, start, [&](std::string_view key, std::string_view value) {
    if (!stop.empty() && key >= stop) return false;
    if (page.items.size() == limit) {
      page.has_more = true;
      return false;
    }
    page.items.emplace_back(value);
    return true;
  });
  return page;
}

std::vector<json::object> CoreView::pending_outbound() const {
  std::vector<json::object> pending;
  scan("op/", "", [&](std::string_view, std::string_view value) {
    pending.push_back(json::parse(value).as_object());
    return true;
  });
  return pending;
}

Page CoreView::outbound(std::uint64_t limit) const {
  Page page;
  scan("ob/", "", [&](std::string_view key, std::string_view) {
    if (page.items.size() == limit) {
      page.has_more = true;
      return false;
    }
    const std::string message_id(key.substr(key.rfind('/') + 1));
    std::optional<std::string> where = raw_row("mi/" + message_id);
    if (!where) return true;
    const std::size_t a = where->find(' '), b = where->find(' ', a + 1);
    const std::string conversation = where->substr(a + 1, b - a - 1);
    const std::string order(key.substr(3, key.rfind('/') - 3));
    std::optional<json::object> message = row("m/" + conversation + "/" + order + "/" + message_id);
    if (!message) return true;
    (*message)["accountId"] = where->substr(0, a);
    (*message)["conversationId"] = conversation;
    page.items.push_back(domain::to_json(*message));
    return true;
  });
  return page;
}

std::optional<json::object> CoreView::idempotency(const std::string& key_hash) const {
  return row("i/" + key_hash);
}

std::optional<std::string> CoreView::webhook(const std::string& account,
                                             const std::string& entity) const {
  if (entity.find('/') != std::string::npos) return std::nullopt;
  return raw_row("wh/" + account + "/" + entity);
}

std::vector<json::object> CoreView::pending_deliveries() const {
  std::vector<json::object> pending = first_attempts_after(0, SIZE_MAX);
  for (json::object& retry : retries_due(INT64_MAX, SIZE_MAX)) pending.push_back(std::move(retry));
  return pending;
}

std::vector<json::object> CoreView::first_attempts_after(std::uint64_t after,
                                                         std::size_t limit) const {
  std::vector<json::object> rows;
  if (limit == 0 || after == UINT64_MAX) return rows;
  scan("dp/", "dp/" + hex16(after + 1), [&](std::string_view, std::string_view value) {
    rows.push_back(json::parse(value).as_object());
    return rows.size() < limit;
  });
  return rows;
}

std::vector<json::object> CoreView::retries_due(std::int64_t until_ms, std::size_t limit) const {
  std::vector<json::object> rows;
  if (limit == 0) return rows;
  // Keys sort by due time: stop at the first one due after until_ms.
  const std::string until = hex16(static_cast<std::uint64_t>(until_ms));
  scan("dr/", "", [&](std::string_view key, std::string_view value) {
    if (key.substr(3, 16) > until) return false;
    rows.push_back(json::parse(value).as_object());
    return rows.size() < limit;
  });
  return rows;
}

std::optional<std::int64_t> CoreView::next_retry_due_after(std::int64_t after_ms) const {
  std::optional<std::int64_t> due;
  const std::string start = "dr/" + hex16(static_cast<std::uint64_t>(after_ms) + 1);
  scan("dr/", start, [&](std::string_view, std::string_view value) {
    due = domain::field(json::parse(value).as_object(), "nextAttemptAtMs").as_int64();
    return false;
  });
  return due;
}

Page CoreView::deliveries(const std::string& account, const std::string& agent_id,
                          std::int64_t since_ms, std::uint64_t offset, std::uint64_t limit) const {
  Page page;
  // Keys sort newest first, so a time window ends the scan at the first
  // key older than it.
  const bool by_agent = !agent_id.empty();
  const std::string prefix = by_agent ? "da/" + agent_id + "/" : "d/" + account + "/";
  const std::string stop = since_ms > 0 ? prefix + newest_first_key(since_ms - 1, -1) : "";
  std::uint64_t index = 0;
  const bool counted = since_ms == 0 && !by_agent;
  if (counted) page.total = static_cast<std::uint64_t>(counter("dc/" + account));
  scan(prefix, "", [&](std::string_view key, std::string_view value) {
    if (!stop.empty() && key > stop) return false;
    if (counted && page.items.size() == limit) return false;
    const std::uint64_t at = index++;
    if (!counted) ++page.total;
    if (at < offset || page.items.size() == limit) return true;
    if (by_agent) {
      const std::string id(key.substr(key.rfind('/') + 1));
      const std::string order(key.substr(prefix.size(), 32));
      if (std::optional<std::string> item = raw_row("d/" + account + "/" + order + "/" + id)) {
        page.items.push_back(std::move(*item));
      }
    } else {
      page.items.emplace_back(value);
    }
    return true;
  });
  page.has_more = offset + page.items.size() < page.total;
  return page;
}

void CoreView::each_delivery(const std::string& account, std::int64_t since_ms,
                             const std::function<void(const json::object&)>& visit) const {
  const std::string prefix = "d/" + account + "/";
  const std::string stop = since_ms > 0 ? prefix + newest_first_key(since_ms - 1, -1) : "";
  scan(prefix, "", [&](std::string_view key, std::string_view value) {
    if (!stop.empty() && key > stop) return false;
    visit(json::parse(value).as_object());
    return true;
  });
}

std::array<std::int64_t, 3> CoreView::delivery_counts(const std::string& account) const {
  return {counter("dc/" + account), counter("dS/" + account), counter("dF/" + account)};
}

}  // namespace ap::projections
