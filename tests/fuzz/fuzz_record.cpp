// Fuzzes the event log's record decoder (es::decode_value) on arbitrary
// stored bytes: it never crashes, and whatever it accepts re-encodes to the
// same bytes, so a record has one stored form and its hash covers all of it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "eventstore/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  ap::es::RecordedEvent event;
  if (!ap::es::decode_value(value, &event).ok()) return 0;
  if (ap::es::encode_value(event) != value) std::abort();
  return 0;
}
