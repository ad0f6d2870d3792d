#!/usr/bin/python3
"""DPDK telemetry client for the tap tests (the v2 socket protocol, as dpdk-telemetry.py speaks it).

  tel.py PREFIX CMD...                      one JSON answer per line, for each command
  tel.py PREFIX --get CMD PY-EXPR           evaluates PY-EXPR with the answer's value bound to d
  tel.py PREFIX --download TAP FILE OUT     fetches a tap's file through /meshgate/tap_file
"""
import base64
import json
import socket
import sys


def connect(prefix):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
    info = json.loads(s.recv(1024).decode())
    return s, int(info.get("max_output_len", 16384))


def ask(s, maxlen, cmd):
    s.send(cmd.encode())
    answer = json.loads(s.recv(maxlen).decode())
    return answer[cmd.split(",", 1)[0]]


def main():
    prefix, args = sys.argv[1], sys.argv[2:]
    s, maxlen = connect(prefix)
    if args[0] == "--get":
        d = ask(s, maxlen, args[1])
        print(eval(args[2], {"d": d}))
    elif args[0] == "--download":
        tap, name, out = args[1:4]
        data = b""
        while True:
            d = ask(s, maxlen, f"/meshgate/tap_file,{tap},{name},{len(data)}")
            if "error" in d:
                sys.exit("download: " + d["error"])
            data += b"".join(base64.b64decode(p) for p in d["data"])
            if d["length"] == 0 or len(data) >= d["size"]:
                break
        with open(out, "wb") as f:
            f.write(data)
        print(len(data))
    else:
        for cmd in args:
            print(json.dumps(ask(s, maxlen, cmd)))


if __name__ == "__main__":
    main()
