#!/usr/bin/env bash
#
# Idle CPU of the scheduler thread of `serve` (bench_scheduler.c): 200
# jobs with daily backup and cleanup schedules, none due, over 30 s.
# Goal: no busy polling, < 0.1 % of a core. Prints figures; not a test.
#
# Usage: bench/bench_scheduler.sh [JOBS] [SECONDS]   (BUILD=dir, default build)

set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${BUILD:-$here/../build}
ninja -C "$build" bench_scheduler >/dev/null
"$build/bench_scheduler" "${1:-200}" "${2:-30}" 2>/dev/null
