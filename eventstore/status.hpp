// Status: the outcome of an event-store operation, in the style of LevelDB.
// A Status is either ok() or carries a code and a human-readable message that
// callers may show to users as it is.
#pragma once

#include <stdexcept>
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

// Thrown by reads of the read model that have no Status return of their own
// (a lookup made while handling a request) when the store fails for a reason
// other than "not found": an I/O error, corruption, a closed store. Such a
// failure is never taken for "absent"; the HTTP server answers it 503.
class StorageError : public std::runtime_error {
 public:
  explicit StorageError(const Status& status)
      : std::runtime_error("the read model could not be read: " + status.to_string()),
        status_(status) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Whether `status` found what was read: true when ok, false when kNotFound;
// any other failure throws StorageError.
inline bool found(const Status& status) {
  if (status.ok()) return true;
  if (status.code() == Code::kNotFound) return false;
  throw StorageError(status);
}

}  // namespace ap::es
