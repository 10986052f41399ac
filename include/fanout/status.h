// Status and Result<T>: errors are values at every module boundary.
// No exceptions cross the public API.
#pragma once

#include <cstdio>
#include <cstdlib>
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

class [[nodiscard]] Status {
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

namespace internal {
// Reading the value of a Result that holds an error is a bug in the caller:
// it stops the process with the error rather than read garbage.
[[noreturn]] inline void DieOnMissingValue(const Status& status) {
  std::fprintf(stderr, "fanout: fatal: the value of a Result was read, but it holds an error: %s\n",
               status.ToString().c_str());
  std::abort();
}
}  // namespace internal

// A value or the Status that explains why there is none. Reading the value
// (value(), *, ->) of an error aborts with its message: check ok() first, or
// use FANOUT_ASSIGN_OR_RETURN.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  // An error. (An ok status without a value is a bug: it becomes one.)
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Failed("internal error: a Result was given an ok status and no value");
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return Checked(); }
  const T& value() const& { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return Checked(); }
  T&& operator*() && { return std::move(Checked()); }

 private:
  T& Checked() {
    if (!value_) internal::DieOnMissingValue(status_);
    return *value_;
  }
  const T& Checked() const {
    if (!value_) internal::DieOnMissingValue(status_);
    return *value_;
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace fanout

#define FANOUT_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::fanout::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

// FANOUT_ASSIGN_OR_RETURN(auto table, con.Query(sql)); evaluates a Result,
// returns its status from the calling function when it is an error, else
// moves its value into `lhs` (a declaration or an lvalue). Two statements:
// not for an unbraced if/else branch.
#define FANOUT_ASSIGN_OR_RETURN(lhs, expr) \
  FANOUT_ASSIGN_OR_RETURN_IMPL_(FANOUT_CONCAT_(_fanout_result_, __COUNTER__), lhs, expr)
#define FANOUT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
#define FANOUT_CONCAT_(a, b) FANOUT_CONCAT_INNER_(a, b)
#define FANOUT_CONCAT_INNER_(a, b) a##b
