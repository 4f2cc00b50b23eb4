#!/usr/bin/env bash
# Layering: the module-level include graph of src/ has no cycle, and
# src/util/ includes nothing outside src/util/.
# A module is a .c file under src/ with its header (src/ssh.c and
# src/ssh.h are the module "ssh"); an edge A -> B is an #include "B.h" in
# a file of A, resolved against src/ as the build's include_directories
# does. A header with no .c of its own (an interface that backends
# implement, such as catalog_backend.h) is not a module: including it
# counts as including what it includes. A module including its own
# header is no edge.
# Usage: scripts/check-includes.sh [ROOT]; prints each problem (every
# cycle as "a -> b -> a") and exits 1 when there is any.
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root/src" || exit 2
mapfile -t files < <(git ls-files '*.[ch]' 2>/dev/null || find . -name '*.[ch]' | sed 's|^\./||')
[ ${#files[@]} -gt 0 ] || { echo "check-includes: no C files under $PWD"; exit 2; }
perl -e '
	my (%inc, %isc, %edge, $bad);
	for my $f (@ARGV) {
		open(my $fh, "<", $f) or die "$f: $!";
		(my $m = $f) =~ s/\.[ch]$//;
		$isc{$m} = 1 if $f =~ /\.c$/;
		while (<$fh>) {
			next unless /^\s*#\s*include\s*"([^"]+)"/;
			next unless -e $1; # generated or outside src/
			(my $to = $1) =~ s/\.[ch]$//;
			push @{$inc{$m}}, $to;
			if ($m =~ m{^util/} && $to !~ m{^util/}) {
				print "check-includes: src/$f includes \"$1\" (util/ includes nothing outside util/)\n";
				$bad = 1;
			}
		}
	}
	# The modules a module depends on, through header-only interfaces.
	sub deps {
		my ($m, $seen) = @_;
		my @out;
		for my $to (@{$inc{$m} || []}) {
			next if $seen->{$to}++;
			push @out, $isc{$to} ? $to : deps($to, $seen);
		}
		return @out;
	}
	for my $m (sort keys %isc) {
		$edge{$m}{$_} = 1 for grep { $_ ne $m } deps($m, { $m => 1 });
	}
	# Depth-first search; a back edge closes a cycle.
	my (%state, @stack, %reported);
	sub visit {
		my $m = shift;
		$state{$m} = 1;
		push @stack, $m;
		for my $to (sort keys %{$edge{$m} || {}}) {
			if (($state{$to} || 0) == 1) {
				my @cyc = @stack[(grep { $stack[$_] eq $to } 0 .. $#stack)[0] .. $#stack];
				my $key = join " ", sort @cyc;
				next if $reported{$key}++;
				print "check-includes: include cycle: ", join(" -> ", @cyc, $to), "\n";
				$bad = 1;
			} elsif (!$state{$to}) {
				visit($to);
			}
		}
		pop @stack;
		$state{$m} = 2;
	}
	visit($_) for grep { !$state{$_} } sort keys %isc;
	printf "check-includes: clean (%d modules)\n", scalar keys %isc unless $bad;
	exit($bad ? 1 : 0);
' "${files[@]}"
