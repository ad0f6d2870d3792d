#pragma once
// Every packet the data plane drops has one of these reasons; counters, telemetry and docs all
// come from this one list.
#include <cstdint>
#include <string_view>

namespace meshgate::dataplane {

// X(name, description)
#define MESHGATE_DROP_REASONS(X)                                                                          \
    X(none, "not dropped")                                                                                \
    X(runt_frame, "frame shorter than its Ethernet header")                                               \
    X(multi_segment, "chained mbuf (frames larger than one buffer are not accepted)")                     \
    X(l2_not_for_us, "unicast frame to another MAC address")                                              \
    X(vlan_unknown, "VLAN tag (or QinQ) of no configured interface")                                      \
    X(ethertype_unsupported, "EtherType other than IPv4, IPv6, ARP")                                      \
    X(arp_malformed, "ARP packet too short or not Ethernet/IPv4")                                         \
    X(arp_not_for_us, "ARP packet for an address that is not ours")                                       \
    X(ipv4_truncated, "IPv4 header or total length beyond the frame")                                     \
    X(ipv4_bad_version, "IPv4 EtherType with another IP version")                                         \
    X(ipv4_bad_ihl, "IPv4 header length below 20 bytes")                                                  \
    X(ipv4_bad_checksum, "IPv4 header checksum wrong")                                                    \
    X(ipv4_bad_source, "IPv4 source that is not a unicast host (RFC 1812 5.3.7)")                         \
    X(ipv4_bad_destination, "IPv4 destination not forwardable (0/8, 127/8, 240/4, broadcast)")            \
    X(ipv4_link_local_forward, "IPv4 link-local (169.254/16) source or destination, RFC 3927 7")          \
    X(ipv6_truncated, "IPv6 header or payload length beyond the frame")                                   \
    X(ipv6_bad_version, "IPv6 EtherType with another IP version")                                         \
    X(ipv6_bad_source, "IPv6 source multicast, loopback or unspecified (RFC 4291 2.5)")                   \
    X(ipv6_bad_destination, "IPv6 destination loopback or unspecified (RFC 4291 2.5)")                    \
    X(ipv6_bad_ext_header, "IPv6 extension header chain malformed or too long")                           \
    X(ipv6_link_local_forward, "IPv6 link-local source or destination not forwarded")                     \
    X(l4_truncated, "TCP/UDP/SCTP/ICMP header beyond the IP payload")                                     \
    X(tcp_bad_offset, "TCP data offset below 5 or beyond the payload")                                    \
    X(udp_bad_length, "UDP length field disagrees with the IP payload")                                   \
    X(multicast_unsupported, "multicast destination (not routed)")                                        \
    X(l2_group_not_routed, "unicast IP for another host in a broadcast/multicast frame (RFC 1812 5.3.4)") \
    X(no_route, "no route to the destination (ICMP unreachable sent)")                                    \
    X(ttl_exceeded, "TTL or hop limit expired (ICMP time exceeded sent)")                                 \
    X(mtu_exceeded, "larger than the egress MTU and may not be fragmented (ICMP sent)")                   \
    X(fragmentation_failed, "IPv4 fragmentation failed (no buffers)")                                     \
    X(directed_broadcast, "subnet-directed broadcast (not forwarded, RFC 2644)")                          \
    X(local_unsupported, "to an own address, protocol not served")                                        \
    X(icmp_malformed, "ICMP/ICMPv6 message to us malformed or bad checksum")                              \
    X(nd_malformed, "IPv6 neighbor discovery message invalid (RFC 4861 7.1)")                             \
    X(nd_not_for_us, "neighbor solicitation for an address that is not ours")                             \
    X(icmp_rate_limited, "ICMP error suppressed by the rate limit")                                       \
    X(icmp_no_buffer, "no mbuf for an ICMP error or reply")                                               \
    X(control_ring_full, "hand-off ring to the control lcore full")                                       \
    X(neighbor_hold_full, "neighbor hold queue full (oldest packet dropped)")                             \
    X(neighbor_unresolved, "next hop did not answer ARP/NS (ICMP unreachable sent)")                      \
    X(neighbor_table_full, "neighbor table full")                                                         \
    X(no_headroom, "no mbuf headroom for the Ethernet header")                                            \
    X(tx_full, "transmit queue full")                                                                     \
    X(flow_table_full, "new flow while the worker's session table is full")                               \
    X(acl_denied, "new flow denied by a firewall rule or the default action")                             \
    X(no_backend, "service has no healthy backend")                                                       \
    X(nat_ports_exhausted, "no free NAT source port for a new flow")                                      \
    X(nat_untranslatable, "packet cannot be translated (NAT46/64 fragment, option, ICMP type)")           \
    X(rate_limited_source, "over a source prefix's new-flow or packet rate")                              \
    X(rate_limited_service, "over a service's new-flow or packet rate")                                   \
    X(flows_per_source, "source address holds its maximum of sessions")                                   \
    X(syn_cookie_invalid, "ACK to a SYN-proxied VIP with no session and no valid cookie")                 \
    X(tcp_no_session, "TCP segment other than SYN for a flow the firewall tracks no session of")          \
    X(syn_proxy_pending, "client data before the backend completed the SYN-proxied handshake")            \
    X(backend_reset, "session of a backend that went down, reset per onBackendDown")                      \
    X(worker_handoff_full, "ring to the worker that owns the session full")

enum class drop_reason : uint8_t {
#define MESHGATE_X(name, desc) name,
    MESHGATE_DROP_REASONS(MESHGATE_X)
#undef MESHGATE_X
        count_
};

inline constexpr unsigned drop_reason_count = static_cast<unsigned>(drop_reason::count_);

constexpr std::string_view drop_reason_name(drop_reason r) noexcept {
    constexpr std::string_view names[] = {
#define MESHGATE_X(name, desc) #name,
        MESHGATE_DROP_REASONS(MESHGATE_X)
#undef MESHGATE_X
    };
    return names[static_cast<unsigned>(r)];
}

constexpr std::string_view drop_reason_description(drop_reason r) noexcept {
    constexpr std::string_view descs[] = {
#define MESHGATE_X(name, desc) desc,
        MESHGATE_DROP_REASONS(MESHGATE_X)
#undef MESHGATE_X
    };
    return descs[static_cast<unsigned>(r)];
}

}  // namespace meshgate::dataplane
