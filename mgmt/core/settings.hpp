#pragma once
// meshgate-mgmtd's settings (mgmt/core/settings.proto) as plain types, and user authentication.
#include <cstdint>
#include <string>
#include <vector>

#include "policy/result.hpp"

namespace meshgate::mgmt {

struct user {
    std::string name;
    std::string password_hash;                     // crypt(3); empty: no password login
    std::vector<std::string> ssh_authorized_keys;  // OpenSSH public key lines
    bool read_only = false;
};

struct settings {
    std::string state_dir = "/var/lib/meshgate-mgmtd";
    std::string yang_dir;
    std::string initial_config;
    std::string dataplane_socket = "/run/meshgate/dataplane.sock";
    std::string netconf_address = "0.0.0.0";
    uint16_t netconf_port = 830;
    std::string ssh_host_key;
    std::string restconf_address = "0.0.0.0";
    uint16_t restconf_port = 8443;
    std::string tls_certificate;
    std::string tls_private_key;
    std::vector<user> users;
    uint32_t history_keep = 100;
};

// Parses the proto3 JSON settings file; errors name the field (e.g. "users[1].role: ...").
result<settings> parse_settings_json(const std::string& json);
result<settings> load_settings_file(const std::string& path);

// The user with this name and password (checked with crypt(3), constant time compare), or nullptr.
const user* check_password(const settings& s, const std::string& name, const std::string& password);
const user* find_user(const settings& s, const std::string& name);

}  // namespace meshgate::mgmt
