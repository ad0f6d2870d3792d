#!/usr/bin/env python3
# Writes the seed corpus of push_fuzz (tests/fuzz/corpus/push): run from anywhere, needs protoc.
# Seeds for push_fuzz: Requests encoded with protoc from text format; the prepare ones carry the
# lab snapshots (converted from proto3 JSON by a tiny C++-free route: protoc can't read JSON, so
# text format is written by hand from the JSON here).
import json, os, subprocess, sys, re
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
P=ROOT + '/policy/proto/meshgate/config/v1'
out=ROOT + '/tests/fuzz/corpus/push/'
def snake(k): return re.sub(r'([A-Z])', lambda m: '_'+m.group(1).lower(), k)
def text(v, key=None):
    s=''
    for k,x in v.items():
        k2=snake(k)
        items = x if isinstance(x,list) else [x]
        for it in items:
            if isinstance(it,dict): s+=f'{k2} {{ {text(it)} }} '
            elif isinstance(it,bool): s+=f'{k2}: {"true" if it else "false"} '
            elif isinstance(it,(int,float)): s+=f'{k2}: {it} '
            else:
                if re.fullmatch(r'\d+', it) and k2 in ('generation','max_file_bytes'): s+=f'{k2}: {it} '
                else: s+=f'{k2}: {json.dumps(it)} '
    return s
def enc(name, t):
    b=subprocess.run(['protoc','--proto_path='+P,'--encode=meshgate.config.v1.Request','push.proto'],input=t.encode(),capture_output=True,check=True).stdout
    open(out+name,'wb').write(b)
for cfg in ['meshgate-lab-l4.json','meshgate-lab.json']:
    j=json.load(open(ROOT + '/deploy/lab/'+cfg))
    j['generation']='5'
    enc('prepare-'+cfg[:-5], 'id: 1 prepare { snapshot { '+text(j)+' } }')
    j['generation']='0'
    enc('prepare-gen0-'+cfg[:-5], 'id: 2 prepare { snapshot { '+text(j)+' } }')
enc('activate','id: 3 activate { generation: 5 }')
enc('abort','id: 4 abort { generation: 5 }')
enc('status','id: 5 status {}')
enc('state','id: 6 state {}')
enc('empty-op','id: 7')
enc('prepare-bad-port', 'id: 8 prepare { snapshot { generation: 2 interfaces { name: "a" device: "net_null0" ipv4_addresses: "10.0.0.1/24" } services { name: "s" vip: "10.0.1.1" protocol: "tcp" port: 70000 backends { address: "10.0.0.2" } } } }')
