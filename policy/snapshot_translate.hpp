#pragma once
// Internal to policy/: the Snapshot message (generated code) to validated policy types. Outside
// policy/, use parse_config_json / parse_config_binary (config.hpp) or decode_request (push.hpp).
#include "policy/config.hpp"

namespace meshgate::config::v1 {
class Snapshot;
}

namespace meshgate::policy {

// The same validation as a config file; errors name the field as the JSON spells it.
result<config> translate_snapshot(const meshgate::config::v1::Snapshot& s);

}  // namespace meshgate::policy
