// Status and Result<T>: errors are values at every module boundary.
// No exceptions cross the public API.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fanout {

// What went wrong, finer than Status::Code, for the callers that decide what
// to do next (retry, back off, stop). Set where the error is raised: by the
// engine from DuckDB's error type, by the scheduler for its timeout and for
// cancellation, by storage for I/O. Never derived from a message's text.
enum class ErrorKind {
  kNone,         // ok
  kPermanent,    // the same attempt would fail again (parser, binder, constraint, a wrong job)
  kCatalog,      // permanent: a table, view or function is missing or exists already
  kOutOfMemory,  // the engine ran out of memory: worth another attempt with fewer at once
  kTransientIo,  // a file, network or HTTP error: worth a retry
  kTimeout,      // run.timeout stopped the attempt: worth a retry
  kInterrupted,  // cancelled (a signal, on_failure: stop): stop
};
const char* ToString(ErrorKind kind);

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
  // Out of memory in the engine: an i/o-class error (exit 1) of its own kind.
  static Status OutOfMemory(std::string m) { return Status(Code::kIo, std::move(m), ErrorKind::kOutOfMemory); }
  // An attempt stopped by run.timeout: interrupted, of its own kind.
  static Status Timeout(std::string m) { return Status(Code::kInterrupted, std::move(m), ErrorKind::kTimeout); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // kNone when ok; otherwise what kind of error (see ErrorKind).
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a status with the same code and kind and `prefix: message`.
  Status WithPrefix(const std::string& prefix) const {
    return ok() ? *this : Status(code_, prefix + ": " + message_, kind_);
  }
  // The same error with another kind (the code stays; an ok status stays ok).
  Status WithKind(ErrorKind kind) const { return ok() ? *this : Status(code_, message_, kind); }

 private:
  Status(Code c, std::string m) : Status(c, std::move(m), DefaultKind(c)) {}
  Status(Code c, std::string m, ErrorKind k) : code_(c), kind_(k), message_(std::move(m)) {}
  // kIo is transient and kInterrupted a cancellation unless said otherwise.
  static ErrorKind DefaultKind(Code c) {
    switch (c) {
      case Code::kOk: return ErrorKind::kNone;
      case Code::kIo: return ErrorKind::kTransientIo;
      case Code::kInterrupted: return ErrorKind::kInterrupted;
      default: return ErrorKind::kPermanent;
    }
  }
  Code code_ = Code::kOk;
  ErrorKind kind_ = ErrorKind::kNone;
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
