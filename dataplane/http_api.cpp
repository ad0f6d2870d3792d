#include "dataplane/http_api.hpp"

#include <string>
#include <string_view>

#include "dataplane/tap/tap.hpp"
#include "telemetry/dashboard/dashboard_assets.hpp"
#include "telemetry/log.hpp"
#include "telemetry/prometheus.hpp"

namespace meshgate::dataplane {

namespace {

using telemetry::http_request;
using telemetry::http_response;

constexpr auto main_lcore_timeout = std::chrono::seconds(2);

std::string quoted(std::string_view s) {
    std::string out(1, '"');
    telemetry::json_escape(out, s);
    out += '"';
    return out;
}

http_response json(std::string body, int status = 200) {
    http_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    r.body += '\n';
    return r;
}

http_response json_error(int status, const std::string& message) {
    return json("{\"error\":" + quoted(message) + "}", status);
}

std::string tap_json(const tap::tap_description& d) {
    const auto& s = d.stats;
    std::string j = "{\"name\":" + quoted(s.name) + ",\"running\":" + (s.running ? "true" : "false");
    j += ",\"filter\":" + quoted(d.filter) + ",\"direction\":" + quoted(d.direction) + ",\"interfaces\":[";
    for (size_t i = 0; i < d.interfaces.size(); ++i) {
        if (i != 0) j += ',';
        j += quoted(d.interfaces[i]);
    }
    j += "],\"snapLength\":" + std::to_string(d.snap_length) + ",\"jit\":" + (d.jit ? "true" : "false");
    j += ",\"directory\":" + quoted(d.directory) + ",\"collector\":" + quoted(d.collector);
    j += ",\"sessionId\":" + std::to_string(d.session_id);
    const std::pair<const char*, uint64_t> counters[] = {
        {"matched", s.matched},
        {"captured", s.captured},
        {"droppedRateLimit", s.dropped_rate_limit},
        {"droppedRingFull", s.dropped_ring_full},
        {"droppedNoBuffer", s.dropped_no_buffer},
        {"writtenBytes", s.written_bytes},
        {"files", s.files},
        {"mirrored", s.mirrored},
        {"mirrorDropped", s.mirror_dropped},
        {"writeErrors", s.write_errors},
    };
    for (const auto& [k, v] : counters) j += ",\"" + std::string(k) + "\":" + std::to_string(v);
    return j + "}";
}

// Splits "/taps/NAME/REST" into NAME and REST ("" when absent).
bool split_tap_path(std::string_view path, std::string& name, std::string& rest) {
    constexpr std::string_view prefix = "/taps/";
    if (path.substr(0, prefix.size()) != prefix) return false;
    path.remove_prefix(prefix.size());
    auto slash = path.find('/');
    name = std::string(path.substr(0, slash));
    rest = slash == std::string_view::npos ? "" : std::string(path.substr(slash + 1));
    return !name.empty();
}

}  // namespace

http_response http_api::serve(const http_request& req) const {
    const bool get = req.method == "GET";  // HEAD arrives as GET (is_head)
    if (req.path == "/metrics") {
        if (!get) return http_response::error(405, "use GET");
        std::string text;
        if (!mailbox->run([&] { text = render_metrics(*metrics); }, main_lcore_timeout))
            return http_response::error(503, "the main lcore did not answer within 2 s");
        http_response r;
        r.content_type = std::string(telemetry::prom_content_type);
        r.body = std::move(text);
        return r;
    }
    if (const auto* a = telemetry::find_dashboard_asset(req.path)) {
        if (!get) return http_response::error(405, "use GET");
        http_response r;
        r.content_type = std::string(a->content_type);
        r.body = std::string(a->body);
        r.headers.emplace_back("Cache-Control", "no-cache");
        return r;
    }
    if (taps == nullptr) return http_response::error(404, "no such resource: " + req.path);
    if (req.path == "/taps" || req.path == "/taps/") {
        if (!get) return json_error(405, "use GET");
        std::string body = "{\"taps\":[";
        if (!mailbox->run(
                [&] {
                    bool first = true;
                    for (const auto& d : taps->describe()) {
                        if (!first) body += ',';
                        body += tap_json(d);
                        first = false;
                    }
                },
                main_lcore_timeout))
            return json_error(503, "the main lcore did not answer within 2 s");
        return json(body + "]}");
    }
    std::string name, rest;
    if (!split_tap_path(req.path, name, rest)) return http_response::error(404, "no such resource: " + req.path);
    bool known = false;
    mailbox->run(
        [&] {
            for (const auto& d : taps->describe()) known = known || d.stats.name == name;
        },
        main_lcore_timeout);
    if (!known) return json_error(404, "no tap named " + quoted(name));
    if (rest == "start" || rest == "stop") {
        if (req.method != "POST") return json_error(405, "use POST to " + rest + " a tap");
        std::string err;
        bool done = mailbox->run(
            [&] {
                auto r = rest == "start" ? taps->start(name) : taps->stop(name);
                if (!r) err = r.error_message();
            },
            main_lcore_timeout);
        if (!done) return json_error(503, "the main lcore did not answer within 2 s");
        if (!err.empty()) return json_error(409, err);
        telemetry::log(telemetry::level::info, "tap." + rest, "tap " + name + ": " + rest + " requested over HTTP",
                       {{"tap", name}});
        return json("{\"tap\":" + quoted(name) + ",\"running\":" + (rest == "start" ? "true" : "false") + "}");
    }
    if (rest == "files" || rest == "files/") {
        if (!get) return json_error(405, "use GET");
        std::string body, err;
        mailbox->run(
            [&] {
                auto files = taps->files(name);
                if (!files) {
                    err = files.error_message();
                    return;
                }
                body = "{\"tap\":" + quoted(name) + ",\"files\":[";
                bool first = true;
                for (const auto& f : files.value()) {
                    if (!first) body += ',';
                    first = false;
                    body += "{\"name\":" + quoted(f.name) + ",\"bytes\":" + std::to_string(f.bytes) +
                            ",\"url\":" + quoted("/taps/" + name + "/files/" + f.name) + "}";
                }
                body += "]}";
            },
            main_lcore_timeout);
        if (!err.empty()) return json_error(409, err);
        if (body.empty()) return json_error(503, "the main lcore did not answer within 2 s");
        return json(body);
    }
    if (rest.rfind("files/", 0) == 0) {
        if (!get) return json_error(405, "use GET");
        std::string file = rest.substr(6), path, err;
        mailbox->run(
            [&] {
                auto p = taps->resolve_file(name, file);
                if (p) {
                    path = p.value();
                } else {
                    err = p.error_message();
                }
            },
            main_lcore_timeout);
        if (path.empty()) return json_error(404, err.empty() ? "the main lcore did not answer" : err);
        http_response r;
        r.content_type = "application/x-pcapng";
        r.file_path = path;
        r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + "\"");
        return r;
    }
    return http_response::error(404, "no such resource: " + req.path);
}

}  // namespace meshgate::dataplane
