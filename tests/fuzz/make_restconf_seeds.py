#!/usr/bin/env python3
# Writes the seed corpus of restconf_fuzz (tests/fuzz/corpus/restconf): method byte (0 PUT,
# 1 POST, 2 PATCH, 3 DELETE, 4 GET), the api-path, a newline, the body.
import os
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "restconf")
os.makedirs(OUT, exist_ok=True)
D = "/restconf/data/meshgate-config:meshgate"
seeds = {
    "get-all": (4, "/restconf/data", ""),
    "get-service": (4, D + "/service=web4", ""),
    "get-backend": (4, D + "/service=web4/backend=198.18.2.2,8080", ""),
    "get-route-escaped": (4, D + "/route=198.18.100.0%2F24", ""),
    "get-keyless": (4, D + "/service", ""),
    "put-service": (0, D + "/service=dns", '{"meshgate-config:service":[{"name":"dns","vip":"198.18.50.53","protocol":"udp","port":53,"backend":[{"address":"198.18.2.2","port":5353}]}]}'),
    "put-leaf": (0, D + "/service=web4/port", '{"meshgate-config:port":8080}'),
    "put-datastore": (0, "/restconf/data", open(os.path.join(ROOT, "mgmt/yang/examples/lab-l4.json")).read()),
    "post-route": (1, D, '{"meshgate-config:route":[{"prefix":"10.9.0.0/16","next-hop":"198.18.2.9","interface":"srv1"}]}'),
    "post-backend": (1, D + "/service=web4", '{"meshgate-config:backend":[{"address":"198.18.2.7","port":8080}]}'),
    "patch-weight": (2, D + "/service=web4/backend=198.18.2.2,8080", '{"meshgate-config:backend":[{"address":"198.18.2.2","port":8080,"weight":3}]}'),
    "patch-keys-from-url": (2, D + "/service=web4", '{"meshgate-config:service":[{"port":81}]}'),
    "patch-malformed": (2, D + "/service=web4", '{"meshgate-config:service":[{"name":'),
    "patch-wrong-top": (2, D + "/service=web4", '{"meshgate-config:route":[]}'),
    "delete-service": (3, D + "/service=nat46", ""),
    "delete-leaflist": (3, D + "/snat-pool=srv-egress/source=198.18.3.0%2F24", ""),
    "bad-encoding": (4, D + "/service=%zz", ""),
    "bad-module": (4, "/restconf/data/nosuch:thing", ""),
    "op-input": (2, D, '{"meshgate-config:input":{"confirmed":true,"confirm-timeout":60,"persist":"x\\u0041"}}'),
    "deep-json": (2, D, "[" * 2000),
}
for name, (m, path, body) in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([m]) + path.encode() + b"\n" + body.encode())
