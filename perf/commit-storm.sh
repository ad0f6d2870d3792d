#!/usr/bin/env bash
# What config commits cost traffic: connections lost, packets lost, forwarding rate, and how long
# a commit takes, for a small change and for a big config.
#
# Three parts (PERF_STORM_PARTS, default "lab rate big"):
#
#   lab   tests/integration/mgmt/hitless_test.sh run longer (the management lab: data plane +
#         meshgate-mgmtd + backends in namespaces; see that script's header): long-lived
#         connections through VIPs (iperf3 TCP, iperf3 UDP's control connection, two slow
#         downloads) plus a UDP stream at a fixed packet rate (HITLESS_UDP_PPS, default 1000/s)
#         for PERF_STORM_SECONDS (30) with RESTCONF commits back to back the whole time (services,
#         backend weights, backends added/removed, firewall rules added/removed), after the same
#         UDP load for as long without commits (the baseline: what the lab loses anyway).
#         Figures: connections lost; UDP datagrams lost with and without commits, as CSIT-style
#         effective blocked time = lost / offered packet rate (ms); commit latency = a RESTCONF
#         edit request's send to its answer (mgmtd answers after the data plane activated, so
#         this is request -> active), median and p95; the data plane's compile (prepare) time of
#         those commits from its config.prepared log lines. With PERF_BIG_MGMTD=1 (default) the
#         big config below, as YANG JSON, is then PUT as the whole datastore over RESTCONF and
#         timed (and the lab config PUT back).
#   rate  the perf/lib.sh harness (forwarding.sh, taps.sh: net_pcap replay of gen_flows.py's
#         1024 UDP flows into net_null, one worker on lcore 1, the data plane's `summary:`
#         tx_mpps), the data plane started with --mgmt-socket. Config A = the harness config plus
#         PERF_PUSH_SERVICES (20) services and PERF_PUSH_RULES (200) firewall rules (default
#         allow; none matches the traffic, so every flow is a firewall session: the L4 stage is
#         on). Variants: `idle` (config A, nothing pushed) and `storm` (config A, and during the
#         whole run build/tests/push_tool prepare-activate in a tight loop, alternating config A
#         and a config B with other services, weights and rules; pinned to PERF_AUX_CPU, the main
#         lcore's CPU, where the data plane compiles too). Rounds alternate the two like taps.sh;
#         each variant's best run counts (PERF_PICK=median: the median). The pushes made per run
#         and their prepare/activate times are printed.
#   big   the same harness (config A running): PERF_BIG_ROUNDS (3) times, push_tool
#         prepare-activate of a config with PERF_BIG_SERVICES (1000) services (4 backends each,
#         Maglev table PERF_BIG_MAGLEV, default the model's 65537) and PERF_BIG_RULES (10000)
#         firewall rules (perf/gen_big_config.py), then config A again. Compile time = the data
#         plane's prepare_us; commit time = push_tool's wall clock for prepare + activate (reading
#         the 1.4 MB JSON file, both round trips). Medians.
#
# Ends with (big_* before the four, which are last):
#   metric big_config_compile_ms X              median prepare_us of the big config / 1000
#   metric big_config_commit_ms X               median push_tool prepare+activate, end to end
#   metric big_config_restconf_commit_ms X      the same config as a RESTCONF PUT through mgmtd
#   metric commit_storm_lost_connections N      long-lived TCP connections lost during the storm
#   metric commit_blocked_time_ms X             storm minus baseline blocked time (ms)
#   metric commit_latency_ms X                  median RESTCONF edit -> answer (data plane active)
#   metric commit_storm_rate_ratio X            storm Mpps / idle Mpps
# A part not run, or a figure that could not be measured, prints "nan" (with a warning saying why).
#
# Environment (all optional): MESHGATE_DATAPLANE, PERF_SECONDS (10, per rate run), PERF_ROUNDS (3),
# PERF_FLOWS, PERF_MEMORY, PERF_HUGEPAGES_MIN, PERF_SETUP_HUGEPAGES as in forwarding.sh
# (perf/lib.sh), and
#   PERF_STORM_PARTS       parts to run (default "lab rate big")
#   PERF_STORM_SECONDS     lab: seconds of traffic with commits, and of the baseline (30)
#   PERF_STORM_COMMITS     lab: commits (0, default: back to back until 2 s before the end)
#   PERF_PUSH_SERVICES     rate: services in configs A/B (20)
#   PERF_PUSH_RULES        rate: firewall rules in configs A/B (200)
#   PERF_BIG_SERVICES      big: services (1000)
#   PERF_BIG_RULES         big: firewall rules (10000)
#   PERF_BIG_MAGLEV        big: Maglev table size of each service (0: the default, 65537)
#   PERF_BIG_ROUNDS        big: pushes of the big config (3)
#   PERF_BIG_MGMTD         lab: also commit the big config through mgmtd's RESTCONF (1)
#   PERF_PICK              best | median (rate; default best)
#   PERF_AUX_CPU           CPU the push loop is pinned to (default 0); "": not pinned
#   MESHGATE_PUSH_TOOL     push_tool binary (default: <repo>/build/tests/push_tool)
#   MESHGATE_MGMTD         mgmtd binary for the lab part (default: <repo>/build/mgmt/meshgate-mgmtd)
set -euo pipefail

