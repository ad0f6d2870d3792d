#include "mgmt/restconf/json.hpp"

#include <cstdio>

namespace meshgate::mgmt::json {

value value::boolean(bool b) {
    value v;
    v.kind_ = kind::boolean;
    v.b_ = b;
    v.s_ = b ? "true" : "false";
    return v;
}

value value::number(std::string text) {
    value v;
    v.kind_ = kind::number;
    v.s_ = std::move(text);
    return v;
}

value value::string(std::string s) {
    value v;
    v.kind_ = kind::string;
    v.s_ = std::move(s);
    return v;
}

value value::array() {
    value v;
    v.kind_ = kind::array;
    return v;
}

value value::object() {
    value v;
    v.kind_ = kind::object;
    return v;
}

std::optional<uint64_t> value::as_uint() const {
    if ((kind_ != kind::number && kind_ != kind::string) || s_.empty() || s_.size() > 20) return std::nullopt;
    uint64_t r = 0;
    for (char c : s_) {
        if (c < '0' || c > '9') return std::nullopt;
        uint64_t d = static_cast<uint64_t>(c - '0');
        if (r > (UINT64_MAX - d) / 10) return std::nullopt;
        r = r * 10 + d;
    }
    return r;
}

const value* value::find(std::string_view name) const {
    for (const auto& [k, v] : members_)
        if (k == name) return &v;
    return nullptr;
}

value* value::find(std::string_view name) {
    for (auto& [k, v] : members_)
        if (k == name) return &v;
    return nullptr;
}

value& value::set(std::string name, value v) {
    if (value* old = find(name)) {
        *old = std::move(v);
        return *old;
    }
    members_.emplace_back(std::move(name), std::move(v));
    return members_.back().second;
}

std::string quote(std::string_view s) {
    std::string o;
    o.reserve(s.size() + 2);
    o += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                o += "\\\"";
                break;
            case '\\':
                o += "\\\\";
                break;
            case '\n':
                o += "\\n";
                break;
            case '\r':
                o += "\\r";
                break;
            case '\t':
                o += "\\t";
                break;
            case '\b':
                o += "\\b";
                break;
            case '\f':
                o += "\\f";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    o += buf;
                } else {
                    o += ch;
                }
        }
    }
    o += '"';
    return o;
}

namespace {

void dump_to(const value& v, std::string& o) {
    switch (v.type()) {
        case value::kind::null:
            o += "null";
            break;
        case value::kind::boolean:
        case value::kind::number:
            o += v.text();
            break;
        case value::kind::string:
            o += quote(v.text());
            break;
        case value::kind::array: {
            o += '[';
            bool first = true;
            for (const auto& i : v.items()) {
                if (!first) o += ',';
                first = false;
                dump_to(i, o);
            }
            o += ']';
            break;
        }
        case value::kind::object: {
            o += '{';
            bool first = true;
            for (const auto& [k, m] : v.members()) {
                if (!first) o += ',';
                first = false;
                o += quote(k);
                o += ':';
                dump_to(m, o);
            }
            o += '}';
            break;
        }
    }
}

class parser {
public:
    explicit parser(std::string_view t) : t_(t) {}

    std::optional<value> run(std::string* why) {
        skip_ws();
        auto v = parse_value(0);
        if (v) {
            skip_ws();
            if (i_ != t_.size()) {
                v.reset();
                err_ = "trailing characters";
            }
        }
        if (!v && why) *why = err_ + " at offset " + std::to_string(i_);
        return v;
    }

private:
    void skip_ws() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
    }

    std::optional<value> fail(std::string why) {
        if (err_.empty()) err_ = std::move(why);
        return std::nullopt;
    }

    bool literal(std::string_view word) {
        if (t_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    std::optional<value> parse_value(int depth) {
        if (depth > 256) return fail("nesting too deep");
        if (i_ >= t_.size()) return fail("unexpected end of input");
        char c = t_[i_];
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') {
            std::string s;
            if (!parse_string(s)) return std::nullopt;
            return value::string(std::move(s));
        }
        if (literal("true")) return value::boolean(true);
        if (literal("false")) return value::boolean(false);
        if (literal("null")) return value::null();
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        return fail("unexpected character");
    }

    std::optional<value> parse_number() {
        size_t start = i_;
        auto digits = [&] {
            size_t n = 0;
            while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_, ++n;
            return n;
        };
        if (t_[i_] == '-') ++i_;
        if (i_ < t_.size() && t_[i_] == '0') {
            ++i_;
        } else if (digits() == 0) {
            return fail("invalid number");
        }
        if (i_ < t_.size() && t_[i_] == '.') {
            ++i_;
            if (digits() == 0) return fail("invalid number");
        }
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            ++i_;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
            if (digits() == 0) return fail("invalid number");
        }
        return value::number(std::string(t_.substr(start, i_ - start)));
    }

