#pragma once
// NETCONF over SSH (RFC 6241, RFC 6242) on libnetconf2, serving mgmtd's datastores.
#include <memory>

#include "mgmt/core/datastore.hpp"
#include "mgmt/core/settings.hpp"

namespace meshgate::mgmt {

class netconf_server {
public:
    // Listens on settings.netconf_address:netconf_port with settings.ssh_host_key; users log in
    // with a password or an authorized key from settings.users. Returns once listening.
    static result<std::unique_ptr<netconf_server>> start(datastore& ds, const settings& s);
    ~netconf_server();  // stops: closes sessions (their locks go), joins threads
    netconf_server(const netconf_server&) = delete;
    netconf_server& operator=(const netconf_server&) = delete;

    struct impl;

private:
    explicit netconf_server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace meshgate::mgmt
