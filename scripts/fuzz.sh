#!/usr/bin/env bash
#
# Fuzz every parser for real: build the libFuzzer harnesses of tests/fuzz/
# with clang (-Dfuzz=true, ASan+UBSan, the core library instrumented too)
# in build-fuzz/, then run each for SECONDS (default 60) on a scratch copy
# of its seed corpus (tests/fuzz/corpus/NAME/ is only read). Prints one
# line per harness: executions, executions per second, new corpus inputs
# and crashes; a crash's input is kept in build-fuzz/crashes/ (add it to
# the corpus once fixed). Exit status 1 when a harness crashed.
#
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]   (default: every tests/fuzz/fuzz_*.c)

set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
build=$root/build-fuzz
cd "$root" || exit 1

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { echo "fuzz.sh: the build failed" >&2; exit 1; }

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for f in tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		names+=("${f%.c}")
	done
fi

mkdir -p "$build/crashes"
work=$(mktemp -d /tmp/tb-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
printf '%-14s %12s %10s %8s %8s\n' harness execs execs/s new crashes
for n in "${names[@]}"; do
	exe=$build/tests/fuzz_$n
	if [ ! -x "$exe" ]; then
		printf '%-14s not built (listed in tests/meson.build fuzz_targets?)\n' "$n"
		rc=1
		continue
	fi
	mkdir -p "$work/$n"
	before=$(find "$work/$n" -type f | wc -l)
	"$exe" -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=3 \
		-artifact_prefix="$build/crashes/$n-" "$work/$n" "tests/fuzz/corpus/$n" \
		>"$work/$n.log" 2>&1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$n.log" | tail -n 1)
	after=$(find "$work/$n" -type f | wc -l)
	crashes=$(grep -c '^==[0-9]*==ERROR\|runtime error:\|^SUMMARY: libFuzzer' "$work/$n.log")
	printf '%-14s %12s %10s %8s %8s\n' "$n" "${execs:-?}" \
		"$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$((after - before))" "$crashes"
	if [ "$crashes" != 0 ]; then
		rc=1
		grep -m 5 'ERROR\|runtime error:\|SUMMARY' "$work/$n.log" | sed 's/^/    /'
	fi
done
exit $rc
