#include "sim/payments.hpp"

#include "actors/invariant.hpp"
#include "actors/secrets.hpp"

namespace ap::sim {

void SimPayments::charge(const std::string& account, std::int64_t amount_micros,
                         const std::string& idempotency_key,
                         std::function<void(domain::PaymentResult)> done) {
  AP_ASSERT(amount_micros > 0 && !idempotency_key.empty(),
            "a charge is positive and names its idempotency key");
  domain::PaymentResult result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto known = answers_.find(idempotency_key);
    if (known != answers_.end() && known->second.first != amount_micros) {
      // As Stripe does: one key names one charge, with its amount.
      result.payment_id = known->second.second.payment_id;
      result.code = "idempotency_key_reused";
      result.message = "This idempotency key was used for a charge of another amount";
    } else if (known != answers_.end()) {
      result = known->second.second;
    } else {
      const bool decline = decline_all_ || decline_next_ > 0;
      if (decline_next_ > 0) --decline_next_;
      result.ok = !decline;
      result.payment_id =
          "pay_sim_" + domain::sha256_hex(account + "\n" + idempotency_key).substr(0, 24);
      if (decline) {
        result.code = "card_declined";
        result.message = "The simulated processor declined the charge";
      } else {
        ++accepted_;
      }
      answers_.emplace(idempotency_key, std::make_pair(amount_micros, result));
    }
  }
  done(std::move(result));
}

void SimPayments::set_decline_all(bool decline) {
  std::lock_guard<std::mutex> lock(mu_);
  decline_all_ = decline;
}

void SimPayments::decline_next(int count) {
  std::lock_guard<std::mutex> lock(mu_);
  decline_next_ = count;
}

bool SimPayments::decline_all() const {
  std::lock_guard<std::mutex> lock(mu_);
  return decline_all_;
}

int SimPayments::declines_left() const {
  std::lock_guard<std::mutex> lock(mu_);
  return decline_next_;
}

std::int64_t SimPayments::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

}  // namespace ap::sim
