#pragma once
// Framing of the mgmtd <-> data plane link (proto/meshgate/config/v1/push.proto): each message is
// a 4-byte big-endian length followed by that many bytes. Blocking fd I/O, EINTR-safe, short reads
// and writes handled. No DPDK, no protobuf: the data plane and mgmtd both use these.
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/result.hpp"

namespace meshgate::policy {

// Frames above this are refused and close the connection.
inline constexpr uint32_t max_frame_bytes = 64U << 20;

// The error message of read_frame when the peer closed the connection cleanly, between frames.
inline constexpr std::string_view frame_closed = "connection closed";

// Writes the length and the payload. False on any error (errno set), e.g. the peer went away
// (sockets: MSG_NOSIGNAL, no SIGPIPE) or the payload is above max_frame_bytes.
bool write_frame(int fd, std::string_view payload);

// Reads one frame. Errors: `frame_closed` (EOF before the first byte of a frame); "truncated
// frame: ..." (EOF or, with `stall_timeout_ms` >= 0, no byte for that long once a frame began);
// "frame of N bytes is above the limit of M bytes" (nothing past the length is read: the caller
// closes the connection); "read: <strerror>". `stall_timeout_ms` < 0: wait forever.
result<std::string> read_frame(int fd, uint32_t max_bytes = max_frame_bytes, int stall_timeout_ms = -1);

}  // namespace meshgate::policy
