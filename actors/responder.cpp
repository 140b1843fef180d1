#include "actors/responder.hpp"

#include <cctype>

namespace ap::domain {

namespace {

// Whether `text` holds `word` as a whole word, ignoring case.
bool has_word(const std::string& text, const std::string& word) {
  std::string lower;
  lower.reserve(text.size());
  for (unsigned char c : text) lower.push_back(static_cast<char>(std::tolower(c)));
  for (std::size_t at = lower.find(word); at != std::string::npos; at = lower.find(word, at + 1)) {
    const bool starts = at == 0 || !std::isalnum(static_cast<unsigned char>(lower[at - 1]));
    const std::size_t end = at + word.size();
    const bool ends = end == lower.size() || !std::isalnum(static_cast<unsigned char>(lower[end]));
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

LlmReply BuiltinResponder::reply_to(const std::string& utterance) {
  LlmReply reply;
  if (has_word(utterance, "bye") || has_word(utterance, "goodbye")) {
    reply.lines.push_back("Thank you for calling. Goodbye!");
    reply.hangup = true;
    return reply;
  }
  reply.lines.push_back("You said: " + utterance + ". How else can I help?");
  return reply;
}

void BuiltinResponder::complete(const LlmRequest& request, std::function<void(std::string)>,
                                std::function<void(LlmReply)> done) {
  done(reply_to(request.utterance));
}

}  // namespace ap::domain
