#!/usr/bin/env bash
# The files packaging installs besides the binary: systemd units
# (systemd-analyze verify and security), the bash completion (driven the
# way bash drives it, through compgen), the commented sample configuration
# (every driver and key, each job valid once uncommented) and the man 5
# pages. Fast and independent of how the binary was built.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
tb_require_binary
tb_tmp
DIST=$TB_SOURCE_ROOT/dist

# --- systemd units -----------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$TMPD/units"
	for u in "$DIST"/systemd/*; do
		sed "s|/usr/bin/tisbackup|$TISBACKUP|g" "$u" >"$TMPD/units/${u##*/}"
	done
	out=$(cd "$TMPD/units" && systemd-analyze verify --man=no ./tisbackup-serve.service \
		./tisbackup-worker@1.service ./tisbackup-backup.service ./tisbackup-backup.timer 2>&1)
	t_check "systemd-analyze verify: the four units" $? "$out"
	t_eq "" "$out" "systemd-analyze verify says nothing"
	for u in tisbackup-serve.service tisbackup-worker@1.service tisbackup-backup.service; do
		sec=$(cd "$TMPD/units" && systemd-analyze security --offline=true --no-pager "./$u" 2>&1)
		score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
		t_ok "$u: exposure $score <= 4.0 (systemd-analyze security)" \
			awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 4.0) }'
	done
	serve=$DIST/systemd/tisbackup-serve.service
	t_match '^KillMode=mixed$' "$(cat "$serve")" "serve: SIGTERM to serve only (its worker hands runs back)"
	t_match '^ExecReload=/bin/kill -HUP \$MAINPID$' "$(cat "$serve")" "serve: reload is SIGHUP (tests/integration/test_reload.sh)"
	t_match '^ReadWritePaths=/var/lib/tisbackup ' "$(cat "$serve")" "serve: the backup root is writable"
	t_match '^ProtectSystem=strict$' "$(cat "$serve")" "serve: ProtectSystem=strict"
	for u in tisbackup-serve.service tisbackup-worker@.service tisbackup-backup.service; do
		t_match '^RuntimeDirectory=tisbackup$' "$(cat "$DIST/systemd/$u")" \
			"$u: /run/tisbackup writable under ProtectSystem=strict (ssh connection sharing)"
	done
	timer=$(cat "$DIST/systemd/tisbackup-backup.timer")
	t_match '^Persistent=true$' "$timer" "the timer is persistent"
	next=$(systemd-analyze calendar --iterations=1 "$(sed -n 's/^OnCalendar=//p' <<<"$timer")" 2>&1)
	t_match 'Next elapse: .* 03:59:00' "$next" "the timer fires at 03:59"
else
	t_skip "systemd units" "systemd-analyze is not installed"
fi

