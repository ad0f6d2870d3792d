#pragma once
// A small JSON (RFC 8259) value, parser and serializer for RESTCONF's hand-built bodies: the
// operations' input and output, the error documents, and meshgatectl's tables. The data trees
// themselves go through libyang (RFC 7951); this is for everything around them.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshgate::mgmt::json {

class value {
public:
    enum class kind : uint8_t { null, boolean, number, string, array, object };

    value() = default;
    static value null() { return {}; }
    static value boolean(bool b);
    static value number(std::string text);  // kept as written (uint64 and decimals stay exact)
    static value string(std::string s);
    static value array();
    static value object();

    kind type() const noexcept { return kind_; }
    bool is_null() const noexcept { return kind_ == kind::null; }
    bool is_object() const noexcept { return kind_ == kind::object; }
    bool is_array() const noexcept { return kind_ == kind::array; }
    bool is_string() const noexcept { return kind_ == kind::string; }
    bool is_number() const noexcept { return kind_ == kind::number; }
    bool is_bool() const noexcept { return kind_ == kind::boolean; }

    bool as_bool() const noexcept { return b_; }
    // string: the string; number: its text; boolean: "true"/"false"; else "".
    const std::string& text() const noexcept { return s_; }
    // A number or a numeric string as an unsigned integer; nullopt otherwise.
    std::optional<uint64_t> as_uint() const;

    // Arrays.
    std::vector<value>& items() noexcept { return items_; }
    const std::vector<value>& items() const noexcept { return items_; }
    void push(value v) { items_.push_back(std::move(v)); }

    // Objects keep their members in order; a repeated member name is a parse error.
    std::vector<std::pair<std::string, value>>& members() noexcept { return members_; }
    const std::vector<std::pair<std::string, value>>& members() const noexcept { return members_; }
    const value* find(std::string_view name) const;
    value* find(std::string_view name);
    value& set(std::string name, value v);  // replaces or appends

    // Compact serialization (RFC 8259), strings escaped.
    std::string dump() const;

private:
    kind kind_ = kind::null;
    bool b_ = false;
    std::string s_;
    std::vector<value> items_;
    std::vector<std::pair<std::string, value>> members_;
};

// Parses one JSON text (surrounding whitespace allowed). On failure returns nullopt and sets
// `why` (with the byte offset). Nesting is limited to 256 levels.
std::optional<value> parse(std::string_view text, std::string* why = nullptr);

// `s` as a JSON string literal, with the quotes.
std::string quote(std::string_view s);

}  // namespace meshgate::mgmt::json
