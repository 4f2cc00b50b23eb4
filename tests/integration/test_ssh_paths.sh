#!/usr/bin/env bash
#
# Key and known_hosts file names that ssh would rewrite: a '%' (ssh
# expands %d, %u, %h... in IdentityFile and UserKnownHostsFile) reaches
# ssh escaped and names the file as written; "${" (an environment variable
# for ssh, with no escape) is refused at config check, naming the key.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

mkdir -p "$TMPD/src" "$TMPD/keys/a b"
echo data >"$TMPD/src/file"
# Names ssh would expand: %d is the home folder, %u the user, %% a '%'.
KEY="$TMPD/keys/a b/k%dx%u%%"
KH="$TMPD/keys/kh%d %h"
cp "$CLIENT_KEY" "$KEY"
chmod 600 "$KEY"
cfg_global "$CONF"
cfg_job "$CONF" pct "$TMPD/src" "private_key = $KEY" "known_hosts_file = $KH"

tb_run -c "$CONF" backup
t_rc 0 "a key named with %d and %u: backup exits 0"
t_eq "pct|OK" "$(last_row pct 'backup_name,status')" "a key named with %d and %u: the row is OK"
t_ok "the known_hosts file named with %d and %h is the one ssh wrote" test -s "$KH"
t_ok "no file under the expanded name" test ! -e "$TMPD/keys/kh$HOME 127.0.0.1"
t_nomatch 'not accessible|no such identity' "$T_ERR" "ssh found the key under its own name"

for key in private_key known_hosts_file; do
	cfg_global "$TMPD/bad.ini"
	# shellcheck disable=SC2016 # a literal ${HOME}: what ssh would expand
	cfg_job "$TMPD/bad.ini" dollar "$TMPD/src" "$key = $TMPD/keys/\${HOME}/k"
	tb_run -c "$TMPD/bad.ini" backup
	t_rc 3 "$key with \${: a configuration error (exit 3)"
	t_match "bad\.ini:[0-9]+: \[dollar\] $key: .* holds '\\$\\{'" "$T_ERR" \
		"$key with \${: the message names the file, line, section and key"
done

t_done
