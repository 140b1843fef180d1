// SimPayments: the embedded payment processor. It accepts every charge unless
// told to decline (all of them, or the next N), answers at once, and keeps
// one answer per idempotency key, as a real processor (Stripe) does, so that a
// retried charge is never taken twice. Payment ids are derived from the key,
// so the same requests always get the same ids.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "actors/ports.hpp"

namespace ap::sim {

class SimPayments final : public domain::PaymentPort {
 public:
  void charge(const std::string& account, std::int64_t amount_micros,
              const std::string& idempotency_key,
              std::function<void(domain::PaymentResult)> done) override;

  // Declines every charge from now on (true) or none (false).
  void set_decline_all(bool decline);
  // Declines the next `count` charges, then accepts again.
  void decline_next(int count);
  bool decline_all() const;
  // Declines still to come from decline_next().
  int declines_left() const;
  // Charges accepted so far (their idempotency keys counted once).
  std::int64_t accepted() const;

 private:
  mutable std::mutex mu_;
  bool decline_all_ = false;
  int decline_next_ = 0;
  std::int64_t accepted_ = 0;
  // By idempotency key: the amount charged and the answer given.
  std::map<std::string, std::pair<std::int64_t, domain::PaymentResult>> answers_;
};

}  // namespace ap::sim
