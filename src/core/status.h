// Status and Result<T>: the channel for bad input. A failed Status carries one line that names what
// is wrong (the file, the key, the flag) and, after "; hint: ", what to do about it.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "core/check.h"

namespace cartlm {

class [[nodiscard]] Status {
 public:
  Status() = default;  // success
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return !message_.has_value(); }
  const std::string& message() const {
    static const std::string kOk = "ok";
    return message_ ? *message_ : kOk;
  }
  // Returns a copy with "context: " put in front of the message (no-op on success).
  Status with_context(const std::string& context) const {
    return ok() ? *this : error(context + ": " + *message_);
  }

 private:
  std::optional<std::string> message_;
};

inline Status error(std::string message) { return Status::error(std::move(message)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    CARTLM_CHECK(!std::get<Status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  const std::string& message() const { return std::get<Status>(v_).message(); }
  T& value() {
    CARTLM_CHECK(ok());
    return std::get<T>(v_);
  }
  const T& value() const {
    CARTLM_CHECK(ok());
    return std::get<T>(v_);
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cartlm

#define CARTLM_CONCAT_INNER(a, b) a##b
#define CARTLM_CONCAT(a, b) CARTLM_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) failed.
#define CARTLM_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::cartlm::Status _st = (expr);              \
    if (!_st.ok()) return _st;                  \
  } while (0)

// `CARTLM_ASSIGN_OR_RETURN(auto x, f())`: unwraps a Result or returns its Status.
#define CARTLM_ASSIGN_OR_RETURN(lhs, expr) \
  CARTLM_ASSIGN_OR_RETURN_IMPL(CARTLM_CONCAT(_res_, __LINE__), lhs, expr)
#define CARTLM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp.value())