PERF_NAME=commit-storm.sh
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EAL_ALWAYS_PREFIX=1

read -r -a PARTS <<<"${PERF_STORM_PARTS:-lab rate big}"
STORM_SECS=${PERF_STORM_SECONDS:-30}
STORM_COMMITS=${PERF_STORM_COMMITS:-0}
PUSH_SERVICES=${PERF_PUSH_SERVICES:-20}
PUSH_RULES=${PERF_PUSH_RULES:-200}
BIG_SERVICES=${PERF_BIG_SERVICES:-1000}
BIG_RULES=${PERF_BIG_RULES:-10000}
BIG_MAGLEV=${PERF_BIG_MAGLEV:-0}
BIG_ROUNDS=${PERF_BIG_ROUNDS:-3}
BIG_MGMTD=${PERF_BIG_MGMTD:-1}
PICK=${PERF_PICK:-best}
AUX_CPU=${PERF_AUX_CPU-0}
PUSH_TOOL=${MESHGATE_PUSH_TOOL:-$REPO_DIR/build/tests/push_tool}
HITLESS=$REPO_DIR/tests/integration/mgmt/hitless_test.sh

has_part() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }
for p in "${PARTS[@]}"; do [[ $p =~ ^(lab|rate|big)$ ]] || die "PERF_STORM_PARTS: unknown part \"$p\""; done
for v in STORM_SECS PUSH_SERVICES PUSH_RULES BIG_SERVICES BIG_RULES BIG_ROUNDS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
((STORM_SECS >= 5)) || die "PERF_STORM_SECONDS must be at least 5"
[[ $PICK == best || $PICK == median ]] || die "PERF_PICK must be best or median"
if has_part rate || has_part big; then
    perf_check dataplane
    [[ -x $PUSH_TOOL ]] || die "push_tool not found: $PUSH_TOOL (build it, or set MESHGATE_PUSH_TOOL)"
    if [[ -n $AUX_CPU ]]; then command -v taskset >/dev/null || die "taskset not found (util-linux)"; fi
else
    perf_check
fi
if has_part lab; then
    [[ $(id -u) == 0 ]] || die "the lab part needs root"
    [[ -f $HITLESS ]] || die "$HITLESS not found"
fi

