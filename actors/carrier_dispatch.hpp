// CarrierDispatch: hands outbound messages to the carrier port and turns the
// carrier's status reports into "conversation.status" commands, so that every
// status change is an event in the conversation's stream.
//
// It holds no state of its own: what is still to be sent lives in the read
// model (messages queued whose status is not final), and the host resubmits
// those at start. A report that cannot be recorded leaves the message pending,
// to be resubmitted at the next start.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>

#include "actors/ports.hpp"
#include "actors/runtime.hpp"

namespace ap::actors {

class CarrierDispatch {
 public:
  CarrierDispatch(Runtime& runtime, domain::CarrierPort& carrier);

  // Sends the message described by `queued` (a "message.queued" event's data).
  void submit(const boost::json::object& queued);

 private:
  void on_report(const domain::CarrierReport& report);

  Runtime& runtime_;
  domain::CarrierPort& carrier_;
};

}  // namespace ap::actors
