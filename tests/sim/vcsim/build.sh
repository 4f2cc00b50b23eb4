#!/usr/bin/env bash
# Build vcsimx (tests/sim/vcsim/main.go) offline from Debian's golang-go and
# golang-github-vmware-govmomi-dev in GOPATH mode, into BUILD_DIR/vcsimx.
# Rebuilds only when main.go is newer than the binary. The Go build cache
# lives in BUILD_DIR too, so a rebuild after an edit takes seconds.
# Usage: tests/sim/vcsim/build.sh BUILD_DIR   (prints the binary's path)
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:?usage: build.sh BUILD_DIR}" && pwd)
bin=$out/vcsimx
if [ -x "$bin" ] && [ "$bin" -nt "$src/main.go" ]; then
	echo "$bin"
	exit 0
fi
command -v go >/dev/null || { echo "build.sh: go missing: apt-get install golang-go golang-github-vmware-govmomi-dev" >&2; exit 1; }
[ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] ||
	{ echo "build.sh: govmomi missing: apt-get install golang-github-vmware-govmomi-dev" >&2; exit 1; }
gp=$out/vcsim-gopath
mkdir -p "$gp/src"
ln -sfn "$src" "$gp/src/vcsimx"
# flock: parallel tests build it once
exec 9>"$out/vcsimx.lock"
flock 9
if [ -x "$bin" ] && [ "$bin" -nt "$src/main.go" ]; then
	echo "$bin"
	exit 0
fi
GO111MODULE=off GOPATH="$gp:/usr/share/gocode" GOCACHE="$out/vcsim-gocache" \
	go build -p 2 -o "$bin.tmp" vcsimx >&2
mv "$bin.tmp" "$bin"
echo "$bin"