    static void put_utf8(std::string& o, uint32_t cp) {
        if (cp < 0x80) {
            o += static_cast<char>(cp);
        } else if (cp < 0x800) {
            o += static_cast<char>(0xC0 | (cp >> 6));
            o += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o += static_cast<char>(0xE0 | (cp >> 12));
            o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            o += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            o += static_cast<char>(0xF0 | (cp >> 18));
            o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            o += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(uint32_t& out) {
        if (i_ + 4 > t_.size()) return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            char c = t_[i_++];
            out <<= 4;
            if (c >= '0' && c <= '9') {
                out |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                out |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                out |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    bool parse_string(std::string& o) {
        ++i_;  // opening quote
        while (true) {
            if (i_ >= t_.size()) return fail("unterminated string"), false;
            char c = t_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string"), false;
            if (c != '\\') {
                o += c;
                continue;
            }
            if (i_ >= t_.size()) return fail("unterminated string"), false;
            char e = t_[i_++];
            switch (e) {
                case '"':
                case '\\':
                case '/':
                    o += e;
                    break;
                case 'b':
                    o += '\b';
                    break;
                case 'f':
                    o += '\f';
                    break;
                case 'n':
                    o += '\n';
                    break;
                case 'r':
                    o += '\r';
                    break;
                case 't':
                    o += '\t';
                    break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!hex4(cp)) return fail("invalid \\u escape"), false;
                    if (cp >= 0xD800 && cp < 0xDC00) {
                        uint32_t lo = 0;
                        if (t_.substr(i_, 2) != "\\u") return fail("lone surrogate"), false;
                        i_ += 2;
                        if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("lone surrogate"), false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return fail("lone surrogate"), false;
                    }
                    put_utf8(o, cp);
                    break;
                }
                default:
                    return fail("invalid escape"), false;
            }
        }
    }

    std::optional<value> parse_array(int depth) {
        ++i_;
        value a = value::array();
        skip_ws();
        if (i_ < t_.size() && t_[i_] == ']') {
            ++i_;
            return a;
        }
        while (true) {
            skip_ws();
            auto v = parse_value(depth + 1);
            if (!v) return std::nullopt;
            a.push(std::move(*v));
            skip_ws();
            if (i_ >= t_.size()) return fail("unterminated array");
            if (t_[i_] == ',') {
                ++i_;
                continue;
            }
            if (t_[i_] == ']') {
                ++i_;
                return a;
            }
            return fail("expected ',' or ']'");
        }
    }

    std::optional<value> parse_object(int depth) {
        ++i_;
        value o = value::object();
        skip_ws();
        if (i_ < t_.size() && t_[i_] == '}') {
            ++i_;
            return o;
        }
        while (true) {
            skip_ws();
            if (i_ >= t_.size() || t_[i_] != '"') return fail("expected a member name");
            std::string name;
            if (!parse_string(name)) return std::nullopt;
            skip_ws();
            if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
            ++i_;
            skip_ws();
            auto v = parse_value(depth + 1);
            if (!v) return std::nullopt;
            if (o.find(name)) return fail("duplicate member \"" + name + "\"");
            o.members().emplace_back(std::move(name), std::move(*v));
            skip_ws();
            if (i_ >= t_.size()) return fail("unterminated object");
            if (t_[i_] == ',') {
                ++i_;
                continue;
            }
            if (t_[i_] == '}') {
                ++i_;
                return o;
            }
            return fail("expected ',' or '}'");
        }
    }

    std::string_view t_;
    size_t i_ = 0;
    std::string err_;
};

}  // namespace

std::string value::dump() const {
    std::string o;
    dump_to(*this, o);
    return o;
}

std::optional<value> parse(std::string_view text, std::string* why) {
    return parser(text).run(why);
}

}  // namespace meshgate::mgmt::json
