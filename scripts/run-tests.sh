#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs, builds with
# -Werror and coverage, runs unit, fuzz-corpus and integration tests, runs
# them again under AddressSanitizer + UndefinedBehaviorSanitizer, runs the
# linters, prints a coverage summary, and ends with "N passed, N failed".
# Usage: scripts/run-tests.sh [--quick]   (--quick: skip the sanitizer pass)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

results=()   # "build-dir" entries whose testlog.json we count
fail_extra=0
pass_extra=0

run_suite() { # name builddir "meson-test-options" meson-options...
	local name=$1 dir=$2 test_opts=$3
	shift 3
	echo "=== $name: configure and build ($dir)"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >"$dir.setup.log" 2>&1 || {
			cat "$dir.setup.log"; echo "=== $name: configure FAILED"; fail_extra=$((fail_extra + 1)); return; }
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		cat "$dir.build.log"
		echo "=== $name: build FAILED"
		fail_extra=$((fail_extra + 1))
		return
	fi
	echo "=== $name: tests"
	# shellcheck disable=SC2086 # test_opts is a list of plain words
	meson test -C "$dir" --print-errorlogs --num-processes 2 $test_opts || true
	results+=("$dir")
}

rm -rf build-test/meson-logs build-asan/meson-logs
run_suite "default build (coverage)" build-test "" -Db_coverage=true
if [ $quick -eq 0 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_suite "ASan+UBSan build (slow end-to-end tests run once, above)" build-asan "--no-suite e2e" \
			-Db_sanitize=address,undefined -Db_lundef=false
fi

echo "=== lint"
if scripts/lint.sh "$root"; then pass_extra=$((pass_extra + 1)); else fail_extra=$((fail_extra + 1)); fi

if [ -d build-test ] && command -v gcovr >/dev/null; then
	echo "=== coverage (gcovr, src/ only; HTML in build-test/coverage.html)"
	gcovr -r "$root" --filter "$root/src/" --object-directory build-test \
		--html-details build-test/coverage.html --print-summary 2>/dev/null | tail -n 3 || true
fi

# Count TAP test points (each unit test case, each integration check).
/usr/bin/python3 - "$pass_extra" "$fail_extra" "${results[@]}" <<'PY'
import json, re, sys
passed, failed = int(sys.argv[1]), int(sys.argv[2])
for d in sys.argv[3:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for l in lines:
        t = json.loads(l)
        out = t.get("stdout") or ""
        oks = len(re.findall(r"^ok \d+", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        if t.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
            bad = 1   # crashed, timed out, or a bad plan: count the test itself
        if t.get("result") == "SKIP":
            print(f"# skipped: {t['name']}")
        passed += oks
        failed += bad
        if bad:
            print(f"# FAILED: {d}: {t['name']} ({t.get('result')})")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
