#!/usr/bin/env bash
# What packet taps and metric scrapes cost the forwarding rate, against the same data plane with
# neither, measured side by side in the same run.
#
# Same harness as forwarding.sh (perf/lib.sh): a generated pcap of mixed IPv4/IPv6 UDP flows
# replayed by net_pcap (infinite_rx=1) into net_null, one worker (lcore 1; main lcore 0), the
# data plane's `summary:` tx_mpps. Variants, configs differing only in:
#   baseline        no taps, no HTTP endpoint
#   idle_tap        one running tap on "in", direction both, filter "tcp port 9" (the traffic is
#                   UDP: nothing matches), writing pcapng to the temp dir (stays empty)
#   matching_tap    one running tap on "in", direction both, a filter on the UDP source ports that
#                   matches about 1% of the packets (checked mid-run from the tap's counters over
#                   DPDK telemetry, and printed), pcapng to the temp dir in 2 files of 4 MiB at
#                   most, no rate limit
#   metrics_scrape  no tap, telemetry.httpPort set and GET /metrics 10 times a second during the
#                   whole run, each on a new connection (answered scrapes counted and printed);
#                   by one long-lived `curl --rate` (PERF_SCRAPER=loop: one curl per scrape)
# Runs go round by round, each round every variant once, the order rotated by one each round
# (round 1: baseline idle matching scrape, round 2: idle matching scrape baseline, ...). Each
# variant's best run counts (PERF_PICK=median: the median).
#
# Alongside every run the script follows the worker thread's CPU time (/proc schedstat) and also
# prints each variant's worker cycles per packet of that CPU time, and the rate ratio that gives:
# on a machine where something else takes turns with the worker on its core, the Mpps mostly
# measure the worker's share of the core, and these figures still measure what a variant costs.
# They are printed only (the metrics are the Mpps and their ratios).
#
# Ends with:
#   metric taps_baseline_mpps X
#   metric idle_tap_mpps X
#   metric matching_tap_mpps X
#   metric metrics_scrape_mpps X
#   metric idle_tap_rate_ratio X          idle_tap_mpps / taps_baseline_mpps (target: >= 0.97)
#   metric matching_tap_rate_ratio X      matching_tap_mpps / taps_baseline_mpps
#   metric metrics_scrape_rate_ratio X    metrics_scrape_mpps / taps_baseline_mpps
#
# Environment (all optional): MESHGATE_DATAPLANE, PERF_SECONDS (10), PERF_ROUNDS (3), PERF_FLOWS
# (1024), PERF_MEMORY, PERF_HUGEPAGES_MIN, PERF_SETUP_HUGEPAGES as in forwarding.sh (perf/lib.sh), and
#   PERF_PICK            best | median (default best)
#   PERF_SCRAPES_PER_S   scrapes per second in metrics_scrape (default 10)
#   PERF_SCRAPER         rate (default): one curl for the whole run, `--rate N/s`, a new
#                        connection per scrape (`Connection: close`); loop: a new curl process per
#                        scrape. Starting processes costs the worker's core (10-15% here with
#                        10 curls a second, as much against a closed port as against /metrics):
#                        `loop` measures that along with the data plane's cost
#   PERF_AUX_CPU         CPU the scraper and the telemetry client are pinned to (default 0, the
#                        main lcore's: they stay off the worker's core); "": not pinned
#   PERF_TAPS_EXTRA      more variants, for looking into a tap's cost, run in the same rounds and
#                        printed (not as metrics) with their ratio to the baseline:
#                          idle_tap_stopped   the idle tap with "start": false (installed, not run)
#                          idle_tap_otherport a running tap on "out", direction rx: the workers
#                                             check it on every burst, the filter never runs
#                          idle_tap_arp       the idle tap with the filter "arp" (the shortest
#                                             program that rejects this traffic)
#                        e.g. PERF_TAPS_EXTRA="idle_tap_stopped idle_tap_otherport"
#   DPDK_TELEMETRY       dpdk-telemetry.py (default: the one on PATH)
set -euo pipefail

PERF_NAME=taps.sh
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EAL_ALWAYS_PREFIX=1 # each run's telemetry socket under its own prefix

