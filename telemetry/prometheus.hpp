#pragma once
// Prometheus text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
// The writer groups samples under their family whatever order they are added in, so a caller can
// walk its data once and interleave families; the output lists families in the order they were
// first declared.
//
// Thread contract: one writer per thread (a plain value); the scrape is rendered off the workers.
#include <charconv>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshgate::telemetry {

inline constexpr std::string_view prom_content_type = "text/plain; version=0.0.4; charset=utf-8";

using prom_label = std::pair<std::string_view, std::string_view>;
using prom_labels = std::initializer_list<prom_label>;

class prom_writer {
public:
    // Declares a family: `# HELP` (escaped; omitted when empty) and `# TYPE` (counter, gauge,
    // histogram, summary or untyped). A second call with the same name is ignored.
    void family(std::string_view name, std::string_view help, std::string_view type);

    // One sample `name{labels} value`. It goes under the family of that name (or, for
    // _bucket/_sum/_count, of the histogram or summary it belongs to); a sample of an undeclared
    // family opens an untyped one. Invalid characters in names become '_'.
    void sample(std::string_view name, prom_labels labels, double value);
    // Integers (counters above all) are written exactly, whatever their size.
    template <std::integral T>
    requires(!std::same_as<T, bool>) void sample(std::string_view name, prom_labels labels, T value) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, value);
        sample_text(name, labels, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
    }

    // A histogram's series: `bucket_counts` holds one count per bucket, not cumulative, with one
    // more entry than `upper_bounds` for the overflow (+Inf) bucket. Writes the cumulative
    // name_bucket{...,le="..."} lines, name_sum and name_count. Missing counts read as 0.
    void histogram(std::string_view name, prom_labels labels, const std::vector<double>& upper_bounds,
                   const std::vector<uint64_t>& bucket_counts, double sum);

    // The exposition, ready to serve with prom_content_type.
    std::string str() &&;

private:
    struct family_text {
        std::string type;  // empty: opened by a sample, not declared (yet)
        std::string head;  // # HELP / # TYPE lines
        std::string body;  // samples
    };

    family_text& family_for(std::string_view sample_name);
    void sample_text(std::string_view name, prom_labels labels, std::string_view value);
    static void write_series(std::string& out, std::string_view name, prom_labels labels, std::string_view le = {});

    std::vector<family_text> families_;
    std::map<std::string, size_t, std::less<>> index_;  // family name -> families_
};

// Formats a sample value: integral values exactly ("1000000", not "1e+06"), others in the shortest
// form that reads back the same, and NaN, +Inf, -Inf as Prometheus spells them.
std::string prom_format_value(double v);

}  // namespace meshgate::telemetry
