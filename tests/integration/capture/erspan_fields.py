#!/usr/bin/python3
"""erspan_fields.py FILE: one JSON object per ERSPAN packet tshark decodes in FILE, with the outer
(first) and inner (last) addresses split apart: {"span": 7, "version": 1, "index": 0, "gre_seq": 0,
"outer": ["198.18.2.1", "198.18.2.2"], "inner": [...], "icmp_type": 8, "icmp_seq": 1, "data": "..."}."""
import json
import subprocess
import sys

FIELDS = ["erspan.spanid", "erspan.version", "erspan.index", "gre.sequence_number", "ip.src", "ip.dst",
          "ipv6.src", "ipv6.dst", "icmp.type", "icmp.seq", "icmpv6.type", "icmpv6.echo.sequence_number",
          "data.data", "udp.dstport"]
cmd = ["tshark", "-r", sys.argv[1], "-Y", "erspan", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
       "-E", "aggregator=,"]
for f in FIELDS:
    cmd += ["-e", f]
out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
for line in out.splitlines():
    v = dict(zip(FIELDS, line.split("|")))
    src = (v["ip.src"] or v["ipv6.src"]).split(",")
    dst = (v["ip.dst"] or v["ipv6.dst"]).split(",")
    # An IPv6 collector with an IPv4 inner packet (or the reverse) puts them in different fields.
    if v["ip.src"] and v["ipv6.src"]:
        src, dst = [v["ipv6.src"], v["ip.src"]], [v["ipv6.dst"], v["ip.dst"]]
    num = lambda s: int(s.split(",")[-1]) if s else None
    print(json.dumps({
        "span": num(v["erspan.spanid"]), "version": num(v["erspan.version"]), "index": num(v["erspan.index"]),
        "gre_seq": num(v["gre.sequence_number"]), "outer": [src[0], dst[0]], "inner": [src[-1], dst[-1]],
        "icmp_type": num(v["icmp.type"] or v["icmpv6.type"]),
        "icmp_seq": num(v["icmp.seq"] or v["icmpv6.echo.sequence_number"]),
        "data": v["data.data"], "udp_dport": num(v["udp.dstport"]),
    }))
