// SMS encoding rules: how many segments a body takes on the carrier network.
#pragma once

#include <cstddef>
#include <string_view>

namespace ap::domain {

enum class SmsEncoding { kGsm7, kUcs2 };

struct SmsSegments {
  SmsEncoding encoding = SmsEncoding::kGsm7;
  std::size_t units = 0;     // GSM-7 septets or UTF-16 code units.
  std::size_t segments = 0;  // 0 for an empty body.
};

// Counts the segments of UTF-8 `body`. GSM-7: 160 septets in one segment,
// 153 per segment when concatenated; the extension characters ^ { } \ [ ] ~ |
// and € take two septets. Any other character outside the GSM-7 alphabet
// switches the whole message to UCS-2: 70 code units in one segment, 67 per
// segment when concatenated (characters outside the BMP take two units).
SmsSegments count_segments(std::string_view body);

// Number of Unicode code points in UTF-8 `text` (the API's character limit).
std::size_t code_points(std::string_view text);

// The longest prefix of UTF-8 `text` with at most `max_code_points` code
// points, never cutting a character's bytes apart (previews stay valid UTF-8).
std::string_view utf8_prefix(std::string_view text, std::size_t max_code_points);

}  // namespace ap::domain
