// Billing and usage: the balance, the ledger, top-ups and auto-recharge (our
// extension; docs/billing.md) and the usage endpoints of contract B.9, plus
// the sandbox's control of the simulated payment processor.
#include <regex>

#include "actors/account.hpp"
#include "actors/billing.hpp"
#include "http/api_internal.hpp"
#include "projections/audit.hpp"

namespace ap::http {

namespace {

constexpr std::int64_t kMicrosPerCent = 10'000;
constexpr std::int64_t kMinCents = domain::kMinCreditMicros / kMicrosPerCent;
constexpr std::int64_t kMaxCents = domain::kMaxCreditMicros / kMicrosPerCent;
constexpr std::int64_t kDefaultLedgerPage = 100;
constexpr std::int64_t kMaxLedgerPage = 500;
// A statement larger than this is refused: narrow its range instead.
constexpr std::size_t kMaxStatementItems = 100'000;

std::int64_t cents_of(std::int64_t micros) {
  return micros / kMicrosPerCent;
}

json::object auto_recharge_json(const json::object& config) {
  return {{"enabled", domain::field(config, "enabled")},
          {"thresholdCents", cents_of(domain::field(config, "thresholdMicros").as_int64())},
          {"amountCents", cents_of(domain::field(config, "amountMicros").as_int64())}};
}

json::object rates_json(const domain::RateCard& card) {
  return {{"version", card.version},
          {"numberPerPeriodMicros", card.number_period_micros},
          {"numberPeriodDays", card.number_period_ms / domain::kDayMs},
          {"numberGraceDays", card.number_grace_ms / domain::kDayMs},
          {"smsOutboundMicros", card.sms_outbound_micros},
          {"voiceWebhookPerMinuteMicros", card.voice_webhook_per_minute_micros},
          {"voiceHostedPerMinuteMicros", card.voice_hosted_per_minute_micros},
          {"voiceMinimumMicros", card.voice_minimum_micros}};
}

// A time zone name as IANA spells them ("America/New_York", "Etc/GMT+5"):
// anything else is refused before the zone database is asked.
bool plausible_zone(const std::string& tz) {
  static const std::regex kZone("^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+){0,2}$");
  return tz.size() <= 64 && std::regex_match(tz, kZone);
}

}  // namespace

json::object Api::Impl::balance(const std::string& account) {
  const json::object billing = view.billing(account);
  const std::int64_t balance = domain::field(billing, "balanceMicros").as_int64();
  const std::int64_t available = view.available_micros(account);
  return {{"accountId", account},
          {"currency", "USD"},
          {"balanceMicros", balance},
          {"balanceCents", cents_of(balance)},
          {"balance", domain::format_dollars(balance)},
          {"availableMicros", available},
          {"heldMicros", balance - available},
          {"creditedMicros", domain::field(billing, "creditedMicros")},
          {"debitedMicros", domain::field(billing, "debitedMicros")},
          {"entries", domain::field(billing, "entries")},
          {"autoRecharge", auto_recharge_json(domain::field(billing, "autoRecharge").as_object())},
          {"lastDecline", domain::field(billing, "lastDecline")},
          {"rates", rates_json(domain::rate_card_at(clock.now_ms()))}};
}

// /v1/billing/balance, /v1/billing/ledger, /v1/billing/top-up, /v1/billing/auto-recharge
void Api::Impl::route_billing(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  if (p.size() != 3) return call.unknown_route();
  if (p[2] == "balance") {
    *call.route_label = "/v1/billing/balance";
    if (method != "GET") return call.method_not_allowed();
    return after_own_writes(account,
                            [this, account, reply] { reply(json_response(balance(account))); });
  }
  if (p[2] == "ledger") {
    *call.route_label = "/v1/billing/ledger";
    if (method != "GET") return call.method_not_allowed();
    std::vector<FieldError> errors;
    std::int64_t limit = 0, after = 0;
    query_int(call.query, "limit", kDefaultLedgerPage, 1, kMaxLedgerPage, &limit, errors);
    query_int(call.query, "after", 0, 0, 1'000'000'000'000, &after, errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    return after_own_writes(account, [this, account, after, limit, reply] {
      std::vector<std::string> entries = view.ledger(account, static_cast<std::uint64_t>(after),
                                                     static_cast<std::uint64_t>(limit) + 1);
      const bool has_more = entries.size() > static_cast<std::size_t>(limit);
      if (has_more) entries.pop_back();
      const std::string next =
          has_more ? std::to_string(after + static_cast<std::int64_t>(entries.size())) : "null";
      reply(raw_json_response("{\"data\":" + json_array(entries) +
                              ",\"hasMore\":" + (has_more ? "true" : "false") +
                              ",\"nextCursor\":" + (has_more ? "\"" + next + "\"" : next) + "}"));
    });
  }
  if (p[2] == "audit" || p[2] == "statement") {
    *call.route_label = p[2] == "audit" ? "/v1/billing/audit" : "/v1/billing/statement";
    if (method != "GET") return call.method_not_allowed();
    return p[2] == "audit" ? audit(call) : statement(call);
  }
  if (p[2] == "top-up") {
    *call.route_label = "/v1/billing/top-up";
    if (method != "POST") return call.method_not_allowed();
    return top_up(call);
  }
  if (p[2] == "auto-recharge") {
    *call.route_label = "/v1/billing/auto-recharge";
    return auto_recharge(call);
  }
  call.unknown_route();
}

// Audits walk the whole log on the request's thread (docs/billing.md): one
// runs at a time per server, and each account may start a few a minute.
// Returns whether this request may run one now; otherwise it has answered 429.
bool Api::Impl::begin_audit(const Call& call, std::unique_lock<std::mutex>* running) {
  // The lock first: a request turned away because another audit runs does
  // not use up one of the account's audits.
  *running = std::unique_lock<std::mutex>(audit_mu, std::try_to_lock);
  if (!running->owns_lock()) {
    Response busy = error_response(429, "Another audit is running on this server; retry in 1 s",
                                   "AUDIT_BUSY", "rate_limit_error");
    busy.headers.emplace_back("Retry-After", "1");
    call.reply(std::move(busy));
    return false;
  }
  if (const std::int64_t retry_ms = audits_per_account.take(call.account, kAuditsPerMinute)) {
    running->unlock();
    const std::int64_t seconds = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);
    Response limited = error_response(429,
                                      "At most " + std::to_string(kAuditsPerMinute) +
                                          " audits or statements a minute; retry in " +
                                          std::to_string(seconds) + " s",
                                      "RATE_LIMITED", "rate_limit_error");
    limited.headers.emplace_back("Retry-After", std::to_string(seconds));
    call.reply(std::move(limited));
    return false;
  }
  return true;
}

// GET /v1/billing/audit[?verify=false]: the account's ledger recomputed from
// the raw log, diffed entry by entry with the ledger projection, and the hash
// chain verified (unless verify=false). Another account's data never shows:
// a broken chain is reported by position only.
void Api::Impl::audit(const Call& call) {
  const std::string* verify = call.query.get("verify");
  if (verify != nullptr && *verify != "true" && *verify != "false") {
    return call.reply(validation_response(
        {{"verify", "Input should be a valid boolean", "bool_parsing"}}, "query"));
  }
  std::unique_lock<std::mutex> running;
  if (!begin_audit(call, &running)) return;
  const projections::AccountAudit audited =
      projections::audit_account(store, call.account, nullptr);
  json::object chain{{"verified", false}, {"firstBadPosition", nullptr}};
  if (verify == nullptr || *verify == "true") {
    const projections::VerifyOutcome v = projections::verify_log(store, nullptr, /*running=*/true);
    chain = {{"verified", v.ok},
             {"firstBadPosition", v.ok ? json::value(nullptr) : json::value(v.first_bad)}};
  }
  json::array differences;
  for (const std::string& line : audited.differences) differences.emplace_back(line);
  call.reply(
      json_response(json::object{{"accountId", call.account},
                                 {"agrees", audited.differences.empty()},
                                 {"entries", audited.entries},
                                 {"openingBalanceMicros", 0},
                                 {"sumMicros", audited.sum_micros},
                                 {"closingBalanceMicros", audited.sum_micros},
                                 {"closingBalance", domain::format_dollars(audited.sum_micros)},
                                 {"comparedThroughPosition", audited.compared_through},
                                 {"differences", std::move(differences)},
                                 {"chain", std::move(chain)},
                                 {"headPosition", store.head_position()},
                                 {"headHash", store.head_hash()}}));
}

// GET /v1/billing/statement?from=&to=[&format=json|csv]: line items over
// [from, to) with the opening and closing balance and the hash of the last
// event covered, exactly as `agentphone audit statement` prints them.
void Api::Impl::statement(const Call& call) {
  std::vector<FieldError> errors;
  std::int64_t from_ms = 0, to_ms = 0;
  const std::string* from = call.query.get("from");
  const std::string* to = call.query.get("to");
  const std::string* format = call.query.get("format");
  for (auto [name, text, out] :
       {std::tuple{"from", from, &from_ms}, std::tuple{"to", to, &to_ms}}) {
    if (text == nullptr) {
      errors.push_back({name, "Field required", "missing"});
    } else if (!domain::parse_iso8601(*text, out)) {
      errors.push_back(
          {name, "Input should be an ISO 8601 date or time (UTC)", "datetime_parsing"});
    }
  }
  if (errors.empty() && to_ms <= from_ms) {
    errors.push_back({"to", "to must be after from", "value_error"});
  }
  if (format != nullptr && *format != "json" && *format != "csv") {
    errors.push_back({"format", "Input should be 'json' or 'csv'", "enum"});
  }
  if (!errors.empty()) return call.reply(validation_response(errors, "query"));
  std::unique_lock<std::mutex> running;
  if (!begin_audit(call, &running)) return;
  const projections::Statement st =
      projections::build_statement(store, call.account, from_ms, to_ms, nullptr);
  running.unlock();
  if (st.items.size() > kMaxStatementItems) {
    return call.reply(validation_response(
        {{"from",
          "The range holds " + std::to_string(st.items.size()) + " line items, more than " +
              std::to_string(kMaxStatementItems) + "; narrow it",
          "value_error"}},
        "query"));
  }
  if (format != nullptr && *format == "csv") {
    Response csv;
    csv.content_type = "text/csv; charset=utf-8";
    csv.body = projections::statement_csv(st);
    return call.reply(std::move(csv));
  }
  call.reply(raw_json_response(projections::statement_json(st)));
}

// POST /v1/billing/top-up {amountCents}: 200 with the new balance and the
// payment id, or 402 PAYMENT_DECLINED (the decline is recorded either way).
void Api::Impl::top_up(const Call& call) {
  json::object body;
  if (!call.body_object(&body)) return;
  std::vector<FieldError> errors;
  std::int64_t cents = 0;
  body_int(body, "amountCents", true, 0, kMinCents, kMaxCents, &cents, errors);
  if (!errors.empty()) return call.reply(validation_response(errors, "body"));
  const std::string account = call.account;
  const Responder reply = call.reply;
  // A retried request with the same Idempotency-Key is answered from the log
  // before it gets here; the processor's key makes a charge whose answer was
  // lost on the way back count once there too.
  const std::string key =
      reply.idempotency ? "idem:" + reply.idempotency->key_hash : ids.new_id("topup_");
  billing.top_up(account, cents * kMicrosPerCent, key, claim_for(reply),
                 [this, account, reply, cents](CommandResult recorded, domain::PaymentResult paid) {
                   answer(account, reply, std::move(recorded),
                          [this, account, cents, paid](const CommandResult&) {
                            if (!paid.ok) {
                              return error_response(
                                  402,
                                  "The payment was declined (" + paid.code + "): " + paid.message,
                                  "PAYMENT_DECLINED", "payment_required");
                            }
                            json::object out = balance(account);
                            out["paymentId"] = paid.payment_id;
                            out["amountCents"] = cents;
                            return json_response(out);
                          });
                 });
}

// GET, or PUT/POST {enabled, thresholdCents, amountCents}: when the balance
// falls below the threshold, the account is charged `amount` once.
void Api::Impl::auto_recharge(const Call& call) {
  const std::string& method = call.request.method;
  const std::string account = call.account;
  const Responder& reply = call.reply;
  auto config = [this, account] {
    return json_response(
        auto_recharge_json(domain::field(view.billing(account), "autoRecharge").as_object()));
  };
  if (method == "GET") return after_own_writes(account, [reply, config] { reply(config()); });
  if (method != "PUT" && method != "POST") return call.method_not_allowed();
  json::object body;
  if (!call.body_object(&body)) return;
  std::vector<FieldError> errors;
  const json::value* enabled = body.if_contains("enabled");
  if (enabled == nullptr) {
    errors.push_back({"enabled", "Field required", "missing"});
  } else if (!enabled->is_bool()) {
    errors.push_back({"enabled", "Input should be a valid boolean", "bool_type"});
  }
  const bool on = enabled != nullptr && enabled->is_bool() && enabled->as_bool();
  std::int64_t threshold = 0, amount = 0;
  body_int(body, "thresholdCents", on, 0, 0, kMaxCents, &threshold, errors);
  body_int(body, "amountCents", on, 0, on ? kMinCents : 0, kMaxCents, &amount, errors);
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  command(EntityKind::kAccount, account,
          {"account.set_auto_recharge",
           account,
           {{"enabled", on},
            {"thresholdMicros", threshold * kMicrosPerCent},
            {"amountMicros", amount * kMicrosPerCent}}},
          reply, [config](const CommandResult&) { return config(); });
}

// /v1/usage, /v1/usage/daily, /v1/usage/monthly, /v1/usage/by-number, /v1/usage/by-agent
void Api::Impl::route_usage(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  if (p.size() > 3) return call.unknown_route();
  const std::string what = p.size() == 3 ? p[2] : "";
  if (what != "" && what != "daily" && what != "monthly" && what != "by-number" &&
      what != "by-agent") {
    return call.unknown_route();
  }
  *call.route_label = what.empty() ? "/v1/usage" : "/v1/usage/" + what;
  if (call.request.method != "GET") return call.method_not_allowed();
  std::vector<FieldError> errors;
  const std::int64_t now_ms = clock.now_ms();
  if (what.empty()) {
    return after_own_writes(account, [this, account, now_ms, reply] {
      reply(json_response(view.usage(account, now_ms)));
    });
  }
  if (what == "daily" || what == "monthly") {
    const bool daily = what == "daily";
    std::int64_t count = 0;
    query_int(call.query, daily ? "days" : "months", daily ? 30 : 6, 1, daily ? 365 : 24, &count,
              errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    return after_own_writes(account, [this, account, now_ms, daily, count, reply] {
      const int n = static_cast<int>(count);
      json::array points =
          daily ? view.usage_daily(account, now_ms, n) : view.usage_monthly(account, now_ms, n);
      reply(json_response(
          json::object{{"data", std::move(points)}, {daily ? "days" : "months", count}}));
    });
  }
  if (what == "by-number") {
    return after_own_writes(account, [this, account, reply] {
      reply(json_response(json::object{{"data", view.usage_by_number(account)}}));
    });
  }
  const std::string* period = call.query.get("period");
  const std::string* tz = call.query.get("tz");
  if (period == nullptr) {
    errors.push_back({"period", "Field required", "missing"});
  } else if (*period != "week" && *period != "month" && *period != "year") {
    errors.push_back({"period", "Input should be 'week', 'month' or 'year'", "enum"});
  }
  if (tz != nullptr && !tz->empty() && !plausible_zone(*tz)) {
    errors.push_back(
        {"tz", "tz must be an IANA time zone name such as America/New_York", "value_error"});
  }
  if (!errors.empty()) return reply(validation_response(errors, "query"));
  std::int64_t from_ms = 0, to_ms = 0;
  std::string error;
  if (!projections::calendar_period(now_ms, *period, tz != nullptr ? *tz : "", &from_ms, &to_ms,
                                    &error)) {
    return reply(validation_response({{"tz", error, "value_error"}}, "query"));
  }
  after_own_writes(account, [this, account, from_ms, to_ms, period = *period, reply] {
    reply(json_response(json::object{{"data", view.usage_by_agent(account, from_ms, to_ms)},
                                     {"period", period},
                                     {"periodStart", domain::iso8601(from_ms)},
                                     {"periodEnd", domain::iso8601(to_ms)}}));
  });
}

// GET /sim/payments, or POST {declineAll?, declineNext?}: how the simulated
// processor answers the next charges.
void Api::Impl::sim_payments(const Request& request, const Reply& reply) {
  auto state = [this] {
    return json_response(json::object{{"declineAll", payments->decline_all()},
                                      {"declineNext", payments->declines_left()},
                                      {"accepted", payments->accepted()}});
  };
  if (request.method == "GET") return reply(state());
  if (request.method != "POST") return reply(method_not_allowed_response());
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  std::vector<FieldError> errors;
  const json::value* all = body.if_contains("declineAll");
  if (all != nullptr && !all->is_bool()) {
    errors.push_back({"declineAll", "Input should be a valid boolean", "bool_type"});
  }
  std::int64_t next = -1;
  body_int(body, "declineNext", false, -1, 0, 1000, &next, errors);
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  if (all != nullptr) payments->set_decline_all(all->as_bool());
  if (next >= 0) payments->decline_next(static_cast<int>(next));
  reply(state());
}

}  // namespace ap::http
