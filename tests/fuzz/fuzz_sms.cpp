// Fuzzes the SMS text helpers on arbitrary bytes: segment counting never
// fails, and a preview is a prefix of the text with at most the asked
// number of characters, the whole text when asked for all of them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/sms.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ap::domain::SmsSegments segments = ap::domain::count_segments(text);
  if (!text.empty() && segments.segments < 1) std::abort();
  const std::size_t characters = ap::domain::code_points(text);
  for (std::size_t limit : {std::size_t{0}, std::size_t{1}, std::size_t{100}, characters}) {
    const std::string_view prefix = ap::domain::utf8_prefix(text, limit);
    if (prefix.data() != text.data() || prefix.size() > text.size()) std::abort();
    if (ap::domain::code_points(prefix) > limit) std::abort();
  }
  if (ap::domain::utf8_prefix(text, characters).size() != text.size()) std::abort();
  return 0;
}
