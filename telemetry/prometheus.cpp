#include "telemetry/prometheus.hpp"

#include <cmath>

namespace meshgate::telemetry {

namespace {

bool name_char(char c, bool first, bool colon_ok) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
    if (c == ':') return colon_ok;
    return !first && c >= '0' && c <= '9';
}

// Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without ':'. One bad name must
// not make the whole scrape unparseable, so offending characters become '_'.
void append_name(std::string& out, std::string_view name, bool colon_ok) {
    if (name.empty()) {
        out.push_back('_');
        return;
    }
    for (size_t i = 0; i < name.size(); ++i) out.push_back(name_char(name[i], i == 0, colon_ok) ? name[i] : '_');
}

std::string metric_name(std::string_view name) {
    std::string s;
    append_name(s, name, true);
    return s;
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\') {
            out.append("\\\\");
        } else if (c == '\n') {
            out.append("\\n");
        } else if (c == '"' && quote) {
            out.append("\\\"");
        } else {
            out.push_back(c);
        }
    }
}

}  // namespace

std::string prom_format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    std::to_chars_result r;
    if (std::trunc(v) == v && std::fabs(v) < 1e21) {
        r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    } else {
        r = std::to_chars(buf, buf + sizeof buf, v);
    }
    return std::string(buf, r.ptr);
}

void prom_writer::family(std::string_view name, std::string_view help, std::string_view type) {
    std::string n = metric_name(name);
    auto it = index_.find(n);
    if (it == index_.end()) {
        it = index_.emplace(n, families_.size()).first;
        families_.emplace_back();
    }
    family_text& f = families_[it->second];
    if (!f.type.empty()) return;  // declared already: written once
    f.type = type.empty() ? "untyped" : std::string(type);
    if (!help.empty()) {
        f.head.append("# HELP ").append(n).push_back(' ');
        append_escaped(f.head, help, false);
        f.head.push_back('\n');
    }
    f.head.append("# TYPE ").append(n).push_back(' ');
    f.head.append(f.type).push_back('\n');
}

prom_writer::family_text& prom_writer::family_for(std::string_view sample_name) {
    std::string n = metric_name(sample_name);
    if (auto it = index_.find(n); it != index_.end()) return families_[it->second];
    // name_bucket, name_sum and name_count belong to the histogram or summary `name`.
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        std::string_view sv = n;
        if (!sv.ends_with(suffix)) continue;
        auto it = index_.find(sv.substr(0, sv.size() - suffix.size()));
        if (it == index_.end()) continue;
        const std::string& type = families_[it->second].type;
        if (type == "histogram" || (type == "summary" && suffix != "_bucket")) return families_[it->second];
    }
    index_.emplace(n, families_.size());
    return families_.emplace_back();
}

void prom_writer::write_series(std::string& out, std::string_view name, prom_labels labels, std::string_view le) {
    append_name(out, name, true);
    if (labels.size() == 0 && le.empty()) return;
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out.push_back(',');
        first = false;
        append_name(out, k, false);
        out.append("=\"");
        append_escaped(out, v, true);
        out.push_back('"');
    }
    if (!le.empty()) {
        if (!first) out.push_back(',');
        out.append("le=\"").append(le).push_back('"');
    }
    out.push_back('}');
}

void prom_writer::sample_text(std::string_view name, prom_labels labels, std::string_view value) {
    std::string& out = family_for(name).body;
    write_series(out, name, labels);
    out.push_back(' ');
    out.append(value);
    out.push_back('\n');
}

void prom_writer::sample(std::string_view name, prom_labels labels, double value) {
    sample_text(name, labels, prom_format_value(value));
}

void prom_writer::histogram(std::string_view name, prom_labels labels, const std::vector<double>& upper_bounds,
                            const std::vector<uint64_t>& bucket_counts, double sum) {
    std::string& out = family_for(name).body;
    const std::string base = metric_name(name);
    const std::string bucket = base + "_bucket";
    uint64_t cumulative = 0;
    char buf[24];
    auto put_count = [&](uint64_t v) {
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.push_back(' ');
        out.append(buf, r.ptr);
        out.push_back('\n');
    };
    for (size_t i = 0; i < upper_bounds.size(); ++i) {
        if (i < bucket_counts.size()) cumulative += bucket_counts[i];
        write_series(out, bucket, labels, prom_format_value(upper_bounds[i]));
        put_count(cumulative);
    }
    for (size_t i = upper_bounds.size(); i < bucket_counts.size(); ++i) cumulative += bucket_counts[i];
    write_series(out, bucket, labels, "+Inf");
    put_count(cumulative);
    write_series(out, base + "_sum", labels);
    out.push_back(' ');
    out.append(prom_format_value(sum));
    out.push_back('\n');
    write_series(out, base + "_count", labels);
    put_count(cumulative);
}

std::string prom_writer::str() && {
    size_t total = 0;
    for (const auto& f : families_) total += f.head.size() + f.body.size();
    std::string out;
    out.reserve(total);
    for (const auto& f : families_) {
        out.append(f.head);
        out.append(f.body);
    }
    return out;
}

}  // namespace meshgate::telemetry
