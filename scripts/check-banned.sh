#!/usr/bin/env bash
# Banned functions: calls to them in the C files of src/ tests/ tools/
# bench/ fail the lint (comments and string literals are not looked at).
#   everywhere: sprintf vsprintf strcpy strcat strncpy strncat (unbounded
#     or silently truncating: use snprintf, xasprintf, memcpy with a
#     length, util/buf.h), atoi atol atoll (no error: use strtol and check
#     end/errno), gets, strtok (hidden state: strtok_r, strsep), tmpnam
#     mktemp (races: mkstemp, mkdtemp);
#   in src/ only: system popen (processes only through spawn.c, argv
#     arrays, no shell; tests may use a shell to prepare fixtures).
# Usage: scripts/check-banned.sh [ROOT]; prints FILE:LINE: name(...) per
# use and exits 1 when there is any.
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
everywhere='sprintf|vsprintf|strcpy|strcat|strncpy|strncat|atoi|atol|atoll|gets|strtok|tmpnam|mktemp'
src_only='system|popen'
mapfile -t files < <(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]' 'bench/*.[ch]' 2>/dev/null ||
	find src tests tools bench -name '*.[ch]' 2>/dev/null)
[ ${#files[@]} -gt 0 ] || { echo "check-banned: no C files under $PWD"; exit 2; }
# Blank out comments and string/char literals (newlines kept, so line
# numbers stay right), then look for NAME( not preceded by an identifier
# character, '.' or '->' (a member named like a banned function is fine).
perl -e '
	my ($every, $srconly) = (shift, shift);
	my $bad = 0;
	for my $f (@ARGV) {
		open(my $fh, "<", $f) or die "$f: $!";
		local $/;
		my $t = <$fh>;
		$t =~ s{/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27}
		       { my $m = $&; $m =~ s/[^\n]/ /g; $m }gse;
		my $re = $f =~ m{^src/} ? qr/$every|$srconly/ : qr/$every/;
		my $n = 0;
		for my $line (split /\n/, $t, -1) {
			$n++;
			while ($line =~ /(?<![\w.>])($re)\s*\(/g) {
				print "$f:$n: $1() is banned\n";
				$bad = 1;
			}
		}
	}
	exit $bad;
' "$everywhere" "$src_only" "${files[@]}"
rc=$?
[ $rc -eq 0 ] || echo "check-banned: banned functions used (see scripts/check-banned.sh for what to use instead)"
exit $rc
