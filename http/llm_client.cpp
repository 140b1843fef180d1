#include "http/llm_client.hpp"

#include <boost/json.hpp>

#include <memory>

namespace ap::http {

namespace json = boost::json;

namespace {

std::string trimmed(std::string text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  text.erase(0, first);
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  return text;
}

// The streamed answer as it arrives: server-sent "data:" lines, each a
// chunk whose choices[0].delta.content continues the text.
struct Stream {
  std::string pending;  // An unfinished SSE line.
  std::string text;     // Answer text not yet spoken.
  bool streamed = false;

  // Reads `piece`; returns the sentences it finished.
  std::vector<std::string> feed(std::string_view piece) {
    pending.append(piece);
    std::size_t at = 0;
    // Bounded by the input: each round consumes one line.
    for (std::size_t end; (end = pending.find('\n', at)) != std::string::npos; at = end + 1) {
      std::string_view line = std::string_view(pending).substr(at, end - at);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.rfind("data:", 0) != 0) continue;
      streamed = true;
      line.remove_prefix(5);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (line == "[DONE]") continue;
      boost::system::error_code ec;
      const json::value chunk = json::parse(line, ec);
      if (ec || !chunk.is_object()) continue;
      const json::value* choices = chunk.as_object().if_contains("choices");
      if (choices == nullptr || !choices->is_array() || choices->as_array().empty()) continue;
      const json::value& choice = choices->as_array().front();
      const json::value* delta =
          choice.is_object() ? choice.as_object().if_contains("delta") : nullptr;
      const json::value* content = delta != nullptr && delta->is_object()
                                       ? delta->as_object().if_contains("content")
                                       : nullptr;
      if (content != nullptr && content->is_string()) text.append(content->as_string());
    }
    pending.erase(0, at);
    return OpenAiLlm::take_sentences(text);
  }
};

}  // namespace

OpenAiLlm::OpenAiLlm(domain::WebhookTransport& transport, OpenAiLlmOptions options,
                     std::string* why)
    : transport_(transport), options_(std::move(options)) {
  // The operator chose the model's address: local servers are allowed.
  url_error_ = domain::parse_webhook_url(options_.url, false, &url_);
  if (why != nullptr) *why = url_error_;
}

std::vector<std::string> OpenAiLlm::take_sentences(std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const char c = text[i];
    const char next = text[i + 1];
    if ((c == '.' || c == '!' || c == '?') && (next == ' ' || next == '\n')) {
      std::string sentence = trimmed(text.substr(start, i + 1 - start));
      if (!sentence.empty()) out.push_back(std::move(sentence));
      start = i + 1;
    }
  }
  text.erase(0, start);
  return out;
}

void OpenAiLlm::complete(const domain::LlmRequest& request, std::function<void(std::string)> early,
                         std::function<void(domain::LlmReply)> done) {
  if (!url_error_.empty()) {
    domain::LlmReply reply;
    reply.error = "The model URL is not usable: " + url_error_;
    return done(std::move(reply));
  }
  json::array messages;
  if (!request.system_prompt.empty()) {
    messages.push_back(json::object{{"role", "system"}, {"content", request.system_prompt}});
  }
  for (const json::value& line : request.transcript) {
    const bool agent = domain::field(line, "role") == "agent";
    messages.push_back(json::object{{"role", agent ? "assistant" : "user"},
                                    {"content", domain::field(line, "content")}});
  }
  messages.push_back(json::object{{"role", "user"}, {"content", request.utterance}});
  auto tier = options_.tier_models.find(request.model_tier);
  const std::string model = tier != options_.tier_models.end() ? tier->second : options_.model;

  domain::WebhookRequest http;
  http.url = url_;
  http.timeout_ms = options_.timeout_ms;
  http.body = json::serialize(
      json::object{{"model", model}, {"stream", true}, {"messages", std::move(messages)}});
  http.headers = {{"Content-Type", "application/json"},
                  {"Accept", "text/event-stream"},
                  {"User-Agent", "agentphone-selfhosted/" AP_VERSION " (hosted voice)"}};
  if (!options_.api_key.empty()) {
    http.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  }
  auto stream = std::make_shared<Stream>();
  http.on_body = [stream, early](std::string_view piece) {
    for (std::string& sentence : stream->feed(piece)) early(std::move(sentence));
  };
  transport_.defer([this, http = std::move(http), stream, done = std::move(done)]() mutable {
    transport_.send(std::move(http), [stream, done](domain::WebhookResult result) {
      domain::LlmReply reply;
      if (!result.error.empty() || result.http_status / 100 != 2) {
        reply.error = !result.error.empty()
                          ? "The model did not answer: " + result.error
                          : "The model answered HTTP " + std::to_string(result.http_status);
        return done(std::move(reply));
      }
      if (!stream->streamed) {
        // One JSON completion: choices[0].message.content.
        boost::system::error_code ec;
        const json::value whole = json::parse(result.body, ec);
        const json::value* content = nullptr;
        if (!ec && whole.is_object()) {
          const json::value* choices = whole.as_object().if_contains("choices");
          if (choices != nullptr && choices->is_array() && !choices->as_array().empty() &&
              choices->as_array().front().is_object()) {
            const json::value* message =
                choices->as_array().front().as_object().if_contains("message");
            if (message != nullptr && message->is_object()) {
              content = message->as_object().if_contains("content");
            }
          }
        }
        if (content == nullptr || !content->is_string()) {
          reply.error = "The model's answer has no choices[0].message.content";
          return done(std::move(reply));
        }
        stream->text = std::string(content->as_string()) + " ";
      }
      reply.lines = OpenAiLlm::take_sentences(stream->text);
      if (std::string rest = trimmed(stream->text); !rest.empty()) reply.lines.push_back(rest);
      done(std::move(reply));
    });
  });
}

}  // namespace ap::http