PICK=${PERF_PICK:-best}
SCRAPE_HZ=${PERF_SCRAPES_PER_S:-10}
SCRAPER=${PERF_SCRAPER:-rate}
AUX_CPU=${PERF_AUX_CPU-0}
TELEMETRY=${DPDK_TELEMETRY:-$(command -v dpdk-telemetry.py || true)}
MAIN_VARIANTS=(baseline idle_tap matching_tap metrics_scrape)
read -r -a EXTRA_VARIANTS <<<"${PERF_TAPS_EXTRA:-}"

perf_check dataplane
[[ $PICK == best || $PICK == median ]] || die "PERF_PICK must be best or median"
[[ $SCRAPE_HZ =~ ^[1-9][0-9]*$ ]] || die "PERF_SCRAPES_PER_S must be a positive integer"
[[ $SCRAPER == rate || $SCRAPER == loop ]] || die "PERF_SCRAPER must be rate or loop"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
if [[ $SCRAPER == rate ]] && ! curl --help all 2>/dev/null | grep -q -- '--rate'; then
    info "warning: this curl has no --rate (curl >= 7.84): PERF_SCRAPER=loop"
    SCRAPER=loop
fi
[[ -n $TELEMETRY && -f $TELEMETRY ]] || die "dpdk-telemetry.py not found (apt-get install dpdk; or set DPDK_TELEMETRY)"
if [[ -n $AUX_CPU ]]; then
    command -v taskset >/dev/null || die "taskset not found (util-linux); or PERF_AUX_CPU= to run unpinned"
fi
for v in "${EXTRA_VARIANTS[@]}"; do
    [[ $v =~ ^idle_tap_(stopped|otherport|arp)$ ]] || die "PERF_TAPS_EXTRA: unknown variant \"$v\""
done
VARIANTS=("${MAIN_VARIANTS[@]}" "${EXTRA_VARIANTS[@]}")

perf_setup

# ---------------------------------------------------------------------------------------------
# The matching tap's filter. gen_flows.py gives flow i (0 <= i < FLOWS/2) one IPv4 and one IPv6
# packet, both from UDP source port 1024 + i % 60000: a source port range of K ports starting at
# 1024 matches 2*K packets of every FLOWS, so K = FLOWS/200 gives 1%.
HALF=$((FLOWS / 2))
K=$(((FLOWS + 100) / 200)) # FLOWS/200, rounded
((K >= 1)) || K=1
((K <= 60000)) || K=60000
if ((K == 1)); then MATCH_FILTER="udp src port 1024"; else MATCH_FILTER="udp src portrange 1024-$((1024 + K - 1))"; fi
MATCHING_FLOWS=$((K * (HALF / 60000) + (HALF % 60000 < K ? HALF % 60000 : K)))
EXPECTED_SHARE=$(awk -v m=$((2 * MATCHING_FLOWS)) -v f="$FLOWS" 'BEGIN { printf "%.3f", 100 * m / f }')
IDLE_FILTER="tcp port 9"
TAP_DIR=$TMP/taps
MAX_FILE_BYTES=$((4 << 20))
MAX_FILES=2

# tap_json NAME FILTER INTERFACE DIRECTION START [MORE]: one member of "taps".
tap_json() {
    printf '    { "name": "%s", "filter": "%s", "interfaces": ["%s"], "direction": "%s",\n' "$1" "$2" "$3" "$4"
    printf '      "directory": "%s", "start": %s%s }' "$TAP_DIR/$1" "$5" "${6:-}"
}
taps_member() { printf ',\n  "taps": [\n%s\n  ]' "$(tap_json "$@")"; }

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# variant_config NAME: writes $TMP/NAME.json (metrics_scrape: on a fresh free port, SCRAPE_PORT).
variant_config() {
    local more=""
    case $1 in
    baseline) ;;
    idle_tap) more=$(taps_member idle "$IDLE_FILTER" in both true) ;;
    idle_tap_stopped) more=$(taps_member idle "$IDLE_FILTER" in both false) ;;
    idle_tap_otherport) more=$(taps_member idle "$IDLE_FILTER" out rx true) ;;
    idle_tap_arp) more=$(taps_member idle arp in both true) ;;
    matching_tap)
        more=$(taps_member match1pct "$MATCH_FILTER" in both true \
            ", \"maxFileBytes\": $MAX_FILE_BYTES, \"maxFiles\": $MAX_FILES") ;;
    metrics_scrape)
        SCRAPE_PORT=$(free_port) || die "cannot find a free TCP port"
        more=$(printf ',\n  "telemetry": { "httpPort": %s }' "$SCRAPE_PORT") ;;
    *) die "unknown variant $1" ;;
    esac
    write_config "$TMP/$1.json" "$more"
}

