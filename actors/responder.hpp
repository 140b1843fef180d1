// BuiltinResponder: the embedded language model of hosted voice mode. It
// works offline and is deterministic, so the sandbox and the simulator can run
// hosted calls without a model server. Its behaviour is small and documented
// (docs/calls.md): to an utterance with the word "bye" or "goodbye" it says
// goodbye and hangs up; to anything else it repeats what it heard and offers
// more help. A real model plugs in through the same LlmPort.
#pragma once

#include "actors/ports.hpp"

namespace ap::domain {

class BuiltinResponder final : public LlmPort {
 public:
  // Answers at once, on the caller's thread.
  void complete(const LlmRequest& request, std::function<void(std::string)> early,
                std::function<void(LlmReply)> done) override;

  // The reply to `utterance` (pure; complete() uses it).
  static LlmReply reply_to(const std::string& utterance);
};

}  // namespace ap::domain
