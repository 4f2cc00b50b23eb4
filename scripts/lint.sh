#!/usr/bin/env bash
# Lint: clang-format must agree with every C file, cppcheck must find
# nothing, no banned function is called (scripts/check-banned.sh), the
# include graph has no cycle (scripts/check-includes.sh). Run
# from CI and by `ninja -C build lint`.
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"
rc=0
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/tb-clang-format.log; then
	head -n 40 /tmp/tb-clang-format.log
	echo "lint: clang-format disagrees (fix with: clang-format -i \$(git ls-files '*.[ch]'))"
	rc=1
fi
if ! cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	--inline-suppr --std=c11 -D_GNU_SOURCE -DTB_VERSION='"lint"' -I src \
	--suppress=missingIncludeSystem src 2>&1; then
	echo "lint: cppcheck found problems"
	rc=1
fi
scripts/check-banned.sh "$PWD" || rc=1
scripts/check-includes.sh "$PWD" >/dev/null || { scripts/check-includes.sh "$PWD"; rc=1; }
[ $rc -eq 0 ] && echo "lint: clean (${#files[@]} files)"
exit $rc