# --- bash completion ---------------------------------------------------------
# complete_line LINE...: the candidates bash offers after the words, the
# last one being the word being completed, as the completion function
# computes them with compgen. One a line, sorted.
complete_line() {
	bash --norc --noprofile -c '
		source "$1"; shift
		spec=$(complete -p tisbackup) || exit 9
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		fn=${spec#*-F }; fn=${fn%% *}
		"$fn" tisbackup "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' complete "$DIST/bash-completion/tisbackup" "$@"
}
CONFC=$TMPD/comp.ini
printf '\xef\xbb\xbf[global]\nbackup_base_dir = /x\n\n[web1]\ntype = null\n\n[db1]\ntype = null\n\n[web2]\ntype = null\n' >"$CONFC"
t_eq "$(printf 'checknagios\ncleanup')" "$(complete_line tisbackup c)" "actions starting with c"
t_eq "$(printf 'register_existing\nrestore\nretryfailed')" "$(complete_line tisbackup -v re)" "actions after an option"
all=$(complete_line tisbackup --)
t_match '^--gui-config$' "$all" "long options"
t_match '^--dry-run$' "$all" "--dry-run offered"
t_eq "$(printf 'web1\nweb2')" "$(complete_line tisbackup -c "$CONFC" -s we)" "-s completes the jobs of -c's file"
t_eq "$(printf 'db1\nweb1\nweb2')" "$(complete_line tisbackup --config "$CONFC" backup --sections '')" "--sections: every job, [global] left out"
t_eq "$(printf 'web1,db1')" "$(complete_line tisbackup -c "$CONFC" -s web1,d)" "-s completes the name after the last comma"
t_eq "$(printf 'debug')" "$(complete_line tisbackup -l d)" "-l levels"
t_eq "$(printf 'admin')" "$(complete_line tisbackup user add bob --role a)" "--role values"
t_eq "$(printf 'journal\njson')" "$(complete_line tisbackup --log-format j)" "--log-format values"
t_eq "$(printf 'add')" "$(complete_line tisbackup user a)" "user subcommands"
t_eq "" "$(complete_line tisbackup backup b)" "nothing after the action"
mkdir -p "$TMPD/dirs/sub1"
: >"$TMPD/dirs/file1"
t_eq "$TMPD/dirs/sub1" "$(complete_line tisbackup -b "$TMPD/dirs/s")" "-b completes folders"
if [ -r /usr/share/bash-completion/bash_completion ]; then
	out=$(bash --norc --noprofile -c '
		source /usr/share/bash-completion/bash_completion
		source "$1"
		COMP_WORDS=(tisbackup -c "$2" -s w); COMP_CWORD=4; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		_tisbackup tisbackup w -s
		printf "%s\n" "${COMPREPLY[@]}" | sort' x "$DIST/bash-completion/tisbackup" "$CONFC" 2>&1)
	t_eq "$(printf 'web1\nweb2')" "$out" "with bash-completion loaded (_init_completion)"
else
	t_skip "with bash-completion loaded" "bash-completion is not installed"
fi

# --- the sample configuration ------------------------------------------------
SAMPLE=$TB_SOURCE_ROOT/samples/tisbackup-config.ini
drivers=$("$TISBACKUP" listdrivers | sed -n 's/^\([a-z0-9+-]*\) : .*/\1/p')
types=$(sed -n 's/^;\?type = //p' "$SAMPLE" | sort -u)
t_eq "$(sort <<<"$drivers")" "$types" "the sample has a job of every driver"
missing=
for k in $("$TISBACKUP" listdrivers | sed -n 's/.*params : //p' | tr ',' '\n' | sort -u); do
	grep -Eq "^;?$k =( |$)" "$SAMPLE" || missing="$missing $k"
done
t_eq "" "$missing" "every key of listdrivers appears in the sample"
t_ok "the sample as shipped is valid (no job)" "$TISBACKUP" -c "$SAMPLE" -b "$TMPD/b0" -d backup
ssh-keygen -q -t ed25519 -N '' -f "$TMPD/key" >/dev/null
printf 'x\n' >"$TMPD/pass"
chmod 600 "$TMPD/pass"
sed -e 's/^;\(\[\|[a-z_]* = \)/\1/' -e "s|/root/.ssh/id_ed25519|$TMPD/key|" -e "s|/etc/tis/nas-share.pass|$TMPD/pass|" -e "s|/etc/tis/core-sw1.pw|$TMPD/pass|" \
	-e "s|/etc/tis/xcp1.pass|$TMPD/pass|" -e "s|/etc/tis/esx1.pass|$TMPD/pass|" \
	-e "s|/etc/tis/xcp1-ca.pem|$TMPD/pass|" -e "s|/etc/tis/esx1-ca.pem|$TMPD/pass|" \
	-e "s|/root/.ssh/known_hosts|$TMPD/kh|" -e "s|/var/lib/tisbackup|$TMPD/b1|" "$SAMPLE" >"$TMPD/all.ini"
tb_run -c "$TMPD/all.ini" -d backup
t_rc 0 "every job of the sample uncommented is valid (dry run)"
t_eq "$(sort <<<"$drivers")" "$(sed -n 's/^type = //p' "$TMPD/all.ini" | sort -u)" \
	"a job of every driver once uncommented (two switches: a password file and a password)"

# --- logrotate ----------------------------------------------------------------
if command -v logrotate >/dev/null; then
	# The shipped file with its paths moved under $TMPD, checked (-d) then forced.
	mkdir -p "$TMPD/varlog/tisbackup"
	sed "s|/var/log/|$TMPD/varlog/|g" "$DIST/logrotate.tisbackup" >"$TMPD/logrotate.conf"
	echo "a line" >"$TMPD/varlog/tisbackup-cron.log"
	echo "a line" >"$TMPD/varlog/tisbackup/serve.log"
	out=$(logrotate -d -s "$TMPD/logrotate.state" "$TMPD/logrotate.conf" 2>&1)
	t_check "logrotate -d accepts the shipped file" $? "$out"
	t_nomatch '^error:' "$out" "logrotate -d reports no error"
	out=$(logrotate -f -s "$TMPD/logrotate.state" "$TMPD/logrotate.conf" 2>&1)
	t_check "logrotate -f rotates with it" $? "$out"
	t_ok "the cron log was rotated (copytruncate: .1 kept, the file emptied)" \
		test -s "$TMPD/varlog/tisbackup-cron.log.1" -a ! -s "$TMPD/varlog/tisbackup-cron.log"
	t_ok "the logs of /var/log/tisbackup/ were rotated" test -s "$TMPD/varlog/tisbackup/serve.log.1"
else
	t_skip "logrotate" "logrotate is not installed (scripts/setup-deps.sh installs it)"
fi

# --- man pages ----------------------------------------------------------------
if command -v man >/dev/null; then
	for p in tisbackup.1 tisbackup-config.5 tisbackup_gui.ini.5; do
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$TB_SOURCE_ROOT/man/$p" 2>&1 >/dev/null)
		t_eq "" "$w" "man $p: no groff warnings"
	done
	page=$(MANWIDTH=200 man -l "$TB_SOURCE_ROOT/man/tisbackup-config.5" 2>/dev/null)
	missing=
	for k in $("$TISBACKUP" listdrivers | sed -n 's/.*params : //p' | tr ',' '\n' | sort -u); do
		grep -qw -- "$k" <<<"$page" || missing="$missing $k"
	done
	t_eq "" "$missing" "tisbackup-config(5) names every key of listdrivers"
	page=$(MANWIDTH=200 man -l "$TB_SOURCE_ROOT/man/tisbackup_gui.ini.5" 2>/dev/null)
	for s in general web auth queue export alerts scheduler; do
		t_match "^ *\\[$s\\]" "$page" "tisbackup_gui.ini(5) has [$s]"
	done
else
	t_skip "man pages" "man is not installed"
fi

t_done
