#include "mgmt/core/settings.hpp"

#include <crypt.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/crypto.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "settings.pb.h"

namespace meshgate::mgmt {
namespace pb = meshgate::mgmt::v1;

namespace {

std::string field(const std::string& base, int i) {
    return base + "[" + std::to_string(i) + "]";
}

result<uint16_t> port_of(uint32_t v, uint16_t dflt, const std::string& f) {
    if (v == 0) return dflt;
    if (v > 65535) return error{f + ": " + std::to_string(v) + " is not a port number (1..65535)"};
    return static_cast<uint16_t>(v);
}

}  // namespace

result<settings> parse_settings_json(const std::string& json) {
    pb::Settings in;
    google::protobuf::util::JsonParseOptions po;
    po.ignore_unknown_fields = false;
    auto st = google::protobuf::util::JsonStringToMessage(json, &in, po);
    if (!st.ok()) return error{"settings: " + std::string(st.message())};
    settings s;
    if (!in.state_dir().empty()) s.state_dir = in.state_dir();
    s.yang_dir = in.yang_dir();
    s.initial_config = in.initial_config();
    if (!in.dataplane_socket().empty()) s.dataplane_socket = in.dataplane_socket();
    if (!in.netconf().address().empty()) s.netconf_address = in.netconf().address();
    auto np = port_of(in.netconf().port(), 830, "netconf.port");
    if (!np) return error{np.error_message()};
    s.netconf_port = np.value();
    s.ssh_host_key = in.netconf().host_key();
    if (s.ssh_host_key.empty()) return error{"netconf.hostKey: an SSH host key file is required"};
    if (!in.restconf().address().empty()) s.restconf_address = in.restconf().address();
    auto rp = port_of(in.restconf().port(), 8443, "restconf.port");
    if (!rp) return error{rp.error_message()};
    s.restconf_port = rp.value();
    s.tls_certificate = in.restconf().certificate();
    s.tls_private_key = in.restconf().private_key();
    if (s.tls_certificate.empty()) return error{"restconf.certificate: a PEM certificate file is required"};
    if (s.tls_private_key.empty()) return error{"restconf.privateKey: a PEM private key file is required"};
    if (in.history_keep() != 0) s.history_keep = in.history_keep();
    for (int i = 0; i < in.users_size(); ++i) {
        const auto& u = in.users(i);
        const std::string f = field("users", i);
        user out;
        out.name = u.name();
        if (out.name.empty() || out.name.size() > 64 || out.name.find_first_of(":\r\n ") != std::string::npos)
            return error{f + ".name: \"" + out.name + "\" is not a user name (1..64 characters, no ':' or spaces)"};
        if (find_user(s, out.name) != nullptr) return error{f + ".name: user \"" + out.name + "\" is listed twice"};
        out.password_hash = u.password_hash();
        if (!out.password_hash.empty() && out.password_hash[0] != '$')
            return error{f + ".passwordHash: not a crypt(3) hash (it starts with \"$\", e.g. from mkpasswd)"};
        for (const auto& k : u.ssh_authorized_keys()) out.ssh_authorized_keys.push_back(k);
        if (u.role() == "admin")
            out.read_only = false;
        else if (u.role() == "read-only")
            out.read_only = true;
        else
            return error{f + ".role: \"" + u.role() + "\" is not a role (admin, read-only)"};
        s.users.push_back(std::move(out));
    }
    if (s.users.empty()) return error{"users: at least one user is required"};
    return s;
}

result<settings> load_settings_file(const std::string& path) {
    std::ifstream f(path);
    if (!f) return error{path + ": cannot read"};
    std::stringstream ss;
    ss << f.rdbuf();
    auto r = parse_settings_json(ss.str());
    if (!r) return error{path + ": " + r.error_message()};
    return r;
}

const user* find_user(const settings& s, const std::string& name) {
    for (const auto& u : s.users)
        if (u.name == name) return &u;
    return nullptr;
}

const user* check_password(const settings& s, const std::string& name, const std::string& password) {
    const user* u = find_user(s, name);
    if (u == nullptr || u->password_hash.empty()) return nullptr;
    crypt_data cd{};
    const char* h = crypt_r(password.c_str(), u->password_hash.c_str(), &cd);
    if (h == nullptr || h[0] == '*') return nullptr;
    size_t n = std::strlen(h);
    if (n != u->password_hash.size()) return nullptr;
    return CRYPTO_memcmp(h, u->password_hash.data(), n) == 0 ? u : nullptr;
}

}  // namespace meshgate::mgmt