# ---------------------------------------------------------------------------------------------
# What runs alongside each data-plane run (run_dataplane's DP_DURING hook), in a subshell pinned
# to PERF_AUX_CPU, the same for every variant: it follows the worker thread's CPU time (to tell
# the tap's own cost from the share of the CPU the worker got, on a busy machine), and, per
# variant, scrapes /metrics (metrics_scrape) or reads the tap's counters mid-run (matching_tap).

# Is process $1 still running? (`kill -0` is not enough: an exited child not yet waited for is a
# zombie.) dp_alive: is the run still going?
alive() {
    local st
    read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
    [[ $st != Z ]]
}
dp_alive() { alive "$CHILD"; }

# Waits until the data plane forwards (its "tsc_hz" line); false if the run ended first.
dp_wait_running() {
    for _ in $(seq 600); do
        grep -q '^tsc_hz ' "$DP_LOG" && return 0
        dp_alive || return 1
        sleep 0.1
    done
    return 1
}


# matching_tap, mid-run: "rx matched captured dropped_rate_limit dropped_ring_full
# dropped_no_buffer jit running" from DPDK telemetry (rx: "in" rx packets, mean of before and
# after the tap's counters), or nothing.
query_tap() {
    printf '/meshgate/ports,in\n/meshgate/taps,match1pct\n/meshgate/ports,in\n' |
        "$PYTHON" "$TELEMETRY" -f "$DP_PREFIX" | "$PYTHON" -c '
import json, sys
rx, tap = [], None
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    if "/meshgate/ports" in d:
        rx.append(d["/meshgate/ports"]["in"]["rx_packets"])
    elif "/meshgate/taps" in d:
        tap = d["/meshgate/taps"]["match1pct"]
keys = ("matched", "captured", "dropped_rate_limit", "dropped_ring_full", "dropped_no_buffer", "jit", "running")
print(sum(rx) // len(rx), *(tap[k] for k in keys))
'
}

# The hook. Writes $TMP/during: "worker_ns N" (the worker's CPU time, last reading; they are
# 20 ms apart) and, for matching_tap, "match ..." (query_tap's answer, or "failed"). metrics_scrape:
# $TMP/scrapes gets a line "HTTP-CODE BYTES" per scrape, the bodies go to $TMP/scrape.d/.
during_run() {
    local v=$VARIANT
    rm -rf "$TMP/during" "$TMP/scrape.d"
    mkdir "$TMP/scrape.d"
    : >"$TMP/scrapes"
    (
        [[ -n $AUX_CPU ]] && taskset -p -c "$AUX_CPU" "$BASHPID" >/dev/null
        exec {tick}<> <(:) # `read -t` on it: a sleep without a process
        dp_wait_running || exit 0
        stat=$(worker_schedstat) || stat=""
        scraper=""
        url="http://127.0.0.1:${SCRAPE_PORT:-0}/metrics" fmt='%{http_code} %{size_download}\n'
        if [[ $v == metrics_scrape && $SCRAPER == rate ]]; then
            # "#[1-N]": N URLs that all request /metrics (curl does not send the fragment); as many
            # as the run lasts, so that curl ends about with it (a kill would lose its -w lines).
            curl -s --rate "$SCRAPE_HZ/s" -H 'Connection: close' -o "$TMP/scrape.d/#1" -w "$fmt" \
                "$url#[1-$((SECS * SCRAPE_HZ))]" >"$TMP/scrapes" 2>/dev/null &
            scraper=$!
        fi
        period=$((1000000 / SCRAPE_HZ)) tried=0 ns="" match=""
        now=${EPOCHREALTIME/./}
        next=$now mid=$((now + SECS * 500000))
        while dp_alive; do
            if [[ -n $stat ]] && read -r x _ 2>/dev/null <"$stat"; then ns=$x; fi
            now=${EPOCHREALTIME/./}
            if [[ $v == metrics_scrape && $SCRAPER == loop ]] && ((now >= next)); then
                tried=$((tried + 1))
                # In the background, so that a slow one does not delay the next.
                curl -s --max-time 2 -o "$TMP/scrape.d/$tried" -w "$fmt" "$url" >>"$TMP/scrapes" 2>/dev/null &
                next=$((next + period))
                ((next > now)) || next=$((now + period)) # late: no catching up in a burst
            fi
            if [[ $v == matching_tap && -z $match ]] && ((now >= mid)); then
                match=$(query_tap 2>"$TMP/query.err") || match=""
                [[ -n $match ]] || match="failed"
            fi
            read -rt 0.02 -u "$tick" _ || true
        done
        if [[ -n $scraper ]]; then # it should be about done: the endpoint is closed now
            for _ in $(seq 50); do alive "$scraper" || break; sleep 0.1; done
            kill "$scraper" 2>/dev/null || true
        fi
        wait # the scraper(s)
        {
            echo "worker_ns ${ns:-0}"
            echo "match $match"
        } >"$TMP/during"
    )
}

# during KEY: the value(s) during_run wrote for KEY.
during() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/during" 2>/dev/null || true; }

# ---------------------------------------------------------------------------------------------
declare -A SAMPLES=() CPP=()
SHARES=()
SCRAPE_NOTES=()
VARIANT=""

# "tap NAME: installed, running" must be in the log (the tap really ran), or "... stopped".
check_tap_log() { # VARIANT TAPNAME STATE
    grep -q "tap $2: installed, $3" "$DP_LOG" ||
        { tail -n 30 "$DP_LOG" >&2; die "$1: the log does not say \"tap $2: installed, $3\" (log above)"; }
}

dir_bytes() { du -sb "$1" 2>/dev/null | awk '{ print $1 }' || echo 0; }

run_variant() { # VARIANT ROUND
    local v=$1 r=$2
    VARIANT=$v
    variant_config "$v"
    rm -rf "$TAP_DIR"
    DP_DURING=during_run
    run_dataplane "$r" "$TMP/$v.json" "$v"
    DP_DURING=""
    SAMPLES[$v]="${SAMPLES[$v]:-} $DP_MPPS"
    local ns cpp
    ns=$(during worker_ns)
    if [[ ${ns:-0} -gt 0 && -n $TSC_HZ ]]; then
        cpp=$(awk -v ns="$ns" -v hz="$TSC_HZ" -v n="$DP_RX" 'BEGIN { printf "%.2f", ns / 1e9 * hz / n }')
        CPP[$v]="${CPP[$v]:-} $cpp"
        info "$v run $r: worker on CPU $(awk -v ns="$ns" 'BEGIN { printf "%.2f", ns / 1e9 }') s:" \
            "$cpp cycles per packet of its own CPU time"
    fi
    case $v in
    idle_tap | idle_tap_arp | idle_tap_otherport)
        check_tap_log "$v" idle running
        # Nothing matched: the tap's files hold at most their headers.
        local b
        b=$(dir_bytes "$TAP_DIR/idle")
        ((${b:-0} < 65536)) || die "$v: the idle tap wrote $b bytes: the filter matched something"
        ;;
    idle_tap_stopped) check_tap_log "$v" idle stopped ;;
    matching_tap)
        check_tap_log "$v" match1pct running
        local files bytes counters
        files=$(find "$TAP_DIR/match1pct" -type f 2>/dev/null | wc -l || true)
        bytes=$(dir_bytes "$TAP_DIR/match1pct")
        counters=$(during match)
        if [[ -z $counters || $counters == failed ]]; then
            info "warning: matching_tap run $r: no tap counters (the telemetry query failed:" \
                "$(head -c 300 "$TMP/query.err" 2>/dev/null))"
            return 0
        fi
        local rx matched captured drl drf dnb jit running share
        read -r rx matched captured drl drf dnb jit running <<<"$counters"
        ((running == 1 && matched > 0)) || die "matching_tap run $r: the tap matched nothing ($counters)"
        share=$(awk -v m="$matched" -v rx="$rx" 'BEGIN { printf "%.3f", 100 * m / rx }')
        SHARES+=("$share")
        info "matching_tap run $r: mid-run the tap matched $matched of $rx packets received on \"in\"" \
            "($share%), captured $captured, dropped: rate limit $drl, ring full $drf, no buffer $dnb;" \
            "jit $jit; after the run $files file(s), $bytes bytes"
        ;;
    metrics_scrape)
        # Answered: 200 with a body (the last scrapes may find the endpoint closed at the end).
        local ok tried last
        ok=$(awk '$1 == 200 && $2 > 0' "$TMP/scrapes" | wc -l)
        tried=$(wc -l <"$TMP/scrapes")
        last=$(find "$TMP/scrape.d" -type f -size +0 -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n1 | cut -d' ' -f2- || true)
        SCRAPE_NOTES+=("$ok/$tried")
        info "metrics_scrape run $r ($SCRAPER): $ok scrapes answered of $tried" \
            "($(awk -v n="$ok" -v s="$SECS" 'BEGIN { printf "%.1f", n / s }')/s over the run)," \
            "the last one $(wc -c <"${last:-/dev/null}") bytes"
        ((ok > 0)) || die "metrics_scrape run $r: no scrape was answered (port $SCRAPE_PORT)"
        grep -q '^meshgate_' "$last" || die "metrics_scrape run $r: the answer has no meshgate_ metrics: $last"
        ;;
    esac
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
pick() { if [[ $PICK == best ]]; then best "$@"; else median "$@"; fi; }         # rates: best = highest
pick_low() { if [[ $PICK == best ]]; then printf '%s\n' "$@" | sort -g | head -n1; else median "$@"; fi; } # costs
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

