// Status: the outcome of an event-store operation, in the style of LevelDB.
// A Status is either ok() or carries a code and a human-readable message that
// callers may show to users as it is.
#pragma once

#include <string>
#include <utility>

namespace ap::es {

enum class Code {
  kOk = 0,
  kWrongExpectedVersion,  // Optimistic concurrency check failed; nothing written.
  kInvalidArgument,       // Empty/over-long stream id, empty type, etc.
  kTooLarge,              // Event over the size limit or batch over the count limit.
  kBusy,                  // The bounded append queue is full; retry later.
  kNotFound,              // A requested snapshot/key does not exist.
  kCorruption,            // Stored bytes do not decode or do not match their hash.
  kUnsupportedFormat,     // The data folder holds a format version we do not know.
  kClosed,                // The store is shut down or failed permanently.
  kIoError,               // RocksDB reported an error.
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns "OK" or "<code name>: <message>" for logs and test failures.
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Returns a short stable name for `code`, such as "wrong_expected_version".
const char* code_name(Code code);

}  // namespace ap::es
