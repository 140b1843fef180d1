// OpenAiLlm: hosted voice mode on any OpenAI-compatible chat-completions
// endpoint (`serve --llm-url`). Each caller turn is one streamed request
// (`"stream": true`): the system prompt, the call so far (caller lines as
// "user", the agent's as "assistant") and the caller's new line. As the
// answer streams in, every finished sentence is handed on to be spoken at
// once; the rest comes with the end of the stream. An endpoint that answers
// with one JSON completion instead of a stream works too. Errors, non-2xx
// answers and timeouts give no answer (a silent turn), with the reason.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "actors/ports.hpp"

namespace ap::http {

struct OpenAiLlmOptions {
  std::string url;                    // e.g. "https://api.openai.com/v1/chat/completions".
  std::string api_key;                // Sent as "Authorization: Bearer …" when not empty.
  std::string model = "gpt-4o-mini";  // For every tier without its own.
  std::map<std::string, std::string> tier_models;  // "turbo"/"balanced"/"max" -> model.
  std::int64_t timeout_ms = 30'000;
};

class OpenAiLlm final : public domain::LlmPort {
 public:
  // `transport` carries the requests (a client allowed to reach the model's
  // address, which the operator chose). Returns via `why` what is wrong with
  // the URL, if anything; the port answers every turn with that error then.
  OpenAiLlm(domain::WebhookTransport& transport, OpenAiLlmOptions options, std::string* why);

  void complete(const domain::LlmRequest& request, std::function<void(std::string)> early,
                std::function<void(domain::LlmReply)> done) override;

  // Splits finished sentences off the front of `text` (a sentence ends with
  // ".", "!" or "?" followed by white space) and returns them; `text` keeps
  // the unfinished rest.
  static std::vector<std::string> take_sentences(std::string& text);

 private:
  domain::WebhookTransport& transport_;
  OpenAiLlmOptions options_;
  domain::WebhookUrl url_;
  std::string url_error_;
};

}  // namespace ap::http