perf_busy_check
info "memory: $MEMORY; $SECS s per run, $ROUNDS round(s) of ${#VARIANTS[@]} variants; $FLOWS flows;" \
    "pcap $(stat -c %s "$PCAP") bytes; matching filter \"$MATCH_FILTER\" (expected $EXPECTED_SHARE%)"
nv=${#VARIANTS[@]}
for r in $(seq "$ROUNDS"); do
    for k in $(seq 0 $((nv - 1))); do
        run_variant "${VARIANTS[$(((r - 1 + k) % nv))]}" "$r"
    done
done

declare -A CHOSEN=()
echo "memory mode: $MEMORY   seconds per run: $SECS   rounds: $ROUNDS   flows: $FLOWS   chosen: $PICK of each variant's runs"
for v in "${VARIANTS[@]}"; do
    read -r -a s <<<"${SAMPLES[$v]}"
    CHOSEN[$v]=$(pick "${s[@]}")
    printf '%-18s Mpps per run: %s   %s: %s\n' "$v" "${s[*]}" "$PICK" "${CHOSEN[$v]}"
done
if ((${#SHARES[@]} > 0)); then
    echo "matching_tap filter \"$MATCH_FILTER\": matched share of rx per run (mid-run): ${SHARES[*]} %   expected $EXPECTED_SHARE%"
else
    echo "matching_tap filter \"$MATCH_FILTER\": matched share not measured (telemetry did not answer)   expected $EXPECTED_SHARE%"
fi
echo "metrics_scrape ($SCRAPER): scrapes answered/tried per run: ${SCRAPE_NOTES[*]}   (target $SCRAPE_HZ/s over $SECS s)"
BASE=${CHOSEN[baseline]}
for v in "${EXTRA_VARIANTS[@]}"; do
    echo "$v rate ratio: $(ratio "${CHOSEN[$v]}" "$BASE")"
done
# The worker's cycles per packet of its own CPU time: what the variant costs per packet whatever
# share of its core the worker got (lowest = best).
if [[ -n ${CPP[baseline]:-} ]]; then
    read -r -a s <<<"${CPP[baseline]}"
    CPP_BASE=$(pick_low "${s[@]}")
    for v in "${VARIANTS[@]}"; do
        [[ -n ${CPP[$v]:-} ]] || continue
        read -r -a s <<<"${CPP[$v]}"
        c=$(pick_low "${s[@]}")
        printf '%-18s worker cycles/packet per run: %s   %s: %s   %s vs baseline   rate ratio at equal CPU: %s\n' \
            "$v" "${s[*]}" "$PICK" "$c" "$(awk -v a="$c" -v b="$CPP_BASE" 'BEGIN { printf "%+.2f", a - b }')" "$(ratio "$CPP_BASE" "$c")"
    done
fi
echo "metric taps_baseline_mpps $BASE"
echo "metric idle_tap_mpps ${CHOSEN[idle_tap]}"
echo "metric matching_tap_mpps ${CHOSEN[matching_tap]}"
echo "metric metrics_scrape_mpps ${CHOSEN[metrics_scrape]}"
echo "metric idle_tap_rate_ratio $(ratio "${CHOSEN[idle_tap]}" "$BASE")"
echo "metric matching_tap_rate_ratio $(ratio "${CHOSEN[matching_tap]}" "$BASE")"
echo "metric metrics_scrape_rate_ratio $(ratio "${CHOSEN[metrics_scrape]}" "$BASE")"
