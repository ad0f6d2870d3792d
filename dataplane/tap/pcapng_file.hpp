#pragma once
// One tap's capture files: <directory>/<tap>-<NNNNNN>.pcapng, written with rte_pcapng (section
// header, one interface description per DPDK port, enhanced packet blocks with nanosecond
// timestamps, direction and queue). A file is rotated before a packet that would take it over
// `max_file_bytes` (a file always holds at least one packet); at most `max_files` are kept, the
// oldest deleted. Files of an earlier run that follow the naming are adopted (numbering goes on
// after them and they count toward max_files).
//
// Thread contract: main lcore only (file I/O), except `files()` copies taken by it.
#include <cstdint>
#include <deque>
#include <string>

#include "policy/result.hpp"

struct rte_mbuf;
struct rte_pcapng;

namespace meshgate::dataplane::tap {

class pcapng_files {
public:
    struct file {
        std::string name;  // base name, in directory()
        uint64_t bytes = 0;
    };

    pcapng_files(std::string directory, std::string tap, uint64_t max_file_bytes, uint32_t max_files,
                 std::string comment);
    pcapng_files(const pcapng_files&) = delete;
    pcapng_files& operator=(const pcapng_files&) = delete;
    ~pcapng_files() { close(); }

    // New limits; surplus old files are deleted at once.
    void set_limits(uint64_t max_file_bytes, uint32_t max_files);

    // Writes packets formatted by rte_pcapng_copy (single segment each) and frees them all, also
    // on error. Returns the bytes written (file headers included).
    result<uint64_t> write(rte_mbuf** pkts, uint16_t n);

    // Closes the current file (complete as it is); the next write opens the next one.
    void close();

    const std::string& directory() const noexcept { return dir_; }
    const std::deque<file>& files() const noexcept { return files_; }
    uint64_t bytes_written() const noexcept { return written_; }  // by this object, headers included
    uint32_t next_number() const noexcept { return next_; }

    // "<tap>-<NNNNNN>.pcapng" for this tap: the names it writes and adopts.
    bool owns_name(const std::string& name) const noexcept;

private:
    result<bool> open_next();
    void adopt_existing();
    void trim();

    std::string dir_;
    std::string tap_;
    uint64_t max_bytes_;
    uint32_t max_files_;
    std::string comment_;
    std::deque<file> files_;  // oldest first; the open one (if any) last
    rte_pcapng* pc_ = nullptr;
    uint64_t cur_bytes_ = 0;
    uint64_t cur_packets_ = 0;
    uint32_t next_ = 1;
    uint64_t written_ = 0;
};

}  // namespace meshgate::dataplane::tap
