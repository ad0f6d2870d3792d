#pragma once
// A control-path result: a value or a human-readable error (std::expected is C++23; g++ 12 lacks it).
#include <string>
#include <utility>
#include <variant>

namespace meshgate {

struct error {
    std::string message;
};

template <class T>
class [[nodiscard]] result {
public:
    result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    result(error e) : v_(std::move(e)) {}      // NOLINT(google-explicit-constructor)

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& value() const& { return std::get<0>(v_); }
    const std::string& error_message() const { return std::get<1>(v_).message; }

private:
    std::variant<T, error> v_;
};

}  // namespace meshgate
