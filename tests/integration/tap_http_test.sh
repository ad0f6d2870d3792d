#!/usr/bin/env bash
# Taps as an SRE drives them over the data plane's HTTP endpoint: list them (GET /taps), stop
# and start one (POST /taps/NAME/stop|start) and see capture stop and resume with known pings,
# list its pcapng files and download one that tshark reads with exactly the pings sent; wrong
# names, methods and file names get clear 400/404/405 answers and change nothing.
#
# Config: tests/integration/telemetry/telemetry_lab.json (tap "icmp": "icmp or icmp6", running).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
# shellcheck source=tests/integration/telemetry/tel_lib.sh
source "$(dirname "$0")/telemetry/tel_lib.sh"
tel_setup tshark

# http METHOD PATH [OUT]: prints the status code; the body goes to OUT (default $MG_TMP/body).
http() {
  curl -sS --max-time 5 -X "$1" -o "${3:-$MG_TMP/body}" -w '%{http_code}' "$TEL_URL$2"
}
# tap_field FIELD: the icmp tap's FIELD in GET /taps.
tap_field() {
  http GET /taps >/dev/null
  "$L4_PY" -c 'import json,sys; t=[t for t in json.load(open(sys.argv[1]))["taps"] if t["name"]=="icmp"][0]; v=t[sys.argv[2]]; print(str(v).lower() if isinstance(v,bool) else v)' \
    "$MG_TMP/body" "$1"
}

echo "== GET /taps"
code=$(http GET /taps)
check "GET /taps answers 200 ($code)" test "$code" = 200
check "the icmp tap is listed, running, with its filter" \
  test "$(tap_field running) $(tap_field filter)" = "true icmp or icmp6"
check "its filter runs JIT-compiled" test "$(tap_field jit)" = true

echo "== stop: pings are not captured"
code=$(http POST /taps/icmp/stop)
check "POST /taps/icmp/stop answers 200 ($code)" test "$code" = 200
check "the tap is listed as stopped" test "$(tap_field running)" = false
c0=$(tap_field captured)
nsx mg-client ping -c 5 -i 0.05 -W 1 -q 198.18.2.2 >/dev/null
sleep 0.5
c1=$(tap_field captured)
check "no copies while stopped ($c0 -> $c1)" test "$c1" -eq "$c0"

echo "== start: 10 pings (20 packets) captured"
code=$(http POST /taps/icmp/start)
check "POST /taps/icmp/start answers 200 ($code)" test "$code" = 200
check "the tap is listed as running" test "$(tap_field running)" = true
nsx mg-client ping -c 10 -i 0.05 -W 1 -q -p 6d657368676174652d68747470 198.18.2.2 >/dev/null
sleep 1
c2=$(tap_field captured)
check "at least 20 copies more: 10 requests seen on client RX and srv1 TX ($c1 -> $c2)" test "$((c2 - c1))" -ge 20

echo "== files: list and download"
code=$(http GET /taps/icmp/files)
check "GET /taps/icmp/files answers 200 ($code)" test "$code" = 200
read -r fname url < <("$L4_PY" -c 'import json,sys; f=json.load(open(sys.argv[1]))["files"]; f=f[-1]; print(f["name"], f["url"])' "$MG_TMP/body")
mg_say "newest file $fname ($url)"
code=$(http GET "$url" "$MG_TMP/dl.pcapng")
check "the newest file downloads (200, $(stat -c %s "$MG_TMP/dl.pcapng" 2>/dev/null) bytes)" test "$code" = 200
marked=$(tshark -r "$MG_TMP/dl.pcapng" -Y 'icmp.type == 8 && data.data contains 6d:65:73:68:67:61:74:65:2d:68:74:74:70' 2>/dev/null | wc -l)
check "tshark reads the download: the 10 marked echo requests are there, seen on 2 ports ($marked)" test "$marked" -eq 20

echo "== errors change nothing"
check "unknown tap: 404" test "$(http POST /taps/nope/start)" = 404
check "GET on start: 405" test "$(http GET /taps/icmp/start)" = 405
check "an encoded path escape is refused: 400" test "$(http GET /taps/icmp/files/..%2F..%2Fetc%2Fpasswd)" = 400
check "a file the tap did not write: 404" test "$(http GET /taps/icmp/files/passwd)" = 404
check "a file name of another form: 404" test "$(http GET /taps/icmp/files/nope.pcapng)" = 404
check "the tap still runs" test "$(tap_field running)" = true
