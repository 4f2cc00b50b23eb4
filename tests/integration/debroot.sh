# shellcheck shell=bash
#
# A clean Debian 12 root for the packaging tests, sourced after lib.sh:
#   pkg_skip_reason        why packaging tests do not run in this pass
#                          (empty: they run)
#   debroot_tarball        prints the path of a cached tarball of a
#                          `debootstrap --variant=minbase bookworm` root
#                          (made once per machine, under $PKG_CACHE)
#
# Environment: TB_BUILD_ROOT (meson's build folder), TB_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), TB_PACKAGING_TESTS=0 skips them
# (scripts/run-tests.sh sets it for its sanitizer pass: the packages and
# images do not depend on how the test binary was built, so they are
# tested once).

TB_DEBIAN_MIRROR=${TB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The cache outlives the build folder (CI builds in a fresh clone each
# time): /var/cache/tisbackup-tests when we may write there, else the
# build folder. TB_PKG_CACHE overrides both.
if [ -n "${TB_PKG_CACHE:-}" ]; then
	PKG_CACHE=$TB_PKG_CACHE
elif mkdir -p /var/cache/tisbackup-tests 2>/dev/null && [ -w /var/cache/tisbackup-tests ]; then
	PKG_CACHE=/var/cache/tisbackup-tests
else
	PKG_CACHE=${TB_BUILD_ROOT:-$TB_SOURCE_ROOT/build}/cache
fi

# Empty when the packaging tests should run, else the reason they do not.
pkg_skip_reason() {
	if [ "${TB_PACKAGING_TESTS:-1}" = 0 ]; then
		echo "TB_PACKAGING_TESTS=0 (run once, in the default build's pass)"
	elif [ -n "${TB_BUILD_ROOT:-}" ] && python3 -c 'import json,sys
o=[x for x in json.load(open(sys.argv[1])) if x["name"]=="b_sanitize"]
sys.exit(0 if o and o[0]["value"] != "none" else 1)' "$TB_BUILD_ROOT/meson-info/intro-buildoptions.json" 2>/dev/null; then
		echo "sanitizer build (the packaging tests run in the default build)"
	elif [ "$(id -u)" -ne 0 ]; then
		echo "needs root (chroot, dpkg, dockerd)"
	fi
}

# Print the cached minbase tarball's path, making it first if needed
# (a few minutes; serialized with flock between concurrent tests).
debroot_tarball() {
	local tar=$PKG_CACHE/bookworm-minbase.tar dir
	mkdir -p "$PKG_CACHE"
	(
		flock 9
		[ -s "$tar" ] && exit 0
		command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; exit 1; }
		dir=$(mktemp -d "$PKG_CACHE/debootstrap.XXXXXX")
		if ! debootstrap --variant=minbase bookworm "$dir" "$TB_DEBIAN_MIRROR" >"$PKG_CACHE/debootstrap.log" 2>&1; then
			tail -n 20 "$PKG_CACHE/debootstrap.log" >&2
			rm -rf "$dir"
			exit 1
		fi
		rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
		tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
		st=$?
		rm -rf "$dir"
		exit $st
	) 9>"$PKG_CACHE/.debroot.lock" || return 1
	echo "$tar"
}
