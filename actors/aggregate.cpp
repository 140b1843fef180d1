#include "actors/aggregate.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "actors/billing.hpp"
#include "actors/invariant.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

AnyState empty_state(EntityKind kind, const std::string& id) {
  switch (kind) {
    case EntityKind::kAccount: {
      domain::AccountState s;
      s.id = id;
      return s;
    }
    case EntityKind::kAgent: {
      domain::AgentState s;
      s.id = id;
      return s;
    }
    case EntityKind::kNumber: {
      domain::NumberState s;
      s.id = id;
      return s;
    }
    case EntityKind::kConversation: {
      domain::ConversationState s;
      s.id = id;
      return s;
    }
    case EntityKind::kWebhook: {
      domain::WebhookState s;
      s.id = id;
      return s;
    }
    case EntityKind::kDelivery: {
      domain::DeliveryState s;
      s.id = id;
      return s;
    }
    case EntityKind::kCall: {
      domain::CallState s;
      s.id = id;
      return s;
    }
    case EntityKind::kVerification: {
      domain::VerificationState s;
      s.id = id;
      return s;
    }
    case EntityKind::kContacts: {
      domain::ContactBookState s;
      s.id = id;
      return s;
    }
  }
  return domain::AccountState{};
}

}  // namespace

std::string stream_name(EntityKind kind, const std::string& id) {
  switch (kind) {
    case EntityKind::kAccount: return domain::account_stream(id);
    case EntityKind::kAgent: return domain::agent_stream(id);
    case EntityKind::kNumber: return domain::number_stream(id);
    case EntityKind::kConversation: return domain::conversation_stream(id);
    case EntityKind::kWebhook: return "webhook-" + id;
    case EntityKind::kDelivery: return domain::delivery_stream(id);
    case EntityKind::kCall: return "call-" + id;
    case EntityKind::kVerification: return domain::verification_stream(id);
    case EntityKind::kContacts: return domain::contacts_stream(id);
  }
  return "";
}

