// Webhook configuration, delivery history and test sends (contract B.6, B.7, C).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>

#include "actors/secrets.hpp"
#include "actors/webhook.hpp"
#include "http/api_internal.hpp"

namespace ap::http {

namespace {

constexpr std::int64_t kMaxHours = 24 * 366;

Response webhook_or_null(std::optional<std::string> webhook) {
  return raw_json_response(webhook ? std::move(*webhook) : std::string("null"));
}

// Reads the optional `hours` window into a start time (0 = no window).
bool query_since(const Query& q, std::int64_t now_ms, std::int64_t fallback_hours,
                 std::int64_t* since_ms, std::vector<FieldError>& errors) {
  std::int64_t hours = 0;
  if (!query_int(q, "hours", fallback_hours, 1, kMaxHours, &hours, errors)) return false;
  *since_ms = hours > 0 ? now_ms - hours * 3'600'000 : 0;
  return true;
}

double success_rate(std::int64_t success, std::int64_t failed) {
  // Share of finished deliveries that were delivered, in percent.
  const std::int64_t finished = success + failed;
  return finished == 0 ? 0.0 : static_cast<double>(success * 10000 / finished) / 100.0;
}

}  // namespace

// POST/GET/DELETE of one webhook entity, shared by the project's and an agent's.
// `agent_id` is null for the project webhook.
static void webhook_config(Api::Impl& api, const Call& call, const std::string& entity,
                           const json::value& agent_id) {
  const std::string& method = call.request.method;
  const std::string account = call.account;
  const Responder& reply = call.reply;
  if (method == "GET") {
    return api.after_own_writes(account, [&api, account, entity, reply] {
      reply(webhook_or_null(api.view.webhook(account, entity)));
    });
  }
  if (method == "DELETE") {
    return api.command(EntityKind::kWebhook, entity, {"webhook.delete", account, {}}, reply,
                       [](const CommandResult&) {
                         return json_response(json::object{{"success", true}});
                       });
  }
  if (method != "POST") return call.method_not_allowed();
  json::object body;
  if (!call.body_object(&body)) return;
  const json::value* url = body.if_contains("url");
  if (url == nullptr || url->is_null()) {
    return reply(validation_response({{"url", "Field required", "missing"}}, "body"));
  }
  if (!url->is_string()) {
    return reply(
        validation_response({{"url", "Input should be a valid string", "string_type"}}, "body"));
  }
  domain::WebhookUrl parsed;
  if (std::string why =
          domain::parse_webhook_url(std::string(url->as_string()), api.production, &parsed);
      !why.empty()) {
    return reply(validation_response({{"url", why, "url_parsing"}}, "body"));
  }
  json::object args{{"webhookId", api.ids.new_id("wh_")},
                    {"agentId", agent_id},
                    {"url", *url},
                    {"contextLimit", domain::field_or(body, "contextLimit", nullptr)},
                    {"timeout", domain::field_or(body, "timeout", nullptr)}};
  api.command(EntityKind::kWebhook, entity, {"webhook.set", account, std::move(args)}, reply,
              [&api, account, entity](const CommandResult&) {
                return webhook_or_null(api.view.webhook(account, entity));
              });
}

// POST …/test: a fake agent.message to the webhook, answered with the
// outcome once the send is in the delivery history (marked `test`).
static void webhook_test(Api::Impl& api, const Call& call, const std::string& entity,
                         const json::value& agent_id) {
  if (call.request.method != "POST") return call.method_not_allowed();
  const std::string account = call.account;
  api.after_own_writes(account, [&api, account, entity, agent_id, reply = call.reply] {
    if (!api.view.webhook(account, entity)) {
      return reply(not_found_response("No webhook is configured"));
    }
    api.webhooks.send_test(account, entity, agent_id,
                           [&api, account, reply](json::object outcome, json::object record) {
                             if (record.empty()) return reply(json_response(outcome));
                             const std::string id(domain::field(record, "deliveryId").as_string());
                             api.command(EntityKind::kDelivery, id,
                                         {"delivery.record_test", account, std::move(record)},
                                         reply,
                                         [outcome = std::move(outcome)](const CommandResult&) {
                                           return json_response(outcome);
                                         });
                           });
  });
}

// /v1/webhooks, /v1/webhooks/test, /v1/webhooks/deliveries[/stats|/all-time]
void Api::Impl::route_webhooks(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  const std::string project = domain::project_webhook_entity(account);
  if (p.size() == 2) {
    *call.route_label = "/v1/webhooks";
    return webhook_config(*this, call, project, nullptr);
  }
  if (p.size() == 3 && p[2] == "test") {
    *call.route_label = "/v1/webhooks/test";
    json::value agent = nullptr;
    if (const std::string* given = call.query.get("agentId")) {
      agent = *given;
    } else if (projections::Page first = view.agents(account, 0, 1); !first.items.empty()) {
      agent = domain::field(json::parse(first.items.front()), "id");
    }
    if (agent.is_string() && !view.agent(account, std::string(agent.as_string()))) {
      return reply(agent_or_404(std::nullopt));
    }
    return webhook_test(*this, call, project, agent);
  }
  if (p.size() < 3 || p[2] != "deliveries" || p.size() > 4) return call.unknown_route();
  if (call.request.method != "GET") return call.method_not_allowed();
  std::vector<FieldError> errors;
  if (p.size() == 3) {
    *call.route_label = "/v1/webhooks/deliveries";
    std::int64_t limit = 50, offset = 0, since_ms = 0;
    query_int(call.query, "limit", 50, 1, 100, &limit, errors);
    query_int(call.query, "offset", 0, 0, 1'000'000'000, &offset, errors);
    query_since(call.query, clock.now_ms(), 0, &since_ms, errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    return after_own_writes(account, [this, account, limit, offset, since_ms, reply] {
      // Both clients' envelopes in one object (contract G): the SDK reads
      // items/offset/limit, the official MCP server data/hasMore.
      const projections::Page page = view.deliveries(account, "", since_ms, offset, limit);
      const std::string items = json_array(page.items);
      reply(raw_json_response(
          "{\"items\":" + items + ",\"data\":" + items + ",\"total\":" +
          std::to_string(page.total) + ",\"hasMore\":" + (page.has_more ? "true" : "false") +
          ",\"offset\":" + std::to_string(offset) + ",\"limit\":" + std::to_string(limit) + "}"));
    });
  }
  if (p[3] == "all-time") {
    *call.route_label = "/v1/webhooks/deliveries/all-time";
    return after_own_writes(account, [this, account, reply] {
      const auto [total, success, failed] = view.delivery_counts(account);
      reply(json_response(json::object{{"total", total},
                                       {"success", success},
                                       {"failed", failed},
                                       {"successRate", success_rate(success, failed)}}));
    });
  }
  if (p[3] != "stats") return call.unknown_route();
  *call.route_label = "/v1/webhooks/deliveries/stats";
  std::int64_t since_ms = 0;
  query_since(call.query, clock.now_ms(), 24, &since_ms, errors);
  if (!errors.empty()) return reply(validation_response(errors, "query"));
  after_own_writes(account, [this, account, since_ms, reply] {
    std::int64_t total = 0, success = 0, failed = 0, pending = 0;
    std::map<std::string, std::map<std::string, std::int64_t>> by_type;
    std::map<std::string, std::map<std::string, std::int64_t>> by_hour;  // ISO hour -> counts.
    view.each_delivery(account, since_ms, [&](const json::object& d) {
      const std::string status(domain::field(d, "status").as_string());
      const std::string bucket = status == "delivered" ? "success"
                                 : status == "failed"  ? "failed"
                                                       : "pending";
      ++total;
      (bucket == "success" ? success : bucket == "failed" ? failed : pending)++;
      const json::value& event_type = domain::field(d, "eventType");
      const std::string type =
          event_type.is_string() ? std::string(event_type.get_string()) : "unknown";
      ++by_type[type][bucket];
      ++by_type[type]["total"];
      const std::string hour =
          std::string(domain::field(d, "createdAt").as_string()).substr(0, 13) + ":00:00Z";
      ++by_hour[hour][bucket];
      ++by_hour[hour]["total"];
    });
    json::object types;
    for (const auto& [type, counts] : by_type) {
      json::object c;
      for (const auto& [k, v] : counts) c[k] = v;
      types[type] = std::move(c);
    }
    json::array hours;
    for (const auto& [hour, counts] : by_hour) {
      json::object h{{"hour", hour}};
      for (const char* k : {"total", "success", "failed", "pending"}) {
        auto it = counts.find(k);
        h[k] = it == counts.end() ? 0 : it->second;
      }
      hours.push_back(std::move(h));
    }
    reply(json_response(json::object{{"total", total},
                                     {"success", success},
                                     {"failed", failed},
                                     {"pending", pending},
                                     {"successRate", success_rate(success, failed)},
                                     {"byEventType", std::move(types)},
                                     {"byHour", std::move(hours)}}));
  });
}

// /v1/agents/{id}/webhook[/deliveries|/test]
void Api::Impl::route_agent_webhook(const Call& call, const std::string& agent_id) {
  const std::vector<std::string>& p = call.parts;
  const std::string account = call.account;
  const Responder& reply = call.reply;
  if (p.size() > 5) return call.unknown_route();
  // Agents are in the view before their creation is acknowledged.
  if (!view.agent(account, agent_id)) return reply(agent_or_404(std::nullopt));
  const std::string entity = domain::agent_webhook_entity(agent_id);
  if (p.size() == 4) {
    *call.route_label = "/v1/agents/{id}/webhook";
    return webhook_config(*this, call, entity, json::value(agent_id));
  }
  if (p[4] == "test") {
    *call.route_label = "/v1/agents/{id}/webhook/test";
    return webhook_test(*this, call, entity, json::value(agent_id));
  }
  if (p[4] != "deliveries") return call.unknown_route();
  *call.route_label = "/v1/agents/{id}/webhook/deliveries";
  if (call.request.method != "GET") return call.method_not_allowed();
  std::vector<FieldError> errors;
  std::int64_t limit = 50, since_ms = 0;
  query_int(call.query, "limit", 50, 1, 100, &limit, errors);
  query_since(call.query, clock.now_ms(), 0, &since_ms, errors);
  if (!errors.empty()) return reply(validation_response(errors, "query"));
  after_own_writes(account, [this, account, agent_id, limit, since_ms, reply] {
    const projections::Page page = view.deliveries(account, agent_id, since_ms, 0, limit);
    reply(raw_json_response(json_array(page.items)));
  });
}

}  // namespace ap::http
