// Status and Result<T>: errors are values at every module boundary.
// No exceptions cross the public API.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fanout {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalid,      // the job or its inputs are wrong: nothing was written (exit 2)
    kFailed,       // an iteration failed at run time (exit 1 for the run)
    kIo,           // a filesystem call failed
    kInterrupted,  // cancelled by a signal, a timeout or on_failure: stop
    kBusy,         // another run holds the output's lock
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
  static Status Failed(std::string m) { return Status(Code::kFailed, std::move(m)); }
  static Status Io(std::string m) { return Status(Code::kIo, std::move(m)); }
  static Status Interrupted(std::string m) { return Status(Code::kInterrupted, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a status with the same code and `prefix: message`.
  Status WithPrefix(const std::string& prefix) const {
    return ok() ? *this : Status(code_, prefix + ": " + message_);
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace fanout

#define FANOUT_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::fanout::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)
