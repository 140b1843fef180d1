#include "actors/entity_host.hpp"

#include <exception>
#include <stdexcept>

#include "actors/billing.hpp"
#include "actors/invariant.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

CommandResult failure(domain::DomainError error) {
  CommandResult result;
  result.error = std::move(error);
  return result;
}

// Asks the ports what a command needs before it can be decided (the carrier's
// number for a provisioning command) and puts the answer in the context.
// Returns the port's refusal, if any.
std::optional<domain::DomainError> ask_ports(const domain::Command& command,
                                             domain::CarrierPort& carrier,
                                             domain::Context& context) {
  if (command.type == "verification.verify") {
    // A sign-up's number; asked for every try, used only by the right code.
    domain::NumberOffer offer = carrier.offer_number("US", "");
    if (!offer.ok) {
      return domain::make_error(domain::ErrorKind::kUnavailable, offer.code,
                                "No phone number is free for the new account: " + offer.message);
    }
    context.port_answer = {{"phoneNumber", offer.phone_number}};
    return std::nullopt;
  }
  if (command.type != "number.provision") return std::nullopt;
  const json::value* area = command.args.if_contains("areaCode");
  const json::value* country = command.args.if_contains("country");
  // The REST layer validates the country; a command without one is a bug
  // upstream, answered as an entity fault rather than a crash.
  if (country == nullptr || !country->is_string()) {
    throw std::invalid_argument("number.provision without a country");
  }
  domain::NumberOffer offer = carrier.offer_number(
      std::string(country->as_string()),
      area != nullptr && area->is_string() ? std::string(area->as_string()) : "");
  if (!offer.ok) {
    return domain::make_error(
        offer.status == 409 ? domain::ErrorKind::kConflict : domain::ErrorKind::kBadRequest,
        offer.code, offer.message);
  }
  context.port_answer = {{"phoneNumber", offer.phone_number}};
  return std::nullopt;
}

}  // namespace

EntityHost::EntityHost(HostEnv& env, EntityKind kind, std::string id, AppendFn append)
    : env_(env), append_(std::move(append)) {
  aggregate_.kind = kind;
  aggregate_.id = std::move(id);
  aggregate_.stream = stream_name(kind, aggregate_.id);
}

void EntityHost::on_command(PendingCommand command) {
  last_active_ms_ = env_.clock.now_ms();
  if (queue_.size() >= env_.max_queued) {
    ++env_.refused_busy;
    ++handled_;
    CommandResult refused;
    refused.error =
        domain::make_error(domain::ErrorKind::kUnavailable, "ENTITY_BUSY",
                           std::to_string(queue_.size()) + " commands are already waiting for " +
                               aggregate_.stream + "; retry shortly");
    answer(command.done, std::move(refused));
    return;
  }
  queue_.push_back(std::move(command));
  process_next();
}

void EntityHost::finish(CommandResult result) {
  AP_ASSERT(!queue_.empty(), "a command is being finished");
  PendingCommand command = std::move(queue_.front());
  queue_.pop_front();
  busy_ = false;
  ++handled_;
  if (!command.hold.empty()) {
    // A refused or empty command spent nothing; a charge is in the balance
    // once the ledger applies it; a call's reservation lasts until its end.
    if (!result.ok || result.events.empty()) {
      env_.wallet->release(command.hold, 0);
    } else if (!command.hold_until_call_ends) {
      env_.wallet->release(command.hold, result.last_position);
    }
  }
  answer(command.done, std::move(result));
}

void EntityHost::answer(const ResultFn& done, CommandResult result) {
  // A callback that throws is its caller's bug; the entity stays alive.
  try {
    done(std::move(result));
  } catch (const std::exception&) {
    ++env_.faults;
  }
}

std::optional<domain::Outcome> EntityHost::decide_front() {
  const domain::Command& command = queue_.front().command;
  std::optional<domain::DomainError> refusal;
  try {
    if (!loaded_) {
      if (es::Status s = load_aggregate(env_.store, aggregate_.kind, aggregate_.id, &aggregate_);
          !s.ok()) {
        // Not a fault of the entity: the log cannot be read now. The next
        // command tries again.
        finish(failure(
            domain::make_error(domain::ErrorKind::kUnavailable, "LOG_UNAVAILABLE",
                               "The " + aggregate_.stream +
                                   " entity could not be read from the log: " + s.to_string())));
        return std::nullopt;
      }
      loaded_ = true;
    }
    domain::Context context;
    context.now_ms = env_.clock.now_ms();
    context.ids = &env_.ids;
    context.entropy = &env_.entropy;
    refusal = ask_ports(command, env_.carrier, context);
    if (!refusal) reserve_funds(context);
    if (!refusal) {
      domain::Decision decision = decide(aggregate_, command, context);
      if (auto* outcome = std::get_if<domain::Outcome>(&decision)) return std::move(*outcome);
      refusal = std::move(std::get<domain::DomainError>(decision));
    }
  } catch (const std::exception& e) {
    // The state may be half-built or the decider broken for this input: the
    // command fails, and the next one starts again from the log.
    ++env_.faults;
    loaded_ = false;
    refusal =
        domain::make_error(domain::ErrorKind::kUnavailable, "ENTITY_FAULT",
                           "The " + aggregate_.stream +
                               " entity failed on this command and was restarted: " + e.what());
  }
  // Answered outside the try: a throwing callback is the caller's fault, not
  // the entity's.
  finish(failure(std::move(*refusal)));
  return std::nullopt;
}

