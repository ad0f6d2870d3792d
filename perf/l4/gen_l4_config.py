#!/usr/bin/python3
"""Write the data-plane config (proto3 JSON Snapshot) for perf/l4.sh's synthetic run.

Layout (matches gen_l4_flows.py's pcap):
  "in"  IN_DEV  (net_pcap replaying the pcap) 02:00:00:00:00:01, 198.18.0.1/24; clients
        198.19.0.0/16 are routed via 198.18.0.2 (a static neighbor) for the reply direction
  "out" OUT_DEV (net_null)                    02:00:00:00:00:02, 198.18.60.1/24; the 8 backends
        198.18.60.10-17 are on-link there, each a static neighbor (no ARP needed)
  service "web": VIP 198.18.50.10 tcp 80 -> the 8 backends port 80, MODE (full-nat: source
        198.18.60.1, the out interface's primary address), SYN proxy off (the pcap has no
        handshakes)
  flows: SESSIONS per worker; tcpSynTimeout raised so that sessions picked up mid-stream do
        not age out during a run even if the data plane keeps them in a SYN-like state
  firewall: default deny and RULES rules in order: RULES - 4 that the traffic does not match
        (other sources, destinations, ports, protocols), then 4 that allow it

usage: gen_l4_config.py --in-dev D --out-dev D --mbufs N [--sessions N] [--mode M] [--rules N] OUT.json
"""
import argparse
import json

BACKENDS = ["198.18.60.%d" % (10 + i) for i in range(8)]
ALLOW = [
    # Pre-NAT view (client -> VIP) and post-NAT view (-> backend): whichever the data plane checks.
    {"name": "allow-clients-to-vip", "source": "198.19.0.0/16", "destination": "198.18.50.10/32",
     "protocol": "tcp", "destinationPorts": "80", "inInterface": "in", "action": "allow"},
    {"name": "allow-clients-to-backends", "source": "198.19.0.0/16", "destination": "198.18.60.0/24",
     "protocol": "tcp", "destinationPorts": "80", "action": "allow"},
    {"name": "allow-lb-to-backends", "source": "198.18.60.1/32", "destination": "198.18.60.0/24",
     "protocol": "tcp", "destinationPorts": "80", "action": "allow"},
    {"name": "allow-backend-replies", "source": "198.18.60.0/24", "protocol": "tcp",
     "sourcePorts": "80", "action": "allow"},
]


def filler_rule(i: int) -> dict:
    """A rule that none of the benchmark's packets match, of one of several shapes."""
    k = i % 6
    a, b = (i >> 8) & 0xFF, i & 0xFF
    if k == 0:  # other sources to the VIP's port
        return {"name": "deny-src-%d" % i, "source": "100.64.%d.%d/32" % (a, b),
                "destination": "198.18.50.10/32", "protocol": "tcp", "destinationPorts": "80",
                "action": "deny"}
    if k == 1:  # the clients, but other destination ports
        port = 1000 + i
        return {"name": "deny-port-%d" % i, "source": "198.19.0.0/16", "protocol": "tcp",
                "destinationPorts": "%d-%d" % (port, port + 2), "action": "deny"}
    if k == 2:  # UDP to the VIP
        return {"name": "deny-udp-%d" % i, "destination": "198.18.50.10/32", "protocol": "udp",
                "destinationPorts": str(2000 + i), "action": "deny"}
    if k == 3:  # other destinations
        return {"name": "deny-dst-%d" % i, "destination": "203.0.%d.%d/32" % (a & 0x3F | 0x40, b),
                "protocol": "tcp", "action": "deny"}
    if k == 4:  # the clients from privileged source ports
        return {"name": "deny-sport-%d" % i, "source": "198.19.%d.0/24" % b, "protocol": "tcp",
                "sourcePorts": "1-1023", "destinationPorts": "80", "action": "deny"}
    return {"name": "deny-icmp-%d" % i, "source": "100.%d.%d.0/24" % (64 + (a & 0x3F), b),
            "protocol": "icmp", "action": "deny"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--in-dev", required=True)
    ap.add_argument("--out-dev", required=True)
    ap.add_argument("--mbufs", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=1048576)
    ap.add_argument("--mode", default="full-nat", choices=("full-nat", "dnat"))
    ap.add_argument("--rules", type=int, default=1000)
    a = ap.parse_args()
    if a.rules < len(ALLOW):
        ap.error("--rules must be at least %d" % len(ALLOW))

    rules = [filler_rule(i) for i in range(a.rules - len(ALLOW))] + ALLOW
    cfg = {
        "generation": "1",
        "workers": {"lcores": [1], "mbufs": a.mbufs},
        "interfaces": [
            {"name": "in", "device": a.in_dev, "mac": "02:00:00:00:00:01",
             "ipv4Addresses": ["198.18.0.1/24"],
             "staticNeighbors": [{"ip": "198.18.0.2", "mac": "02:00:00:00:00:10"}]},
            {"name": "out", "device": a.out_dev, "mac": "02:00:00:00:00:02",
             "ipv4Addresses": ["198.18.60.1/24"],
             "staticNeighbors": [{"ip": ip, "mac": "02:00:00:00:01:%02x" % (0x10 + n)}
                                 for n, ip in enumerate(BACKENDS)]},
        ],
        "routes": [{"prefix": "198.19.0.0/16", "nextHop": "198.18.0.2", "interface": "in"}],
        "flows": {"sessionsPerWorker": a.sessions, "tcpSynTimeout": 3600},
        "services": [{
            "name": "web", "vip": "198.18.50.10", "protocol": "tcp", "port": 80, "mode": a.mode,
            "sourceAddresses": [],
            "backends": [{"address": ip, "port": 80, "weight": 1} for ip in BACKENDS],
            "synProxy": "off",
        }],
        "firewall": {"defaultAction": "deny", "rules": rules},
    }
    with open(a.out, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
