#pragma once
// The running config (a libyang tree of meshgate-config) as the data plane's protobuf Snapshot,
// checked by the data plane's own rules (policy/) before anything is pushed.
#include <cstdint>
#include <string>

#include "mgmt/core/datastore.hpp"

struct lyd_node;

namespace meshgate::mgmt {

struct snapshot_out {
    std::string bytes;  // serialized meshgate.config.v1.Snapshot
    std::string json;   // the same in proto3 JSON (for logs and the data plane's file format)
};

// Translates `config` (top-level siblings; may be null) into a Snapshot with `generation`, and
// validates it with policy::parse_config_json. Errors carry the YANG instance path of the
// offending list entry (error-path) and a message naming the field.
status yang_to_snapshot(const lyd_node* config, uint64_t generation, snapshot_out& out);

}  // namespace meshgate::mgmt
