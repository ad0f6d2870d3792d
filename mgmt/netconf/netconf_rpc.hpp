#pragma once
// mgmtd's NETCONF RPC handling without the SSH endpoint, for sessions the caller accepts and polls
// itself (nc_accept_inout over file descriptors, nc_ps_poll): the same libnetconf2 setup and the
// same dispatch onto the datastore as netconf_server (netconf_server.cpp), minus the listener,
// the SSH authentication and the threads. Used by the NETCONF fuzz harness
// (tests/fuzz/netconf_fuzz.cpp).
#include <memory>
#include <string>

#include "mgmt/core/datastore.hpp"
#include "mgmt/core/settings.hpp"
#include "mgmt/netconf/netconf_server.hpp"

struct nc_session;

namespace meshgate::mgmt {

class netconf_rpc_host {
public:
    // nc_server_init on ds's context and the RPC callbacks; fails while a netconf_server or
    // another host lives in this process. libnetconf2 2.0 must not be initialized twice in a
    // process, so keep one host for the process's lifetime.
    static result<std::unique_ptr<netconf_rpc_host>> start(datastore& ds, const settings& s);
    // Ends and frees the sessions still registered (take them out of any pollsession first),
    // then nc_server_destroy.
    ~netconf_rpc_host();
    netconf_rpc_host(const netconf_rpc_host&) = delete;
    netconf_rpc_host& operator=(const netconf_rpc_host&) = delete;

    // A session the caller accepted (nc_accept_inout) for `username`, whom the caller
    // authenticated (libnetconf2 2.0 does not keep nc_accept_inout's username): gets its
    // session_info (the user's role from settings.users; unknown users are read-only), so its
    // RPCs reach the datastore and <kill-session> can name it.
    void add_session(nc_session* s, const std::string& username);
    // Ends it (datastore::session_ended: its locks go, its unpersisted confirmed commit rolls
    // back) and frees it (nc_session_free; the caller's descriptors stay open). Take it out of
    // any pollsession first.
    void end_session(nc_session* s);

private:
    explicit netconf_rpc_host(std::unique_ptr<netconf_server::impl> p);
    std::unique_ptr<netconf_server::impl> p_;
};

}  // namespace meshgate::mgmt
