#include "projections/core_view.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cassert>
#include <chrono>

#include "actors/domain.hpp"

namespace ap::projections {

namespace {

std::string str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

CoreView::CoreView(es::EventStore& store) : store_(store) {
  checkpoint_ = store_.load_checkpoint(kName);
}

CoreView::~CoreView() {
  subscription_.reset();
}

void CoreView::start() {
  subscription_ = store_.subscribe(checkpoint() + 1, [this](const auto& events) { apply(events); });
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
  for (const es::RecordedEvent& event : events) {
    es::ViewBatch batch;
    apply_one(event, batch);
    const es::Status status = store_.commit_view(kName, batch, event.position);
    // A view that cannot be written cannot serve reads correctly; stopping
    // here keeps the checkpoint honest and the next start replays from it.
    assert(status.ok());
    if (!status.ok()) return;
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      checkpoint_ = event.position;
      auto end = waiters_.upper_bound(checkpoint_);
      for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
      waiters_.erase(waiters_.begin(), end);
    }
    cv_.notify_all();
    for (auto& fn : ready) fn();
  }
}

std::optional<json::object> CoreView::row(const std::string& key) const {
  std::string value;
  if (!store_.get_view(kName, key, &value).ok()) return std::nullopt;
  return json::parse(value).as_object();
}

std::int64_t CoreView::counter(const std::string& key) const {
  std::string value;
  if (!store_.get_view(kName, key, &value).ok()) return 0;
  return std::stoll(value);
}

void CoreView::apply_one(const es::RecordedEvent& event, es::ViewBatch& batch) {
  const std::string& type = event.type;
  if (type.rfind("account.api_key", 0) != 0 && type.rfind("agent.", 0) != 0 &&
      type.rfind("number.", 0) != 0) {
    return;
  }
  const json::object data = json::parse(event.payload).as_object();
  const std::string account = str(data, "accountId");

  if (type == "account.api_key_created") {
    batch.put("k/" + str(data, "sha256"), account);
  } else if (type == "account.api_key_revoked") {
    batch.erase("k/" + str(data, "sha256"));
  } else if (type == "agent.created") {
    json::object agent;
    agent["id"] = str(data, "agentId");
    for (const auto& [key, value] : data.at("config").as_object()) agent[key] = value;
    agent["createdAt"] = domain::iso8601(data.at("createdAtMs").as_int64());
    batch.put("g/" + account + "/" + str(data, "agentId"), json::serialize(agent));
    batch.put("gc/" + account, std::to_string(counter("gc/" + account) + 1));
  } else if (type == "agent.updated") {
    const std::string key = "g/" + account + "/" + str(data, "agentId");
    std::optional<json::object> agent = row(key);
    if (!agent) return;
    for (const auto& [field, value] : data.at("changes").as_object()) (*agent)[field] = value;
    batch.put(key, json::serialize(*agent));
  } else if (type == "agent.deleted") {
    const std::string agent_id = str(data, "agentId");
    batch.erase("g/" + account + "/" + agent_id);
    batch.put("gc/" + account, std::to_string(counter("gc/" + account) - 1));
    // Numbers stay with the account, no longer attached to anyone.
    store_.scan_view(kName, "gn/" + agent_id + "/", "",
                     [&](std::string_view key, std::string_view) {
                       const std::string number_id(key.substr(key.rfind('/') + 1));
                       const std::string number_key = "n/" + account + "/" + number_id;
                       if (std::optional<json::object> number = row(number_key)) {
                         (*number)["agentId"] = nullptr;
                         batch.put(number_key, json::serialize(*number));
                       }
                       batch.erase(std::string(key));
                       return true;
                     });
  } else if (type == "number.provisioned") {
    const std::string number_id = str(data, "numberId");
    json::object number{{"id", number_id},
                        {"phoneNumber", str(data, "phoneNumber")},
                        {"country", str(data, "country")},
                        {"status", "active"},
                        {"type", "sms"},
                        {"agentId", data.at("agentId")},
                        {"createdAt", domain::iso8601(data.at("createdAtMs").as_int64())}};
    batch.put("n/" + account + "/" + number_id, json::serialize(number));
    batch.put("nc/" + account, std::to_string(counter("nc/" + account) + 1));
    if (data.at("agentId").is_string()) {
      batch.put("gn/" + str(data, "agentId") + "/" + number_id, account);
    }
  } else if (type == "number.agent_attached" || type == "number.agent_detached" ||
             type == "number.released") {
    const std::string number_id = str(data, "numberId");
    const std::string key = "n/" + account + "/" + number_id;
    std::optional<json::object> number = row(key);
    if (!number) return;
    const json::value previous = (*number)["agentId"];
    if (previous.is_string())
      batch.erase("gn/" + std::string(previous.as_string()) + "/" + number_id);
    if (type == "number.agent_attached") {
      const std::string agent_id = str(data, "agentId");
      (*number)["agentId"] = agent_id;
      batch.put("gn/" + agent_id + "/" + number_id, account);
    } else {
      (*number)["agentId"] = nullptr;
    }
    if (type == "number.released") {
      (*number)["status"] = "released";
      batch.put("nc/" + account, std::to_string(counter("nc/" + account) - 1));
    }
    batch.put(key, json::serialize(*number));
  }
}

std::optional<std::string> CoreView::account_for_key(const std::string& sha256_hex) const {
  std::string account;
  if (!store_.get_view(kName, "k/" + sha256_hex, &account).ok()) return std::nullopt;
  return account;
}

std::vector<json::object> CoreView::agent_numbers(const std::string& account,
                                                  const std::string& agent_id) const {
  std::vector<json::object> numbers;
  store_.scan_view(kName, "gn/" + agent_id + "/", "", [&](std::string_view key, std::string_view) {
    const std::string number_id(key.substr(key.rfind('/') + 1));
    if (std::optional<json::object> number = row("n/" + account + "/" + number_id)) {
      numbers.push_back(json::object{{"id", number->at("id")},
                                     {"phoneNumber", number->at("phoneNumber")},
                                     {"status", number->at("status")},
                                     {"type", "sms"}});
    }
    return true;
  });
  return numbers;
}

std::optional<json::object> CoreView::agent(const std::string& account,
                                            const std::string& agent_id) const {
  if (agent_id.find('/') != std::string::npos) return std::nullopt;
  std::optional<json::object> agent = row("g/" + account + "/" + agent_id);
  if (!agent) return std::nullopt;
  json::array numbers;
  for (json::object& number : agent_numbers(account, agent_id))
    numbers.push_back(std::move(number));
  (*agent)["numbers"] = std::move(numbers);
  return agent;
}

Page CoreView::agents(const std::string& account, std::uint64_t offset, std::uint64_t limit) const {
  Page page;
  page.total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, counter("gc/" + account)));
  std::uint64_t index = 0;
  store_.scan_view(kName, "g/" + account + "/", "", [&](std::string_view, std::string_view value) {
    if (index++ < offset) return true;
    if (page.items.size() == limit) {
      page.has_more = true;
      return false;
    }
    page.items.push_back(json::parse(value).as_object());
    return true;
  });
  for (json::object& agent : page.items) {
    json::array numbers;
    for (json::object& n : agent_numbers(account, std::string(agent.at("id").as_string()))) {
      numbers.push_back(std::move(n));
    }
    agent["numbers"] = std::move(numbers);
  }
  return page;
}

std::optional<json::object> CoreView::number(const std::string& account,
                                             const std::string& number_id) const {
  if (number_id.find('/') != std::string::npos) return std::nullopt;
  return row("n/" + account + "/" + number_id);
}

Page CoreView::numbers(const std::string& account, std::uint64_t offset,
                       std::uint64_t limit) const {
  Page page;
  page.total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, counter("nc/" + account)));
  std::uint64_t index = 0;
  store_.scan_view(kName, "n/" + account + "/", "", [&](std::string_view, std::string_view value) {
    json::object number = json::parse(value).as_object();
    if (number.at("status").as_string() != "active") return true;
    if (index++ < offset) return true;
    if (page.items.size() == limit) {
      page.has_more = true;
      return false;
    }
    page.items.push_back(std::move(number));
    return true;
  });
  return page;
}

}  // namespace ap::projections