void EntityHost::reserve_funds(domain::Context& context) {
  if (env_.wallet == nullptr) return;
  PendingCommand& front = queue_.front();
  const std::optional<domain::FundsRequest> need =
      domain::funds_needed(front.command, context.now_ms);
  if (!need) return;
  if (front.hold.empty()) {
    // A retry after a lost race decides again with the money already reserved.
    front.hold_until_call_ends = need->until_call_ends;
    front.hold = need->until_call_ends ? domain::call_hold_id(aggregate_.id)
                                       : "hold-" + std::to_string(++env_.holds);
    front.held_micros = env_.wallet->reserve(front.command.account_id, front.hold,
                                             need->want_micros, need->min_micros);
  }
  context.funds_micros = front.held_micros;
}

void EntityHost::run_effects() {
  AP_ASSERT(effects_.empty() || env_.effects != nullptr,
            "a host that runs effects has an effect port");
  for (const domain::Effect& effect : effects_) {
    // The events are durable whatever happens here; a port that throws is
    // counted, and recovery at the next start hands the work over again.
    try {
      env_.effects->run(effect);
    } catch (const std::exception&) {
      ++env_.faults;
    }
  }
  effects_.clear();
}

// Decides queued commands one at a time until one needs an append (which
// completes in on_appended) or the queue is empty.
void EntityHost::process_next() {
  while (!busy_ && !queue_.empty()) {
    if (env_.abandoned.load()) {
      finish(failure(domain::make_error(domain::ErrorKind::kUnavailable, "LOG_UNAVAILABLE",
                                        "The node stopped before deciding this command")));
      continue;
    }
    std::optional<domain::Outcome> decided = decide_front();
    if (!decided) continue;
    std::vector<domain::Event>& events = decided->events;
    effects_ = std::move(decided->effects);
    if (events.empty()) {
      // Nothing to make durable: the effects may run at once.
      run_effects();
      CommandResult result;
      result.ok = true;
      finish(std::move(result));
      continue;
    }
    if (const std::optional<IdempotencyClaim>& claim = queue_.front().claim) {
      std::uint64_t claimed = 0;
      if (es::Status s = env_.store.stream_version(claim->stream, &claimed); !s.ok()) {
        finish(failure(
            domain::make_error(domain::ErrorKind::kUnavailable, "LOG_UNAVAILABLE",
                               "The Idempotency-Key could not be checked: " + s.to_string())));
        continue;
      }
      if (claimed > 0) {
        finish(failure(
            domain::make_error(domain::ErrorKind::kConflict, "IDEMPOTENCY_KEY_IN_USE",
                               "This Idempotency-Key was already used for a request that wrote")));
        continue;
      }
      events.push_back(domain::Event{"idempotency.claimed", claim->data, claim->stream, true});
    }
    std::vector<es::StreamAppend> parts = to_appends(aggregate_, events);
    in_flight_ = std::move(events);
    busy_ = true;
    append_(std::move(parts));
  }
}

void EntityHost::on_appended(const es::Status& status, const es::AppendResult& appended) {
  AP_ASSERT(busy_ && !queue_.empty(), "an append completes for the command in progress");
  if (status.code() == es::Code::kWrongExpectedVersion &&
      queue_.front().conflicts < kMaxConflictRetries) {
    // Another writer (e.g. a number releasing itself on the account stream,
    // or a competing claim of the same phone number) got there first: reload
    // and decide the same command again against the fresh state.
    ++queue_.front().conflicts;
    loaded_ = false;
    busy_ = false;
    in_flight_.clear();
    effects_.clear();
    process_next();
    return;
  }
  CommandResult result;
  if (status.code() == es::Code::kWrongExpectedVersion) {
    // Lost every race: someone else's write to one of these streams won
    // (e.g. a stream that must not exist yet was created meanwhile). Nothing
    // of this command was written.
    loaded_ = false;
    effects_.clear();
    result.error = domain::make_error(
        domain::ErrorKind::kConflict, "CONFLICT",
        "A concurrent write to the same entity won; nothing was written: " + status.message());
  } else if (!status.ok()) {
    // The state may no longer match the log; reload before the next command.
    // What the decision asked of the world is not done: it was not recorded.
    loaded_ = false;
    effects_.clear();
    result.error = domain::make_error(domain::ErrorKind::kUnavailable, "LOG_UNAVAILABLE",
                                      "The event log refused the write: " + status.message());
  } else {
    AP_ASSERT(appended.last_position >= appended.first_position && appended.first_position > 0,
              "an append covers positions first..last, from 1");
    // The events are durable whatever happens next; if folding them in
    // fails, the state is rebuilt from the log before the next command.
    try {
      apply_own(aggregate_, in_flight_);
      snapshot_if_due(env_.store, aggregate_, env_.snapshot_every);
    } catch (const std::exception&) {
      ++env_.faults;
      loaded_ = false;
    }
    run_effects();
    result.ok = true;
    result.last_position = appended.last_position;
    result.claimed = queue_.front().claim.has_value();
    if (result.claimed) in_flight_.pop_back();
    result.events = std::move(in_flight_);
  }
  in_flight_.clear();
  finish(std::move(result));
  process_next();
}

}  // namespace ap::actors