perf_setup

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
pick() { if [[ $PICK == best ]]; then best "$@"; else median "$@"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.3f", a / b }'; }
# col_ms FILE COLUMN: "median p95" of a column of microseconds, in ms ("nan nan": none).
col_ms() {
    awk -v c="$2" '$c ~ /^[0-9]+$/ { print $c / 1000 }' "$1" 2>/dev/null | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan nan"; exit }
        printf "%.2f %.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[int(0.95 * (NR - 1)) + 1] }'
}

# Metric values; "nan" until measured.
M_LOST=nan M_BLOCKED=nan M_LATENCY=nan M_RATIO=nan
M_BIG_COMPILE=nan M_BIG_COMMIT=nan M_BIG_RESTCONF=nan

# Configs: A and B for the rate part, the big one (proto3, for push_tool) on the harness config.
write_config "$TMP/base.json"
"$PYTHON" "$SCRIPT_DIR/gen_big_config.py" "$TMP/base.json" "$TMP/A.json" --services "$PUSH_SERVICES" \
    --rules "$PUSH_RULES" --backend-prefix 198.19.0.0/24 --variant 0 2>/dev/null || die "gen_big_config.py failed (A)"
"$PYTHON" "$SCRIPT_DIR/gen_big_config.py" "$TMP/base.json" "$TMP/B.json" --services "$PUSH_SERVICES" \
    --rules "$PUSH_RULES" --backend-prefix 198.19.0.0/24 --variant 1 2>/dev/null || die "gen_big_config.py failed (B)"
big_args=(--services "$BIG_SERVICES" --rules "$BIG_RULES" --maglev-size "$BIG_MAGLEV")
if has_part big; then
    "$PYTHON" "$SCRIPT_DIR/gen_big_config.py" "$TMP/base.json" "$TMP/big.json" "${big_args[@]}" \
        --backend-prefix 198.19.0.0/24 >&2 || die "gen_big_config.py failed (big)"
    # The same with one rule's source changed.
    "$PYTHON" -c 'import json, sys
c = json.load(open(sys.argv[1]))
r = c["firewall"]["rules"][-1]
r["source"] = "2001:db8:abcd::/48" if ":" in r.get("source", "") else "100.127.255.254/32"
json.dump(c, open(sys.argv[2], "w"), separators=(",", ":"))' "$TMP/big.json" "$TMP/big-1.json" || die "cannot write big-1.json"
fi

# =============================================================================================
# lab: the hitless test, longer
# =============================================================================================
run_lab() {
    local res=$TMP/hitless.txt rc=0
    : >"$res"
    local env=(HITLESS_SECONDS="$STORM_SECS" HITLESS_COMMITS="$STORM_COMMITS"
        HITLESS_BASELINE_SECONDS="$STORM_SECS" HITLESS_RESULTS="$res")
    if [[ $BIG_MGMTD == 1 ]]; then
        "$PYTHON" "$SCRIPT_DIR/gen_big_config.py" "$REPO_DIR/mgmt/yang/examples/lab-l4.json" "$TMP/big-yang.json" \
            "${big_args[@]}" --backend-prefix 198.18.2.0/24 >&2 || die "gen_big_config.py failed (YANG)"
        env+=(HITLESS_BIG_CONFIG="$TMP/big-yang.json")
    fi
    info "lab: $HITLESS with ${env[*]}"
    env "${env[@]}" bash "$HITLESS" >&2 || rc=$?
    case $rc in
    0) ;;
    77) info "warning: lab part skipped (the hitless test exited 77: see its SKIP line above)"; return 0 ;;
    *) info "warning: the hitless test failed (exit $rc; its FAIL lines are above): figures below as measured" ;;
    esac
    r() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "nan" : v) }' "$res"; }
    local base_lost base_secs base_pps lost secs pps
    base_lost=$(r baseline_udp_lost) base_secs=$(r baseline_udp_seconds) base_pps=$(r baseline_udp_pps)
    lost=$(r storm_udp_lost) secs=$(r storm_udp_seconds) pps=$(r storm_udp_pps)
    local b_storm b_base
    b_storm=$(awk -v l="$lost" -v p="$pps" 'BEGIN { if (l == "nan" || p == "nan" || p == 0) print "nan"; else printf "%.1f", l / p * 1000 }')
    # The baseline's loss scaled to the storm's duration.
    b_base=$(awk -v l="$base_lost" -v p="$base_pps" -v s="$secs" -v bs="$base_secs" \
        'BEGIN { if (l == "nan" || p == "nan" || p == 0 || bs == "nan" || bs == 0 || s == "nan") print "nan"; else printf "%.1f", l * s / bs / p * 1000 }')
    M_BLOCKED=$(awk -v a="$b_storm" -v b="$b_base" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.1f", a - b }')
    M_LOST=$(r lost_connections)
    M_LATENCY=$(r commit_latency_median_ms)
    [[ $BIG_MGMTD == 1 ]] && M_BIG_RESTCONF=$(r big_commit_ms)
    echo "lab: $(r commits) commits in $STORM_SECS s ($(r commits_failed) not 2xx);" \
        "long-lived connections lost: $M_LOST of $(r long_lived_connections); repeated GETs failed: $(r gets_failed) of $(r gets)"
    echo "lab: commit latency (RESTCONF request sent -> answer, data plane active): median $M_LATENCY ms," \
        "p95 $(r commit_latency_p95_ms) ms, max $(r commit_latency_max_ms) ms;" \
        "data plane prepare (compile) median $(r prepare_median_ms) ms, p95 $(r prepare_p95_ms) ms"
    echo "lab: UDP at $pps pps: storm $lost of $(r storm_udp_sent) lost in $secs s = blocked $b_storm ms;" \
        "baseline $base_lost of $(r baseline_udp_sent) lost in $base_secs s = $b_base ms scaled to the storm's length;" \
        "difference $M_BLOCKED ms"
    if [[ $BIG_MGMTD == 1 ]]; then
        echo "lab: big config ($BIG_SERVICES services, $BIG_RULES rules) PUT through RESTCONF: $M_BIG_RESTCONF ms" \
            "(data plane compile $(r big_commit_prepare_ms) ms); the lab config PUT back: $(r big_restore_ms) ms"
    fi
}

