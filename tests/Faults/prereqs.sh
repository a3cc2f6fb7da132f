#!/usr/bin/env bash
# Debian packages the fault harness needs, installed through apt-get when run as root (sourced by
# tests/run.sh and tests/Faults/run.sh; never install them by hand).
#   iproute2  ip netns / ip link / ip neigh / tc
#   libfaketime  LD_PRELOAD library that skews a silo's wall clock
faults_prereqs() {
    local missing=()
    command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || missing+=(iproute2)
    faults_libfaketime >/dev/null || missing+=(libfaketime)
    ((${#missing[@]})) || return 0
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        printf '[faults] installing: apt-get install -y %s\n' "${missing[*]}" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        printf '[faults] missing packages: %s (sudo apt-get install -y %s); the fault tests need root\n' "${missing[*]}" "${missing[*]}" >&2
        return 1
    fi
}

# Path of libfaketime.so.1 (the multi-threaded one), or fail.
faults_libfaketime() {
    local f
    for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
        [[ -e "$f" ]] && { printf '%s\n' "$f"; return 0; }
    done
    return 1
}
