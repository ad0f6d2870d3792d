// DPDK telemetry commands for the taps. The callbacks run on DPDK's telemetry thread: whatever
// they need from the manager is fetched on the main lcore through manager::call; a file chunk
// for a download is then read on the telemetry thread itself (never a worker).
#include <fcntl.h>
#include <rte_telemetry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "dataplane/tap/tap.hpp"

namespace meshgate::dataplane::tap {
namespace {

manager* g_manager = nullptr;

constexpr size_t chunk_bytes = 4096;  // raw bytes per /meshgate/tap_file answer
constexpr size_t piece_bytes = 64;    // raw bytes per base64 string (88 characters < 128)

std::string clip(const std::string& s) {
    // Telemetry strings hold at most RTE_TEL_MAX_STRING_LEN - 1 characters.
    constexpr size_t max = RTE_TEL_MAX_STRING_LEN - 1;
    return s.size() <= max ? s : s.substr(0, max - 3) + "...";
}

std::string base64(const uint8_t* p, size_t n) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = uint32_t{p[i]} << 16;
        if (i + 1 < n) v |= uint32_t{p[i + 1]} << 8;
        if (i + 2 < n) v |= p[i + 2];
        out += abc[v >> 18 & 63];
        out += abc[v >> 12 & 63];
        out += i + 1 < n ? abc[v >> 6 & 63] : '=';
        out += i + 2 < n ? abc[v & 63] : '=';
    }
    return out;
}

int fail(rte_tel_data* d, const std::string& why) {
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "error", clip(why).c_str());
    return 0;
}

// "a,b,c" -> parts (the telemetry client passes everything after the first comma).
std::vector<std::string> split(const char* params) {
    std::vector<std::string> out;
    std::string s = params != nullptr ? params : "";
    size_t start = 0;
    while (true) {
        size_t c = s.find(',', start);
        out.push_back(s.substr(start, c == std::string::npos ? std::string::npos : c - start));
        if (c == std::string::npos) break;
        start = c + 1;
    }
    return out;
}

int tel_taps(const char*, const char* params, rte_tel_data* d) {
    if (g_manager == nullptr) return fail(d, "no taps");
    std::vector<tap_description> list;
    if (!g_manager->call([&] { list = g_manager->describe(); })) return fail(d, "the main lcore did not answer");
    std::string only = params != nullptr ? params : "";
    rte_tel_data_start_dict(d);
    for (const auto& t : list) {
        if (!only.empty() && t.stats.name != only) continue;
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) continue;
        rte_tel_data_start_dict(c);
        const auto& s = t.stats;
        rte_tel_data_add_dict_u64(c, "running", s.running ? 1 : 0);
        rte_tel_data_add_dict_string(c, "filter", clip(t.filter).c_str());
        std::string ifs;
        for (const auto& i : t.interfaces) ifs += (ifs.empty() ? "" : ",") + i;
        rte_tel_data_add_dict_string(c, "interfaces", clip(ifs).c_str());
        rte_tel_data_add_dict_string(c, "direction", t.direction.c_str());
        rte_tel_data_add_dict_u64(c, "snap_length", t.snap_length);
        rte_tel_data_add_dict_u64(c, "jit", t.jit ? 1 : 0);
        rte_tel_data_add_dict_string(c, "directory", clip(t.directory).c_str());
        rte_tel_data_add_dict_string(c, "collector", t.collector.c_str());
        rte_tel_data_add_dict_u64(c, "session_id", t.session_id);
        rte_tel_data_add_dict_u64(c, "matched", s.matched);
        rte_tel_data_add_dict_u64(c, "captured", s.captured);
        rte_tel_data_add_dict_u64(c, "dropped_rate_limit", s.dropped_rate_limit);
        rte_tel_data_add_dict_u64(c, "dropped_ring_full", s.dropped_ring_full);
        rte_tel_data_add_dict_u64(c, "dropped_no_buffer", s.dropped_no_buffer);
        rte_tel_data_add_dict_u64(c, "written_bytes", s.written_bytes);
        rte_tel_data_add_dict_u64(c, "files", s.files);
        rte_tel_data_add_dict_u64(c, "mirrored", s.mirrored);
        rte_tel_data_add_dict_u64(c, "mirror_dropped", s.mirror_dropped);
        rte_tel_data_add_dict_u64(c, "write_errors", s.write_errors);
        rte_tel_data_add_dict_container(d, s.name.c_str(), c, 0);
    }
    return 0;
}

int start_stop(const char* params, rte_tel_data* d, bool start) {
    if (g_manager == nullptr) return fail(d, "no taps");
    std::string name = params != nullptr ? params : "";
    if (name.empty())
        return fail(d, "give the tap name: /meshgate/tap_" + std::string(start ? "start" : "stop") + ",NAME");
    std::optional<std::string> err;
    bool ok = g_manager->call([&] {
        auto r = start ? g_manager->start(name) : g_manager->stop(name);
        if (!r) err = r.error_message();
    });
    if (!ok) return fail(d, "the main lcore did not answer");
    if (err) return fail(d, *err);
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "tap", clip(name).c_str());
    rte_tel_data_add_dict_u64(d, "running", start ? 1 : 0);
    return 0;
}