# =============================================================================================
# rate and big: the pcap -> null harness with --mgmt-socket
# =============================================================================================
SOCK=$TMP/dp.sock
# lib.sh's run_dataplane starts $DATAPLANE with the harness arguments: a wrapper adds the socket.
REAL_DATAPLANE=$DATAPLANE
cat >"$TMP/dataplane-mgmt.sh" <<EOF
#!/bin/sh
exec "$REAL_DATAPLANE" "\$@" --mgmt-socket "$SOCK"
EOF
chmod +x "$TMP/dataplane-mgmt.sh"

alive() {
    local st
    read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
    [[ $st != Z ]]
}
dp_alive() { alive "$CHILD"; }
dp_wait_running() { # the "tsc_hz" line: the mgmt socket listens by then
    for _ in $(seq 600); do
        grep -q '^tsc_hz ' "$DP_LOG" && [[ -S $SOCK ]] && return 0
        dp_alive || return 1
        sleep 0.1
    done
    return 1
}
field_of() { sed -nE "s/.*[ ]$1=([0-9]+).*/\\1/p" | head -n1; } # field_of NAME < push_tool output


# DP_DURING hook of both variants, pinned to PERF_AUX_CPU: follows the worker thread's CPU time
# ($TMP/worker_ns, the last reading) and, in the storm, pushes A, B, A, ... until the run ends
# ($TMP/during: "pushes N failed N"; $TMP/push_times: "prepare_us activate_us" per push).
during_run() {
    : >"$TMP/push_times"
    echo 0 >"$TMP/worker_ns"
    echo "pushes 0 failed 0" >"$TMP/during"
    (
        [[ -n $AUX_CPU ]] && taskset -p -c "$AUX_CPU" "$BASHPID" >/dev/null
        dp_wait_running || exit 0
        stat=$(worker_schedstat) || stat=""
        (
            exec {tick}<> <(:)
            while dp_alive; do
                if [[ -n $stat ]] && read -r x _ 2>/dev/null <"$stat"; then echo "$x" >"$TMP/worker_ns"; fi
                read -rt 0.05 -u "$tick" _ || true
            done
        ) &
        sampler=$!
        if [[ $VARIANT == storm ]]; then
            gen=2 n=0 failed=0
            while dp_alive; do
                cfg=$TMP/A.json
                ((gen % 2)) && cfg=$TMP/B.json
                if out=$("$PUSH_TOOL" "$SOCK" prepare-activate "$cfg" "$gen" 2>&1); then
                    n=$((n + 1))
                    echo "$(field_of prepare_us <<<"$out") $(field_of activate_us <<<"$out")" >>"$TMP/push_times"
                else
                    sleep 0.3 # a push cut short by the end of the run does not count
                    dp_alive && { failed=$((failed + 1)); echo "$out" >>"$TMP/push_errors"; }
                fi
                gen=$((gen + 1))
            done
            echo "pushes $n failed $failed" >"$TMP/during"
        fi
        wait "$sampler"
    )
}

