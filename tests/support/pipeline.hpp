#pragma once
// The real forwarding pipeline (forwarder + control plane + runtime tables) without a NIC and on
// a virtual clock: frames go in on a port number, the frames the data plane would transmit come
// out. Used by unit tests, the packet tables and the pipeline fuzzer. Needs EAL (init_eal()).
#include <memory>
#include <string>
#include <vector>

#include "dataplane/control.hpp"
#include "dataplane/forwarder.hpp"
#include "dataplane/l4/l4_runtime.hpp"
#include "dataplane/l4/l4_worker.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/runtime.hpp"
#include "tests/support/packet_builder.hpp"

struct rte_mempool;
struct rte_ring;

namespace meshgate::test {

struct output {
    uint16_t port;
    bytes frame;
};

class pipeline {
public:
    // Interfaces get ports 0, 1, ... in order of their distinct devices; an interface without a
    // MAC in the config gets 02:00:00:00:00:<port+1>. Throws std::runtime_error on a bad config.
    explicit pipeline(const std::string& config_json);
    ~pipeline();
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    // Receives `frame` on `port`; returns what was transmitted, control-lcore work included.
    std::vector<output> send(uint16_t port, const bytes& frame);
    // Moves the virtual clock, running the control lcore's timers; returns what was transmitted.
    std::vector<output> advance(double seconds);

    // For benchmarks: an mbuf holding `frame`, and a burst through the worker path only (what it
    // transmits is freed, not copied out). Returns the number of packets it would transmit.
    rte_mbuf* make_mbuf(const bytes& frame);
    unsigned run_burst(uint16_t port, rte_mbuf** pkts, uint16_t n);

    // Applies a new config's L4 part (services, firewall, SNAT, limits), static routes and ICMP
    // limits as SIGHUP does (a route change builds and publishes a new runtime, frees the old one
    // and unpins gateways no route uses); throws std::runtime_error with the message when it is
    // rejected. Interfaces are not compared: they must stay the same.
    void reload(const std::string& config_json);
    dataplane::l4::l4_worker& l4() { return *l4_; }

    uint64_t drops(dataplane::drop_reason r) const;
    uint64_t counter(uint64_t dataplane::core_counters::*field) const;
    unsigned mbufs_in_use() const;
    dataplane::neighbor_table& neighbors() { return *nt_; }
    dataplane::control_plane& control() { return *control_; }
    const dataplane::runtime& runtime() const { return *rt_; }
    static constexpr uint64_t hz = 1000000000;  // virtual TSC: nanoseconds

private:
    std::vector<output> settle();

    policy::config cfg_;
    rte_mempool* pool_ = nullptr;
    rte_ring* punt_ = nullptr;
    rte_ring* inject_ = nullptr;
    dataplane::neighbor_table* nt_ = nullptr;
    std::unique_ptr<dataplane::runtime> rt_;
    std::vector<uint16_t> port_of_;
    std::vector<rte_ether_addr> port_mac_;
    dataplane::core_counters* counters_ = nullptr;  // [0] worker, [1] control
    std::unique_ptr<dataplane::forwarder> fwd_;
    std::unique_ptr<dataplane::forwarder> ctl_fwd_;  // the control lcore's, for its ICMP errors
    rte_ring* self_punt_ = nullptr;
    dataplane::tx_batch* ctl_batch_ = nullptr;
    std::unique_ptr<dataplane::control_plane> control_;
    dataplane::tx_batch* batch_ = nullptr;
    dataplane::published_tables pub_;
    std::unique_ptr<const dataplane::l4::l4_runtime> l4rt_;
    std::unique_ptr<dataplane::l4::l4_worker> l4_;
    uint64_t now_ = hz;
};

}  // namespace meshgate::test
