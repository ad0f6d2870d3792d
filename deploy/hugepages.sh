#!/usr/bin/env bash
# Reserve 2 MiB hugepages and mount hugetlbfs for DPDK.
#
#   deploy/hugepages.sh            reserve HUGEPAGES (default 512 = 1 GiB), mount /dev/hugepages
#
# Never fails its caller: when hugepages cannot be had it prints a warning on stderr and exits 0.
# Stdout carries only what was done. Callers decide by looking at the system, e.g.
#   grep -q hugetlbfs /proc/mounts && ... || use --no-huge -m 512
# (deploy/quickstart.sh also checks that free pages remain in /proc/meminfo).
set -u

PAGES=${HUGEPAGES:-512}
MNT=${HUGEPAGE_MOUNT:-/dev/hugepages}
SYS=/sys/kernel/mm/hugepages/hugepages-2048kB

say() { echo "hugepages: $*"; }
warn() { echo "hugepages: warning: $* (DPDK can still run with --no-huge -m 512)" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  warn "not root, cannot reserve hugepages"
  exit 0
fi
if [ ! -w "$SYS/nr_hugepages" ]; then
  warn "kernel offers no 2 MiB hugepages ($SYS)"
  exit 0
fi

have=$(cat "$SYS/nr_hugepages")
if [ "$have" -ge "$PAGES" ]; then
  say "$have 2 MiB pages already reserved"
else
  echo "$PAGES" >"$SYS/nr_hugepages" 2>/dev/null
  now=$(cat "$SYS/nr_hugepages")
  if [ "$now" -ge "$PAGES" ]; then
    say "reserved $now 2 MiB pages (was $have)"
  elif [ "$now" -gt 0 ]; then
    say "reserved $now 2 MiB pages (asked for $PAGES, was $have)"
    echo "hugepages: warning: only $now of $PAGES pages could be reserved (memory fragmented?)" >&2
  else
    warn "no 2 MiB hugepages could be reserved"
    exit 0
  fi
fi

if awk -v m="$MNT" '$2 == m && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; then
  say "hugetlbfs already mounted at $MNT"
else
  if mkdir -p "$MNT" 2>/dev/null && mount -t hugetlbfs -o pagesize=2M nodev "$MNT" 2>/dev/null; then
    say "mounted hugetlbfs (pagesize=2M) at $MNT"
  else
    warn "could not mount hugetlbfs at $MNT"
  fi
fi
say "$(grep -E '^HugePages_(Total|Free)' /proc/meminfo | tr -s ' ' | paste -sd ' ')"
exit 0