declare -A SAMPLES=() CPP=()
PUSH_NOTES=()
VARIANT=""
run_rate() {
    DATAPLANE=$TMP/dataplane-mgmt.sh
    local r k v ns cpp order=(idle storm)
    for r in $(seq "$ROUNDS"); do
        for k in 0 1; do
            v=${order[$(((r - 1 + k) % 2))]}
            VARIANT=$v
            rm -f "$TMP/during" "$TMP/push_errors"
            DP_DURING=during_run
            run_dataplane "$r" "$TMP/A.json" "$v"
            DP_DURING=""
            SAMPLES[$v]="${SAMPLES[$v]:-} $DP_MPPS"
            ns=$(<"$TMP/worker_ns")
            if ((${ns:-0} > 0)) && [[ -n $TSC_HZ ]]; then
                cpp=$(awk -v ns="$ns" -v hz="$TSC_HZ" -v n="$DP_RX" 'BEGIN { printf "%.2f", ns / 1e9 * hz / n }')
                CPP[$v]="${CPP[$v]:-} $cpp"
                info "$v run $r: worker on CPU $(awk -v ns="$ns" 'BEGIN { printf "%.2f", ns / 1e9 }') s:" \
                    "$cpp cycles per packet of its own CPU time"
            fi
            if [[ $v == storm ]]; then
                local pushes failed pmed amed
                read -r _ pushes _ failed <"$TMP/during" || { pushes=0 failed=0; }
                read -r pmed _ <<<"$(col_ms "$TMP/push_times" 1)"
                read -r amed _ <<<"$(col_ms "$TMP/push_times" 2)"
                PUSH_NOTES+=("$pushes")
                info "storm run $r: $pushes pushes in $SECS s ($(awk -v n="$pushes" -v s="$SECS" 'BEGIN { printf "%.1f", n / s }')/s)," \
                    "$failed failed; prepare median $pmed ms, activate median $amed ms"
                [[ -s $TMP/push_errors ]] && info "  first push error: $(head -n 3 "$TMP/push_errors" | tr '\n' ' ')"
                ((pushes > 0)) || info "warning: storm run $r: no push succeeded: this run measures nothing"
                cat "$TMP/push_times" >>"$TMP/all_push_times"
            fi
        done
    done
    DATAPLANE=$REAL_DATAPLANE
    local s_idle s_storm
    read -r -a s_idle <<<"${SAMPLES[idle]}"
    read -r -a s_storm <<<"${SAMPLES[storm]}"
    local c_idle c_storm
    c_idle=$(pick "${s_idle[@]}") c_storm=$(pick "${s_storm[@]}")
    M_RATIO=$(ratio "$c_storm" "$c_idle")
    echo "rate: memory mode $MEMORY, $SECS s per run, $ROUNDS rounds, $FLOWS flows; config A: $PUSH_SERVICES services," \
        "$PUSH_RULES firewall rules; chosen: $PICK"
    printf 'rate: %-6s Mpps per run: %s   %s: %s\n' idle "${s_idle[*]}" "$PICK" "$c_idle"
    printf 'rate: %-6s Mpps per run: %s   %s: %s   pushes per run: %s\n' storm "${s_storm[*]}" "$PICK" "$c_storm" "${PUSH_NOTES[*]}"
    if [[ -s $TMP/all_push_times ]]; then
        local pm pp am ap
        read -r pm pp <<<"$(col_ms "$TMP/all_push_times" 1)"
        read -r am ap <<<"$(col_ms "$TMP/all_push_times" 2)"
        echo "rate: push_tool prepare-activate A/B, all storm runs: prepare (compile) median $pm ms, p95 $pp ms;" \
            "activate (swap + RCU grace period) median $am ms, p95 $ap ms"
    fi
    if [[ -n ${CPP[idle]:-} && -n ${CPP[storm]:-} ]]; then
        local c_i c_s
        read -r -a s_idle <<<"${CPP[idle]}"
        read -r -a s_storm <<<"${CPP[storm]}"
        c_i=$(printf '%s\n' "${s_idle[@]}" | sort -g | head -n1) c_s=$(printf '%s\n' "${s_storm[@]}" | sort -g | head -n1)
        echo "rate: worker cycles per packet of its own CPU time (lowest): idle ${CPP[idle]# } -> $c_i," \
            "storm ${CPP[storm]# } -> $c_s; rate ratio at equal CPU $(ratio "$c_i" "$c_s")"
    fi
    echo "rate: storm / idle: $M_RATIO"
}

