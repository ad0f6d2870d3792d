#include "dataplane/tap/pcapng_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_version.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace meshgate::dataplane::tap {
namespace {

constexpr const char* suffix = ".pcapng";
constexpr size_t digits = 6;

// 1..999999 from "<tap>-NNNNNN.pcapng", else 0.
uint32_t number_of(const std::string& tap, const std::string& name) {
    const size_t want = tap.size() + 1 + digits + std::strlen(suffix);
    if (name.size() != want || name.compare(0, tap.size(), tap) != 0 || name[tap.size()] != '-' ||
        name.compare(want - std::strlen(suffix), std::string::npos, suffix) != 0)
        return 0;
    uint32_t n = 0;
    for (size_t i = tap.size() + 1; i < tap.size() + 1 + digits; ++i) {
        if (name[i] < '0' || name[i] > '9') return 0;
        n = n * 10 + static_cast<uint32_t>(name[i] - '0');
    }
    return n;
}

std::string name_of(const std::string& tap, uint32_t n) {
    char num[16];
    std::snprintf(num, sizeof num, "%06u", n);
    return tap + "-" + num + suffix;
}

}  // namespace

pcapng_files::pcapng_files(std::string directory, std::string tap, uint64_t max_file_bytes, uint32_t max_files,
                           std::string comment)
    : dir_(std::move(directory)),
      tap_(std::move(tap)),
      max_bytes_(max_file_bytes),
      max_files_(std::max<uint32_t>(max_files, 1)),
      comment_(std::move(comment)) {
    adopt_existing();
}

bool pcapng_files::owns_name(const std::string& name) const noexcept {
    return number_of(tap_, name) != 0;
}

void pcapng_files::adopt_existing() {
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) return;
    std::vector<std::pair<uint32_t, file>> found;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        uint32_t n = number_of(tap_, name);
        if (n == 0) continue;
        struct stat st {};
        if (stat((dir_ + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        found.push_back({n, file{name, static_cast<uint64_t>(st.st_size)}});
    }
    closedir(d);
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [n, f] : found) {
        files_.push_back(std::move(f));
        next_ = n >= 999999 ? 1 : n + 1;
    }
}

void pcapng_files::set_limits(uint64_t max_file_bytes, uint32_t max_files) {
    max_bytes_ = max_file_bytes;
    max_files_ = std::max<uint32_t>(max_files, 1);
    trim();
}

void pcapng_files::trim() {
    // The open file is never deleted.
    while (files_.size() > max_files_ && !(pc_ != nullptr && files_.size() == 1)) {
        ::unlink((dir_ + "/" + files_.front().name).c_str());
        files_.pop_front();
    }
}

void pcapng_files::close() {
    if (pc_ == nullptr) return;
    rte_pcapng_close(pc_);  // closes the descriptor
    pc_ = nullptr;
}

result<bool> pcapng_files::open_next() {
    close();
    if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST)
        return error{"cannot create " + dir_ + ": " + std::strerror(errno)};
    std::string name = name_of(tap_, next_);
    next_ = next_ >= 999999 ? 1 : next_ + 1;
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return error{"cannot open " + path + ": " + std::strerror(errno)};
    utsname u{};
    std::string os = ::uname(&u) == 0 ? std::string(u.sysname) + " " + u.release : "Linux";
    std::string app = std::string("meshgate-dataplane (") + rte_version() + ")";
    pc_ = rte_pcapng_fdopen(fd, os.c_str(), nullptr, app.c_str(), comment_.empty() ? nullptr : comment_.c_str());
    if (pc_ == nullptr) {
        int e = rte_errno;
        ::close(fd);
        ::unlink(path.c_str());
        return error{"cannot write the pcapng header to " + path + ": " + rte_strerror(e)};
    }
    off_t header = ::lseek(fd, 0, SEEK_CUR);
    cur_bytes_ = header > 0 ? static_cast<uint64_t>(header) : 0;
    cur_packets_ = 0;
    written_ += cur_bytes_;
    // Another file of the same name (numbers wrapped) is replaced.
    files_.erase(std::remove_if(files_.begin(), files_.end(), [&](const file& f) { return f.name == name; }),
                 files_.end());
    files_.push_back(file{name, cur_bytes_});
    trim();
    return true;
}

result<uint64_t> pcapng_files::write(rte_mbuf** pkts, uint16_t n) {
    uint64_t total = 0;
    uint16_t i = 0;
    std::string err;
    while (i < n) {
        if (pc_ == nullptr) {
            if (auto r = open_next(); !r) {
                err = r.error_message();
                break;
            }
        }
        // As many packets as fit the current file (at least one in a fresh file).
        uint16_t j = i;
        uint64_t add = 0;
        while (j < n) {
            uint64_t len = rte_pktmbuf_pkt_len(pkts[j]);
            if (cur_bytes_ + add + len > max_bytes_ && (cur_packets_ != 0 || j != i)) break;
            add += len;
            ++j;
        }
        if (j == i) {  // the file is full: rotate
            close();
            continue;
        }
        ssize_t w = rte_pcapng_write_packets(pc_, pkts + i, static_cast<uint16_t>(j - i));
        if (w < 0) {
            err = "cannot write " + dir_ + "/" + files_.back().name + ": " + rte_strerror(rte_errno);
            close();
            break;
        }
        cur_bytes_ += static_cast<uint64_t>(w);
        cur_packets_ += j - i;
        files_.back().bytes = cur_bytes_;
        written_ += static_cast<uint64_t>(w);
        total += static_cast<uint64_t>(w);
        i = j;
        if (cur_bytes_ >= max_bytes_) close();
    }
    // rte_pcapng_write_packets leaves the mbufs to the caller.
    rte_pktmbuf_free_bulk(pkts, n);
    if (!err.empty()) return error{err};
    return total;
}

}  // namespace meshgate::dataplane::tap
