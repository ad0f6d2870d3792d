#pragma once
// RESTCONF (RFC 8040) over HTTPS, JSON per RFC 7951, serving mgmtd's datastores.
#include <memory>

#include "mgmt/core/datastore.hpp"
#include "mgmt/core/settings.hpp"

namespace meshgate::mgmt {

class restconf_server {
public:
    // Listens on settings.restconf_address:restconf_port with the configured certificate;
    // HTTP Basic authentication against settings.users. Returns once listening.
    static result<std::unique_ptr<restconf_server>> start(datastore& ds, const settings& s);
    ~restconf_server();
    restconf_server(const restconf_server&) = delete;
    restconf_server& operator=(const restconf_server&) = delete;

    struct impl;

private:
    explicit restconf_server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace meshgate::mgmt
