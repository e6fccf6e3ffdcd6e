#pragma once
// Status and Result<T>: how every module reports failure across its boundary. No exception
// crosses a module boundary; library exceptions are caught inside the module that uses the library.
// Value types; thread-compatible (const methods may be called concurrently).
#include <string>
#include <utility>
#include <variant>

namespace holdgate {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong (bad JSON, bad policy, bad flag)
  kNotFound,          // no such approval / session / tool
  kAlreadyExists,
  kConflict,          // a state transition lost a race or the object is already decided
  kPermissionDenied,  // authenticated but not allowed (403)
  kUnauthenticated,   // no or bad credentials (401)
  kResourceExhausted, // rate limit, hold cap, payload too large
  kUnavailable,       // upstream down, receiver down: may succeed later
  kDeadlineExceeded,
  kInternal,          // a bug or an unexpected library failure
  kIo,                // disk, database, socket
};

const char* CodeName(Code code);

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status IoError(std::string m) { return Status(Code::kIo, std::move(m)); }

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}          // NOLINT: REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace holdgate
