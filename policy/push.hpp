#pragma once
// The data plane's side of the mgmtd link (proto/meshgate/config/v1/push.proto) as plain types:
// dataplane/ never sees the generated code. Frames are read and written with framing.hpp.
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/config.hpp"
#include "policy/framing.hpp"
#include "policy/result.hpp"

namespace meshgate::policy {

enum class push_kind : uint8_t { prepare, activate, abort, status, state };

const char* to_string(push_kind k) noexcept;

struct push_request {
    uint64_t id = 0;
    push_kind kind = push_kind::status;
    // prepare: the snapshot's generation; activate, abort: the generation named.
    uint64_t generation = 0;
    // prepare: the snapshot translated and validated like a config file (generation > 0 required),
    // or the validator's reason naming the field (the request is then nacked with it). Other kinds:
    // an error.
    result<config> snapshot = error{"not a prepare request"};
};

struct push_response {
    uint64_t id = 0;
    bool ok = false;
    std::string reason;         // nack: why, naming the field
    uint64_t generation = 0;    // running after the request
    std::string config_source;  // "file" or "mgmtd"
    uint64_t prepare_us = 0;
    uint64_t activate_us = 0;
    std::string state_json;  // state: RFC 7951 JSON of meshgate-config:operational
};

// A serialized Request. An error (the connection is closed) when the bytes are not a Request or
// the request names no operation; a prepare whose snapshot fails validation is NOT an error: it
// decodes, with `snapshot` holding the reason.
result<push_request> decode_request(std::string_view bytes);

// A serialized Response.
std::string encode_response(const push_response& r);

}  // namespace meshgate::policy
