#!/usr/bin/python3
"""Add many services and firewall rules to a data-plane config, for perf/commit-storm.sh.

usage: gen_big_config.py BASE.json OUT.json [--services N] [--rules N] [--backends N]
                         [--backend-prefix P] [--maglev-size N] [--variant K] [--generation G]

BASE is either a proto3 JSON Snapshot (the data plane's own config format, e.g.
deploy/lab/meshgate-lab-l4.json; what push_tool sends) or RFC 7951 instance data of the YANG
model ({"meshgate-config:meshgate": {...}}, e.g. mgmt/yang/examples/lab-l4.json; what mgmtd takes
over RESTCONF). OUT is written in the same format, with the base's own services and rules kept
first and these added:

  services  "big-svc-I": VIP 100.64.0.0/10 (100.64.(I/250).(I%250+1)), tcp port 80, full-nat,
            BACKENDS backends on port 8080 inside BACKEND-PREFIX (a /24 the base routes: the
            full-NAT source is the primary address of the interface it is reached through), no
            health check; maglev table size MAGLEV-SIZE (absent: the model's default, 65537)
  rules     "big-rule-I": deny rules that match no lab or benchmark traffic: sources in
            100.64.0.0/10 or 2001:db8::/32 (documentation and shared address space, never used
            by the lab or the pcap), tcp/udp with destination port ranges, icmp, any. The
            firewall's default action stays what the base has (allow when it has none), so
            everything else passes as before.

VARIANT (default 0) changes a few things so that two outputs differ the way commits do: with an
odd VARIANT, every 7th service gets other backend weights, every 10th service is left out, and
every 5th rule gets another destination port range. Used by commit-storm.sh to alternate two
snapshots in a push loop.

Only the standard library: runs with Debian's /usr/bin/python3.
"""
import argparse
import ipaddress
import json
import sys

YANG_TOP = "meshgate-config:meshgate"


def service(i: int, a) -> dict:
    vip = "100.64.%d.%d" % (i // 250, i % 250 + 1)
    net = ipaddress.ip_network(a.backend_prefix, strict=False)
    hosts = max(1, min(net.num_addresses - 20, 230))
    odd = a.variant % 2 == 1
    backends = []
    for j in range(a.backends):
        addr = net.network_address + 10 + (i + j * 61) % hosts
        w = 1 + ((i + j) % 3 if odd and i % 7 == 0 else 0)
        backends.append({"address": str(addr), "port": 8080, "weight": w})
    return {"name": "big-svc-%d" % i, "vip": vip, "protocol": "tcp", "port": 80, "backends": backends}


def rule(i: int, a) -> dict:
    odd = a.variant % 2 == 1
    k = i % 4
    b1, b2, b3 = (i >> 16) & 63, (i >> 8) & 255, i & 255
    r = {"name": "big-rule-%d" % i, "action": "deny"}
    if k == 3:
        r["source"] = "2001:db8:%x::/48" % (i & 0xFFFF)
    else:
        r["source"] = "100.%d.%d.%d/32" % (64 + b1, b2, b3)
    proto = ("tcp", "udp", "icmp", "any")[(i // 4) % 4]
    if k == 3 and proto == "icmp":
        proto = "tcp"
    r["protocol"] = proto
    if proto in ("tcp", "udp"):
        lo = 1000 + (i % 50000)
        if odd and i % 5 == 0:
            lo += 7
        r["ports"] = (lo, lo + (i % 3))
    if i % 3 == 0:
        r["destination"] = "fd00:beef::/32" if k == 3 else "203.0.113.0/24"
    return r


def to_proto3_service(s: dict, a) -> dict:
    out = {"name": s["name"], "vip": s["vip"], "protocol": s["protocol"], "port": s["port"],
           "backends": [dict(b) for b in s["backends"]]}
    if a.maglev_size:
        out["maglevTableSize"] = a.maglev_size
    return out


def to_yang_service(s: dict, a) -> dict:
    out = {"name": s["name"], "vip": s["vip"], "protocol": s["protocol"], "port": s["port"],
           "backend": [dict(b) for b in s["backends"]]}
    if a.maglev_size:
        out["maglev-table-size"] = a.maglev_size
    return out


def to_proto3_rule(r: dict) -> dict:
    out = {k: r[k] for k in ("name", "source", "destination", "protocol", "action") if k in r}
    if "ports" in r:
        lo, hi = r["ports"]
        out["destinationPorts"] = str(lo) if lo == hi else "%d-%d" % (lo, hi)
    return out


def to_yang_rule(r: dict) -> dict:
    out = {k: r[k] for k in ("name", "source", "destination", "protocol", "action") if k in r}
    if "ports" in r:
        lo, hi = r["ports"]
        out["destination-port"] = {"lower-port": lo} if lo == hi else {"lower-port": lo, "upper-port": hi}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("out")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--rules", type=int, default=10000)
    ap.add_argument("--backends", type=int, default=4)
    ap.add_argument("--backend-prefix", default="198.18.2.0/24")
    ap.add_argument("--maglev-size", type=int, default=0, help="a prime; 0: the default (65537)")
    ap.add_argument("--variant", type=int, default=0)
    ap.add_argument("--generation", type=int, default=0, help="proto3 only; 0: keep the base's")
    a = ap.parse_args()
    if not 0 <= a.services <= 16000:
        ap.error("--services must be 0..16000 (the VIPs are 100.64.0.1-100.127.249.250)")
    if not 1 <= a.backends <= 230:
        ap.error("--backends must be 1..230")

    with open(a.base) as f:
        cfg = json.load(f)
    yang = YANG_TOP in cfg
    odd = a.variant % 2 == 1
    svcs = [service(i, a) for i in range(a.services) if not (odd and i % 10 == 9)]
    rules = [rule(i, a) for i in range(a.rules)]

    if yang:
        top = cfg[YANG_TOP]
        top.setdefault("service", []).extend(to_yang_service(s, a) for s in svcs)
        fw = top.setdefault("firewall", {})
        fw.setdefault("rule", []).extend(to_yang_rule(r) for r in rules)
    else:
        cfg.setdefault("services", []).extend(to_proto3_service(s, a) for s in svcs)
        fw = cfg.setdefault("firewall", {})
        fw.setdefault("rules", []).extend(to_proto3_rule(r) for r in rules)
        if a.generation:
            cfg["generation"] = str(a.generation)

    with open(a.out, "w") as f:
        json.dump(cfg, f, separators=(",", ":"))
    print("%s: %d services, %d firewall rules added (%s)" %
          (a.out, len(svcs), len(rules), "YANG JSON" if yang else "proto3 JSON"), file=sys.stderr)


if __name__ == "__main__":
    main()