namespace {

domain::Decision decide_any(const AnyState& state, const domain::Command& command,
                            const domain::Context& context) {
  return std::visit(
      [&](const auto& s) -> domain::Decision {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          return domain::decide_account(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          return domain::decide_agent(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::NumberState>) {
          return domain::decide_number(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::ConversationState>) {
          return domain::decide_conversation(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::WebhookState>) {
          return domain::decide_webhook(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::CallState>) {
          return domain::decide_call(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::VerificationState>) {
          return domain::decide_verification(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::ContactBookState>) {
          return domain::decide_contacts(s, command, context);
        } else {
          return domain::decide_delivery(s, command, context);
        }
      },
      state);
}

void evolve(AnyState& state, const std::string& type, const json::object& data) {
  std::visit(
      [&](auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          domain::evolve_account(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          domain::evolve_agent(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::NumberState>) {
          domain::evolve_number(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::ConversationState>) {
          domain::evolve_conversation(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::WebhookState>) {
          domain::evolve_webhook(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::CallState>) {
          domain::evolve_call(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::VerificationState>) {
          domain::evolve_verification(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::ContactBookState>) {
          domain::evolve_contacts(s, type, data);
        } else {
          domain::evolve_delivery(s, type, data);
        }
      },
      state);
}

// A snapshot is the aggregate's state as JSON, tagged with its stream version.
json::object snapshot_of(const AnyState& state) {
  return std::visit(
      [](const auto& s) -> json::object {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          json::object keys;
          for (const auto& [id, key] : s.keys) {
            keys[id] = json::object{{"prefix", key.prefix},
                                    {"sha256", key.sha256},
                                    {"createdAtMs", key.created_at_ms},
                                    {"revoked", key.revoked}};
          }
          return {{"exists", s.exists},
                  {"email", s.email},
                  {"activeNumbers", s.active_numbers},
                  {"keys", keys}};
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          return {{"exists", s.exists},
                  {"deleted", s.deleted},
                  {"accountId", s.account_id},
                  {"createdAtMs", s.created_at_ms},
                  {"config", s.config}};
        } else if constexpr (std::is_same_v<T, domain::WebhookState>) {
          return domain::webhook_snapshot(s);
        } else if constexpr (std::is_same_v<T, domain::DeliveryState>) {
          return domain::delivery_snapshot(s);
        } else if constexpr (std::is_same_v<T, domain::CallState>) {
          return domain::call_snapshot(s);
        } else if constexpr (std::is_same_v<T, domain::VerificationState>) {
          return domain::verification_snapshot(s);
        } else if constexpr (std::is_same_v<T, domain::ContactBookState>) {
          return domain::contacts_snapshot(s);
        } else if constexpr (std::is_same_v<T, domain::ConversationState>) {
          json::object pending;
          for (const auto& [id, status] : s.pending) pending[id] = status;
          json::array recent;
          for (const domain::HistoryItem& m : s.recent) {
            recent.push_back(json::array{json::string(m.message_id), json::string(m.content),
                                         json::string(m.direction), json::string(m.channel),
                                         json::string(m.at)});
          }
          return {{"exists", s.exists},
                  {"accountId", s.account_id},
                  {"numberId", s.number_id},
                  {"phoneNumber", s.phone_number},
                  {"participant", s.participant},
                  {"agentId", s.agent_id},
                  {"metadata", s.metadata},
                  {"messageCount", s.message_count},
                  {"createdAtMs", s.created_at_ms},
                  {"pending", pending},
                  {"recent", recent},
                  {"lastMessageAtMs", s.last_message_at_ms}};
        } else {
          return {{"exists", s.exists},
                  {"accountId", s.account_id},
                  {"phoneNumber", s.phone_number},
                  {"country", s.country},
                  {"status", s.status},
                  {"agentId", s.agent_id},
                  {"createdAtMs", s.created_at_ms},
                  {"paidUntilMs", s.paid_until_ms},
                  {"graceUntilMs", s.grace_until_ms}};
        }
      },
      state);
}

void restore_snapshot(AnyState& state, const json::object& o) {
  auto str = [&](const char* k) { return std::string(domain::field(o, k).as_string()); };
  std::visit(
      [&](auto& s) {
        using T = std::decay_t<decltype(s)>;
        s.exists = domain::field(o, "exists").as_bool();
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          s.email = str("email");
          s.active_numbers = static_cast<int>(domain::field(o, "activeNumbers").as_int64());
          for (const auto& [id, k] : domain::field(o, "keys").as_object()) {
            const json::object& key = k.as_object();
            s.keys[std::string(id)] =
                domain::ApiKeyState{std::string(domain::field(key, "prefix").as_string()),
                                    std::string(domain::field(key, "sha256").as_string()),
                                    domain::field(key, "createdAtMs").as_int64(),
                                    domain::field(key, "revoked").as_bool()};
          }
        } else if constexpr (std::is_same_v<T, domain::WebhookState>) {
          domain::restore_webhook(s, o);
        } else if constexpr (std::is_same_v<T, domain::DeliveryState>) {
          domain::restore_delivery(s, o);
        } else if constexpr (std::is_same_v<T, domain::CallState>) {
          domain::restore_call(s, o);
        } else if constexpr (std::is_same_v<T, domain::VerificationState>) {
          domain::restore_verification(s, o);
        } else if constexpr (std::is_same_v<T, domain::ContactBookState>) {
          domain::restore_contacts(s, o);
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          s.deleted = domain::field(o, "deleted").as_bool();
          s.account_id = str("accountId");
          s.created_at_ms = domain::field(o, "createdAtMs").as_int64();
          s.config = domain::field(o, "config").as_object();
        } else if constexpr (std::is_same_v<T, domain::ConversationState>) {
          s.account_id = str("accountId");
          s.number_id = str("numberId");
          s.phone_number = str("phoneNumber");
          s.participant = str("participant");
          s.agent_id = domain::field(o, "agentId");
          s.metadata = domain::field(o, "metadata");
          s.message_count = domain::field(o, "messageCount").as_int64();
          s.created_at_ms = domain::field(o, "createdAtMs").as_int64();
          if (const json::value* last = o.if_contains("lastMessageAtMs")) {
            s.last_message_at_ms = last->as_int64();
          }
          if (const json::value* recent = o.if_contains("recent")) {
            for (const json::value& m : recent->as_array()) {
              auto text = [&](std::size_t i) {
                return std::string(domain::element(m, i).as_string());
              };
              s.recent.push_back({text(0), text(1), text(2), text(3), text(4)});
            }
          }
          // Snapshots written before carrier reports existed have no "pending".
          if (const json::value* pending = o.if_contains("pending")) {
            for (const auto& [id, status] : pending->as_object()) {
              s.pending[std::string(id)] = std::string(status.as_string());
            }
          }
        } else {
          s.account_id = str("accountId");
          s.phone_number = str("phoneNumber");
          s.country = str("country");
          s.status = str("status");
          s.agent_id = str("agentId");
          s.created_at_ms = domain::field(o, "createdAtMs").as_int64();
          // Snapshots written before renewals existed count from provisioning.
          const json::value* paid = o.if_contains("paidUntilMs");
          s.paid_until_ms = paid != nullptr
                                ? paid->as_int64()
                                : s.created_at_ms + domain::rate_card_at(0).number_period_ms;
          const json::value* grace = o.if_contains("graceUntilMs");
          s.grace_until_ms = grace != nullptr ? grace->as_int64() : 0;
        }
      },
      state);
}

}  // namespace

es::Status load_aggregate(const es::EventStore& store, EntityKind kind, const std::string& id,
                          Aggregate* out) {
  Aggregate aggregate;
  aggregate.kind = kind;
  aggregate.id = id;
  aggregate.stream = stream_name(kind, id);
  aggregate.state = empty_state(kind, id);
  // A new entity (every create) has no stream: one cheap lookup instead of a
  // snapshot read and an iterator.
  std::uint64_t last_version = 0;
  if (es::Status s = store.stream_version(aggregate.stream, &last_version); !s.ok()) return s;
  if (last_version > 0) {
    std::optional<es::Snapshot> snapshot;
    if (es::Status s = store.load_snapshot(aggregate.stream, &snapshot); !s.ok()) return s;
    if (snapshot) {
      restore_snapshot(aggregate.state, json::parse(snapshot->bytes).as_object());
      aggregate.version = snapshot->version;
      aggregate.snapshot_version = snapshot->version;
    }
  }
  std::vector<es::RecordedEvent> tail;
  // Bounded: each round reads at least one event or stops.
  while (aggregate.version < last_version) {
    if (es::Status s = store.read_stream(aggregate.stream, aggregate.version + 1, 1000, &tail);
        !s.ok()) {
      return s;
    }
    // stream_version counts appends written and not yet synced, which read
    // only once synced: decide on what is readable, and the append's version
    // check sends the command round again if the log is already past it.
    if (tail.empty()) break;
    for (const es::RecordedEvent& event : tail) {
      AP_ASSERT(event.version == aggregate.version + 1, "stream versions are dense");
      evolve(aggregate.state, event.type, json::parse(event.payload).as_object());
      aggregate.version = event.version;
    }
  }
  *out = std::move(aggregate);
  return es::Status::Ok();
}

domain::Decision decide(const Aggregate& aggregate, const domain::Command& command,
                        const domain::Context& context) {
  return decide_any(aggregate.state, command, context);
}

std::vector<es::StreamAppend> to_appends(const Aggregate& aggregate,
                                         const std::vector<domain::Event>& events) {
  std::vector<es::StreamAppend> parts;
  auto part_for = [&](const std::string& stream,
                      es::ExpectedVersion expected) -> es::StreamAppend& {
    for (es::StreamAppend& p : parts) {
      if (p.stream == stream) return p;
    }
    parts.push_back(es::StreamAppend{stream, expected, {}});
    return parts.back();
  };
  for (const domain::Event& event : events) {
    es::StreamAppend& part =
        event.stream.empty()
            ? part_for(aggregate.stream, aggregate.version == 0
                                             ? es::ExpectedVersion::no_stream()
                                             : es::ExpectedVersion::exact(aggregate.version))
            : part_for(event.stream, event.new_stream ? es::ExpectedVersion::no_stream()
                                                      : es::ExpectedVersion::any());
    part.events.push_back(es::NewEvent{event.type, domain::to_json(event.data)});
  }
  return parts;
}

void apply_own(Aggregate& aggregate, const std::vector<domain::Event>& events) {
  for (const domain::Event& event : events) {
    if (!event.stream.empty()) continue;
    evolve(aggregate.state, event.type, event.data);
    ++aggregate.version;
  }
}

void snapshot_if_due(es::EventStore& store, Aggregate& aggregate, std::uint64_t every) {
  if (aggregate.version - aggregate.snapshot_version < every) return;
  store.save_snapshot(
      aggregate.stream,
      es::Snapshot{aggregate.version, domain::to_json(snapshot_of(aggregate.state))});
  aggregate.snapshot_version = aggregate.version;
}

}  // namespace ap::actors