int tel_start(const char*, const char* params, rte_tel_data* d) {
    return start_stop(params, d, true);
}

int tel_stop(const char*, const char* params, rte_tel_data* d) {
    return start_stop(params, d, false);
}

int tel_files(const char*, const char* params, rte_tel_data* d) {
    if (g_manager == nullptr) return fail(d, "no taps");
    std::string name = params != nullptr ? params : "";
    std::optional<std::string> err;
    std::vector<tap_file_info> files;
    if (!g_manager->call([&] {
            auto r = g_manager->files(name);
            if (r) {
                files = std::move(r).value();
            } else {
                err = r.error_message();
            }
        }))
        return fail(d, "the main lcore did not answer");
    if (err) return fail(d, *err);
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "tap", clip(name).c_str());
    rte_tel_data* names = rte_tel_data_alloc();
    rte_tel_data* sizes = rte_tel_data_alloc();
    if (names == nullptr || sizes == nullptr) {
        rte_tel_data_free(names);
        rte_tel_data_free(sizes);
        return -ENOMEM;
    }
    rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
    rte_tel_data_start_array(sizes, RTE_TEL_U64_VAL);
    // The newest ones when there are more than an answer holds.
    constexpr size_t max_list = 400;
    size_t first = files.size() > max_list ? files.size() - max_list : 0;
    for (size_t i = first; i < files.size(); ++i) {
        rte_tel_data_add_array_string(names, files[i].name.c_str());
        rte_tel_data_add_array_u64(sizes, files[i].bytes);
    }
    rte_tel_data_add_dict_container(d, "files", names, 0);
    rte_tel_data_add_dict_container(d, "bytes", sizes, 0);
    rte_tel_data_add_dict_u64(d, "listed_from", first);
    return 0;
}

// "TAP,FILE[,OFFSET]": up to 4096 bytes of one of the tap's files, base64 in pieces.
int tel_file(const char*, const char* params, rte_tel_data* d) {
    if (g_manager == nullptr) return fail(d, "no taps");
    auto parts = split(params);
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
        return fail(d, "parameters: TAP,FILE[,OFFSET]");
    uint64_t offset = 0;
    if (parts.size() == 3) {
        char* end = nullptr;
        offset = std::strtoull(parts[2].c_str(), &end, 10);
        if (parts[2].empty() || *end != '\0') return fail(d, "OFFSET is not a number");
    }
    std::optional<std::string> err;
    std::string path;
    if (!g_manager->call([&] {
            auto r = g_manager->resolve_file(parts[0], parts[1]);
            if (r) {
                path = r.value();
            } else {
                err = r.error_message();
            }
        }))
        return fail(d, "the main lcore did not answer");
    if (err) return fail(d, *err);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(d, "cannot open " + parts[1] + ": " + std::strerror(errno));
    struct stat st {};
    uint8_t buf[chunk_bytes];
    ssize_t got = -1;
    if (::fstat(fd, &st) == 0) got = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset));
    ::close(fd);
    if (got < 0) return fail(d, "cannot read " + parts[1] + ": " + std::strerror(errno));
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "tap", clip(parts[0]).c_str());
    rte_tel_data_add_dict_string(d, "file", clip(parts[1]).c_str());
    rte_tel_data_add_dict_u64(d, "size", static_cast<uint64_t>(st.st_size));
    rte_tel_data_add_dict_u64(d, "offset", offset);
    rte_tel_data_add_dict_u64(d, "length", static_cast<uint64_t>(got));
    rte_tel_data* data = rte_tel_data_alloc();
    if (data == nullptr) return -ENOMEM;
    rte_tel_data_start_array(data, RTE_TEL_STRING_VAL);
    for (size_t i = 0; i < static_cast<size_t>(got); i += piece_bytes) {
        size_t n = std::min(piece_bytes, static_cast<size_t>(got) - i);
        rte_tel_data_add_array_string(data, base64(buf + i, n).c_str());
    }
    rte_tel_data_add_dict_container(d, "data", data, 0);
    return 0;
}

}  // namespace

void manager::unregister_telemetry() noexcept {
    if (g_manager == this) g_manager = nullptr;
}

void manager::register_telemetry() {
    g_manager = this;
    rte_telemetry_register_cmd("/meshgate/taps", tel_taps,
                               "Packet taps: settings and counters. Parameters: string tap name (optional)");
    rte_telemetry_register_cmd("/meshgate/tap_start", tel_start, "Starts a tap. Parameters: string tap name");
    rte_telemetry_register_cmd("/meshgate/tap_stop", tel_stop,
                               "Stops a tap (its current file is closed). Parameters: string tap name");
    rte_telemetry_register_cmd("/meshgate/tap_files", tel_files,
                               "A tap's pcapng files, oldest first, and their sizes. Parameters: string tap name");
    rte_telemetry_register_cmd("/meshgate/tap_file", tel_file,
                               "Up to 4096 bytes of a tap's file, base64 in 64-byte pieces. "
                               "Parameters: TAP,FILE[,OFFSET]");
}

}  // namespace meshgate::dataplane::tap
