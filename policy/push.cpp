#include "policy/push.hpp"

#include "policy/snapshot_translate.hpp"
#include "push.pb.h"

namespace meshgate::policy {

namespace pb = meshgate::config::v1;

const char* to_string(push_kind k) noexcept {
    switch (k) {
        case push_kind::prepare:
            return "prepare";
        case push_kind::activate:
            return "activate";
        case push_kind::abort:
            return "abort";
        case push_kind::status:
            return "status";
        case push_kind::state:
            return "state";
    }
    return "?";
}

result<push_request> decode_request(std::string_view bytes) {
    pb::Request m;
    if (bytes.size() > max_frame_bytes || !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return error{"not a Request message (" + std::to_string(bytes.size()) + " bytes)"};
    push_request r;
    r.id = m.id();
    switch (m.op_case()) {
        case pb::Request::kPrepare: {
            r.kind = push_kind::prepare;
            if (!m.prepare().has_snapshot()) {
                r.snapshot = error{"snapshot: is required"};
                break;
            }
            const auto& s = m.prepare().snapshot();
            r.generation = s.generation();
            if (s.generation() == 0) {
                r.snapshot = error{"generation: a pushed snapshot needs a generation above 0"};
                break;
            }
            r.snapshot = translate_snapshot(s);
            break;
        }
        case pb::Request::kActivate:
            r.kind = push_kind::activate;
            r.generation = m.activate().generation();
            break;
        case pb::Request::kAbort:
            r.kind = push_kind::abort;
            r.generation = m.abort().generation();
            break;
        case pb::Request::kStatus:
            r.kind = push_kind::status;
            break;
        case pb::Request::kState:
            r.kind = push_kind::state;
            break;
        case pb::Request::OP_NOT_SET:
            return error{"request " + std::to_string(m.id()) + " names no operation"};
    }
    return r;
}

std::string encode_response(const push_response& r) {
    pb::Response m;
    m.set_id(r.id);
    m.set_ok(r.ok);
    m.set_reason(r.reason);
    m.set_generation(r.generation);
    m.set_config_source(r.config_source);
    m.set_prepare_us(r.prepare_us);
    m.set_activate_us(r.activate_us);
    m.set_state_json(r.state_json);
    return m.SerializeAsString();
}

}  // namespace meshgate::policy
