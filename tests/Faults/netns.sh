#!/usr/bin/env bash
# Network of the fault harness: one namespace per node, on one bridge, and the faults made on it.
#
# usage: tests/Faults/netns.sh <command> <slot> [args...]      (as root; needs ip and tc)
#   up SLOT                     create namespaces ocfSLOT-{hub,pg,s0,s1,s2,api} and the bridge
#   down SLOT                   kill what runs in them and delete them (idempotent)
#   down-stale                  `down` every slot whose lock file /tmp/ocf-slots/SLOT.lock is
#                               not held (leftovers of a crashed run)
#   drop SLOT FROM TO...        FROM silently drops every packet it sends to each TO (one way)
#   undrop SLOT FROM TO...      undo `drop` for those pairs
#   drop-pairs SLOT F1 T1 F2 T2 ...    / undrop-pairs: the same for many (from, to) pairs at once
#   throttle SLOT NODE RATE     tbf rate limit (e.g. 200kbit) on NODE's link, both directions
#   heal SLOT                   remove every drop and throttle of the slot
#   addr SLOT NODE              print NODE's address
#
# Nodes: pg, s0, s1, s2, api. Addresses are 10.213.SLOT.0/24 (pg .10, s0 .11, s1 .12, s2 .13,
# api .20); the root namespace joins the bridge as .254 through a veth whose peer is in the hub
# namespace, so the harness reaches the nodes and nothing else is ever addressed. Nothing here
# has a default route: no packet of a node can leave the bridge.
#
# A drop is a permanent neighbour entry that maps TO's address to a MAC address nobody has: the
# bridge floods the frames and no node takes them, so packets vanish as on a cut cable, TCP
# retransmits and callers hang as they would in a real partition. (A blackhole route would fail
# connect() at once with EINVAL, which a real partition never does; the kernel here has no tc
# actions and no netem, so tc filters cannot drop and netem cannot add loss or delay: loss is
# made by the harness turning drops on and off, delay by a tbf rate limit that queues.)
set -euo pipefail

NODES=(pg s0 s1 s2 api)
SLOT_DIR=/tmp/ocf-slots

addr_of() {
    local slot=$1 node=$2
    case "$node" in
        pg) echo "10.213.$slot.10" ;;
        s0) echo "10.213.$slot.11" ;;
        s1) echo "10.213.$slot.12" ;;
        s2) echo "10.213.$slot.13" ;;
        api) echo "10.213.$slot.20" ;;
        root) echo "10.213.$slot.254" ;;
        *) echo "unknown node '$node'" >&2; return 2 ;;
    esac
}

check_slot() {
    [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 250 )) || { echo "slot must be 1..250, not '$1'" >&2; exit 2; }
}

up() {
    local slot=$1 p=ocf$1 node
    down "$slot"
    ip netns add "$p-hub"
    ip -n "$p-hub" link set lo up
    ip -n "$p-hub" link add br0 type bridge
    ip -n "$p-hub" link set br0 up
    for node in "${NODES[@]}"; do
        ip netns add "$p-$node"
        ip -n "$p-$node" link set lo up
        ip -n "$p-hub" link add "$node" type veth peer name eth0 netns "$p-$node"
        ip -n "$p-hub" link set "$node" master br0 up
        ip -n "$p-$node" addr add "$(addr_of "$slot" "$node")/24" dev eth0
        ip -n "$p-$node" link set eth0 up
        ip -n "$p-$node" link set eth0 txqueuelen 1000
    done
    # The harness in the root namespace: a veth into the hub's bridge.
    ip link add "${p}h" type veth peer name root netns "$p-hub"
    ip -n "$p-hub" link set root master br0 up
    ip addr add "$(addr_of "$slot" root)/24" dev "${p}h"
    ip link set "${p}h" up
}

down() {
    local slot=$1 p=ocf$1 ns pid
    for ns in "$p-pg" "$p-s0" "$p-s1" "$p-s2" "$p-api" "$p-hub"; do
        [[ -e "/run/netns/$ns" ]] || continue
        # Only processes inside our own namespace: the nodes this harness started.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "${p}h" 2>/dev/null || true
    # PostgreSQL's data of the slot (FaultCluster puts it here).
    rm -rf "$SLOT_DIR/pg-$slot"
}

down_stale() {
    local lock slot
    mkdir -p "$SLOT_DIR"
    for ns in /run/netns/ocf*-hub; do
        [[ -e "$ns" ]] || continue
        slot=${ns#/run/netns/ocf}; slot=${slot%-hub}
        [[ "$slot" =~ ^[0-9]+$ ]] || continue
        lock=$SLOT_DIR/$slot.lock
        # flock -n succeeds only when no live harness holds the slot.
        if (exec 9>>"$lock"; flock -n 9); then
            echo "removing leftovers of slot $slot" >&2
            down "$slot"
        fi
    done
}

drop() {
    local slot=$1 from=$2; shift 2
    local to
    for to in "$@"; do
        ip -n "ocf$slot-$from" neigh replace "$(addr_of "$slot" "$to")" lladdr 02:00:00:00:de:ad dev eth0 nud permanent
    done
}

undrop() {
    local slot=$1 from=$2; shift 2
    local to
    for to in "$@"; do
        ip -n "ocf$slot-$from" neigh del "$(addr_of "$slot" "$to")" dev eth0 2>/dev/null || true
    done
}

pairs() {
    local fn=$1 slot=$2; shift 2
    while (($# >= 2)); do "$fn" "$slot" "$1" "$2"; shift 2; done
}

throttle() {
    local slot=$1 node=$2 rate=$3
    tc -n "ocf$slot-$node" qdisc replace dev eth0 root tbf rate "$rate" burst 8kbit latency 400ms
    tc -n "ocf$slot-hub" qdisc replace dev "$node" root tbf rate "$rate" burst 8kbit latency 400ms
}

heal() {
    local slot=$1 node
    for node in "${NODES[@]}"; do
        ip -n "ocf$slot-$node" neigh flush dev eth0 nud permanent 2>/dev/null || true
        tc -n "ocf$slot-$node" qdisc del dev eth0 root 2>/dev/null || true
        tc -n "ocf$slot-hub" qdisc del dev "$node" root 2>/dev/null || true
    done
}

cmd=${1:-}; shift || true
case "$cmd" in
    up) check_slot "$1"; up "$1" ;;
    down) check_slot "$1"; down "$1" ;;
    down-stale) down_stale ;;
    drop) check_slot "$1"; drop "$@" ;;
    undrop) check_slot "$1"; undrop "$@" ;;
    drop-pairs) check_slot "$1"; pairs drop "$@" ;;
    undrop-pairs) check_slot "$1"; pairs undrop "$@" ;;
    throttle) check_slot "$1"; throttle "$@" ;;
    heal) check_slot "$1"; heal "$1" ;;
    addr) check_slot "$1"; addr_of "$1" "$2" ;;
    *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
esac
