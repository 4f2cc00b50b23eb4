#!/usr/bin/env bash
#
# A build that is up to date has nothing to do: `ninja` right after a
# build (meson test builds first) says "no work to do", and the embedded
# web assets (static_files.c, tools/embed.c) are generated again only when
# one of their inputs changed: its depfile names the folder src/web/static
# (a file added or removed) and every file in it. Read-only: ninja -n and
# ninja -t deps, never a build, so it runs beside other tests.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require ninja
BUILD=${TB_BUILD_ROOT:-}
[ -n "$BUILD" ] && [ -f "$BUILD/build.ninja" ] || t_bail "TB_BUILD_ROOT is not a build folder (run through meson test)"
STATIC=$TB_SOURCE_ROOT/src/web/static

out=$(ninja -C "$BUILD" -n static_files.c 2>&1)
t_match 'no work to do' "$out" "static_files.c is not generated again when nothing changed"
out=$(ninja -C "$BUILD" -n 2>&1)
t_match 'no work to do' "$out" "the whole build has no work to do right after a build"
[[ $out == *'no work to do'* ]] || t_diag "$(ninja -C "$BUILD" -n -d explain 2>&1 | head -n 20)"

# The inputs ninja recorded for static_files.c: the folder and each file.
deps=$(ninja -C "$BUILD" -t deps static_files.c 2>&1)
t_match 'static_files.c: #deps [0-9]+.*VALID' "$deps" "static_files.c has recorded inputs (its depfile)"
t_ok "the folder is an input (a file added or removed regenerates)" \
	grep -qxF "    $STATIC" <<<"$deps"
missing=
for f in "$STATIC"/*; do
	[ -f "$f" ] || continue
	grep -qxF "    $f" <<<"$deps" || missing="$missing ${f##*/}"
done
t_eq "" "$missing" "every file of src/web/static is an input of static_files.c"

t_done
