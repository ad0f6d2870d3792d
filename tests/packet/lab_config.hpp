#pragma once
// The topology the packet tables run on: client (port 0), srv1 (port 1, plus VLAN 7 on the
// same port), srv2 (port 2, MTU 1280). Hosts have static neighbors so most cases need no ARP.
namespace meshgate::test {

inline constexpr const char* packet_lab_config = R"({
  "interfaces": [
    { "name": "client", "device": "c", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"],
      "staticNeighbors": [ { "ip": "198.18.1.2", "mac": "02:00:00:00:01:02" },
                           { "ip": "fd00:1::2", "mac": "02:00:00:00:01:02" },
                           { "ip": "fe80::2", "mac": "02:00:00:00:01:02" } ] },
    { "name": "srv1", "device": "s1", "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"],
      "staticNeighbors": [ { "ip": "198.18.2.2", "mac": "02:00:00:00:02:02" },
                           { "ip": "fd00:2::2", "mac": "02:00:00:00:02:02" } ] },
    { "name": "srv2", "device": "s2", "mac": "02:00:00:00:00:03", "mtu": 1280,
      "ipv4Addresses": ["198.18.3.1/24"], "ipv6Addresses": ["fd00:3::1/64"],
      "staticNeighbors": [ { "ip": "198.18.3.2", "mac": "02:00:00:00:03:02" },
                           { "ip": "fd00:3::2", "mac": "02:00:00:00:03:02" } ] },
    { "name": "vlan7", "device": "s1", "vlan": 7, "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.18.7.1/24"],
      "staticNeighbors": [ { "ip": "198.18.7.2", "mac": "02:00:00:00:07:02" } ] }
  ],
  "routes": [
    { "prefix": "198.18.100.0/24", "nextHop": "198.18.2.2", "interface": "srv1" },
    { "prefix": "fd00:100::/64", "nextHop": "fd00:2::2", "interface": "srv1" },
    { "prefix": "198.18.200.0/24", "nextHop": "198.18.2.9", "interface": "srv1" }
  ],
  "icmp": { "errorsPerSecond": 1000, "errorsBurst": 100 }
})";

}  // namespace meshgate::test