run_big() {
    local prefix="mgperf-$$-big" log=$TMP/dataplane.big.log eal
    PREFIXES+=("$prefix")
    mapfile -t eal < <(eal_args "$prefix")
    DP_LOG=$log
    "$REAL_DATAPLANE" "${eal[@]}" -- --config "$TMP/A.json" --mgmt-socket "$SOCK" --duration 3600 \
        </dev/null >"$log" 2>&1 &
    CHILD=$!
    dp_wait_running || { tail -n 30 "$log" >&2; die "big: the data plane did not start (log above)"; }
    local gen=100 r out t0 t1 comp=() comm=() act=() back=()
    for r in $(seq "$BIG_ROUNDS"); do
        t0=${EPOCHREALTIME/./}
        if ! out=$("$PUSH_TOOL" "$SOCK" prepare-activate "$TMP/big.json" "$gen" 2>&1); then
            info "warning: big: push $r failed: $out"
            tail -n 5 "$log" >&2
            break
        fi
        t1=${EPOCHREALTIME/./}
        local p a
        p=$(field_of prepare_us <<<"$out") a=$(field_of activate_us <<<"$out")
        comp+=("$(awk -v u="$p" 'BEGIN { printf "%.1f", u / 1000 }')")
        act+=("$(awk -v u="$a" 'BEGIN { printf "%.2f", u / 1000 }')")
        comm+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')")
        gen=$((gen + 1))
        t0=${EPOCHREALTIME/./}
        out=$("$PUSH_TOOL" "$SOCK" prepare-activate "$TMP/A.json" "$gen" 2>&1) || info "warning: big: push back to A failed: $out"
        t1=${EPOCHREALTIME/./}
        back+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')")
        gen=$((gen + 1))
        info "big push $r: compile ${comp[-1]} ms, activate ${act[-1]} ms, push_tool end to end ${comm[-1]} ms;" \
            "back to config A ${back[-1]} ms"
    done
    # A one-rule change on top of the big config: what an incremental commit costs.
    local small=""
    if ((${#comp[@]} > 0)) && out=$("$PUSH_TOOL" "$SOCK" prepare-activate "$TMP/big.json" "$gen" 2>&1); then
        gen=$((gen + 1))
        t0=${EPOCHREALTIME/./}
        if out=$("$PUSH_TOOL" "$SOCK" prepare-activate "$TMP/big-1.json" "$gen" 2>&1); then
            t1=${EPOCHREALTIME/./}
            small="compile $(awk -v u="$(field_of prepare_us <<<"$out")" 'BEGIN { printf "%.1f", u / 1000 }') ms,"
            small+=" activate $(awk -v u="$(field_of activate_us <<<"$out")" 'BEGIN { printf "%.2f", u / 1000 }') ms,"
            small+=" end to end $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }') ms"
        fi
    fi
    grep -q '"config.reload.rejected"' "$log" && info "warning: big: the data plane rejected a config: $(grep '"config.reload.rejected"' "$log" | head -n 1)"
    kill -INT "$CHILD" 2>/dev/null || true
    for _ in $(seq 100); do alive "$CHILD" || break; sleep 0.1; done
    kill -KILL "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
    CHILD=""
    rm -rf "/var/run/dpdk/$prefix"
    if ((${#comp[@]} > 0)); then
        M_BIG_COMPILE=$(median "${comp[@]}")
        M_BIG_COMMIT=$(median "${comm[@]}")
        echo "big: $BIG_SERVICES services x 4 backends (Maglev $([[ $BIG_MAGLEV == 0 ]] && echo 65537 || echo "$BIG_MAGLEV")), $BIG_RULES firewall rules," \
            "$(stat -c %s "$TMP/big.json") bytes of proto3 JSON; memory mode $MEMORY"
        echo "big: compile (prepare_us) per push: ${comp[*]} ms   activate: ${act[*]} ms   push_tool end to end: ${comm[*]} ms" \
            "  back to config A: ${back[*]} ms"
        echo "big: the big config with one firewall rule changed, pushed over it: ${small:-failed}"
    fi
}

perf_busy_check
if has_part lab; then run_lab; fi
if has_part rate; then run_rate; fi
if has_part big; then run_big; fi

echo "metric big_config_compile_ms $M_BIG_COMPILE"
echo "metric big_config_commit_ms $M_BIG_COMMIT"
echo "metric big_config_restconf_commit_ms $M_BIG_RESTCONF"
echo "metric commit_storm_lost_connections $M_LOST"
echo "metric commit_blocked_time_ms $M_BLOCKED"
echo "metric commit_latency_ms $M_LATENCY"
echo "metric commit_storm_rate_ratio $M_RATIO"
