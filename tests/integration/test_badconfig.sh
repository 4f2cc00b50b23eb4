#!/usr/bin/env bash
#
# Invalid configurations: exit code 3, an error line naming FILE:LINE,
# the section and the key. A syntax error or a bad [global] writes nothing
# (no backup_base_dir, no log/, no catalog); a bad job section (issue 17:
# each job is validated alone) writes only that job's ERROR row saying why,
# and checknagios reports it CRITICAL. Shell metacharacters in values never
# run anything.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require ssh-keygen sshd rsync
tb_tmp

ssh-keygen -q -t ed25519 -N '' -f "$TMPD/key" || t_bail "ssh-keygen failed"
# Read by cfg_job; nothing listens on the port.
export CLIENT_KEY=$TMPD/key KNOWN_HOSTS=$TMPD/known_hosts SSHD_PORT=2222
mkdir -p "$TMPD/src"

N=0
# new_case: a fresh config path and a fresh (absent) backup_base_dir.
new_case() {
	N=$((N + 1))
	BASE=$TMPD/base_$N
	CONF=$TMPD/case_$N.ini
}

# line_of FILE FIXED-STRING: line number of the first line containing it.
line_of() {
	grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1
}

# ere_quote STRING: STRING with ERE metacharacters escaped.
ere_quote() {
	printf '%s' "$1" | sed 's#[][\.*^$+?(){}|]#\\&#g'
}

# expect_job_error DESC REGEX [ACTION...]: a problem in job srv1's section:
# run ACTION (backup by default) on $CONF and check exit 3 and an error
# line matching REGEX; backup records srv1 as ERROR with that reason and
# no backup; checknagios says CRITICAL for srv1 with the reason (exit 2).
expect_job_error() {
	local desc=$1 re=$2
	shift 2
	[ $# -eq 0 ] && set -- backup
	tb_run -c "$CONF" "$@"
	if [ "$1" = checknagios ]; then
		t_rc 2 "$desc: CRITICAL (exit 2)"
		t_match "^\[srv1\]:CRITICAL : srv1 cannot run: .*${re#^}" "$T_OUT" \
			"$desc: CRITICAL names file:line, section and key"
		return
	fi
	t_rc 3 "$desc: exit code 3"
	t_match "$re" "$T_ERR" "$desc: error names file:line, section and key"
	if [ "$1" = backup ]; then
		t_eq "ERROR" "$(last_row srv1 status)" "$desc: srv1 recorded as ERROR"
		t_match "cannot run: .*${re#^(tisbackup: )?}" "$(last_row srv1 log)" \
			"$desc: the ERROR row says why"
	fi
	t_eq "" "$(ls "$BASE/srv1" 2>/dev/null)" "$desc: no backup made"
}

# expect_cfg_error DESC REGEX [ACTION...]: run ACTION (backup by default)
# on $CONF and check exit 3, an error line matching REGEX, nothing written.
expect_cfg_error() {
	local desc=$1 re=$2
	shift 2
	[ $# -eq 0 ] && set -- backup
	tb_run -c "$CONF" "$@"
	t_rc 3 "$desc: exit code 3"
	if [ "$1" = checknagios ]; then
		# A monitoring check reports on stdout (as UNKNOWN, which is also 3).
		t_match "$re" "$T_OUT"$'\n'"$T_ERR" "$desc: error names file:line, section and key"
	else
		t_match "$re" "$T_ERR" "$desc: error names file:line, section and key"
	fi
	t_ok "$desc: backup_base_dir not created" test ! -e "$BASE"
}

CQ=$(ere_quote "$TMPD")

# ---- unknown key in a job section
new_case
make_config "$CONF" srv1 "$TMPD/src" "frobnicate = 1"
L=$(line_of "$CONF" frobnicate)
expect_job_error "unknown key" "^(tisbackup: )?$CQ/case_$N\.ini:$L: \[srv1\] frobnicate: "

# The same invalid config for every action that reads it.
for act in dumpstat checknagios; do
	expect_job_error "unknown key ($act)" "case_$N\.ini:$L: \[srv1\] frobnicate: " "$act"
done

# ---- missing required key
new_case
cfg_global "$CONF"
printf '[srv1]\ntype = rsync+ssh\nserver_name = 127.0.0.1\nprivate_key = %s\n' "$CLIENT_KEY" >>"$CONF"
L=$(line_of "$CONF" '[srv1]')
expect_job_error "missing remote_dir" "^(tisbackup: )?$CQ/case_$N\.ini:[0-9]+: \[srv1\] remote_dir: "
t_match "case_$N\.ini:$L: \[srv1\] remote_dir: " "$T_ERR" "missing key: the line is the section's header"

# ---- missing type / unknown type
new_case
cfg_global "$CONF"
printf '[srv1]\nserver_name = 127.0.0.1\n' >>"$CONF"
expect_job_error "missing type" "case_$N\.ini:[0-9]+: \[srv1\] type: "
new_case
cfg_global "$CONF"
printf '[srv1]\ntype = rsync+ftp\nserver_name = 127.0.0.1\n' >>"$CONF"
L=$(line_of "$CONF" 'rsync+ftp')
expect_job_error "unknown driver type" "case_$N\.ini:$L: \[srv1\] type: .*rsync\+ftp"

# ---- bad section name
new_case
make_config "$CONF" srv1 "$TMPD/src"
printf '[bad name!]\ntype = null\nserver_name = x\n' >>"$CONF"
L=$(line_of "$CONF" '[bad name!]')
expect_cfg_error "bad section name" "^(tisbackup: )?$CQ/case_$N\.ini:$L: .*bad name!"

# ---- malformed exclude_list (the original would eval() it)
new_case
make_config "$CONF" srv1 "$TMPD/src" 'exclude_list = "/proc/**,"/sys"'
L=$(line_of "$CONF" exclude_list)
expect_job_error "malformed exclude_list" "^(tisbackup: )?$CQ/case_$N\.ini:$L: \[srv1\] exclude_list: "

new_case
make_config "$CONF" srv1 "$TMPD/src" "exclude_list = __import__('os').system('touch $TMPD/PWNED_eval')"
expect_job_error "python code in exclude_list" "case_$N\.ini:[0-9]+: \[srv1\] exclude_list: "
t_ok "python code in exclude_list ran nothing" test ! -e "$TMPD/PWNED_eval"

# ---- non-numeric values
new_case
cfg_global "$CONF"
sed -i 's/^backup_retention_time = .*/backup_retention_time = thirty/' "$CONF"
cfg_job "$CONF" srv1 "$TMPD/src"
L=$(line_of "$CONF" thirty)
expect_cfg_error "non-numeric backup_retention_time in [global]" \
	"^(tisbackup: )?$CQ/case_$N\.ini:$L: \[(global|srv1)\] backup_retention_time: "

new_case
make_config "$CONF" srv1 "$TMPD/src" "maximum_backup_age = 12h"
L=$(line_of "$CONF" 12h)
expect_job_error "non-numeric maximum_backup_age in a job" \
	"^(tisbackup: )?$CQ/case_$N\.ini:$L: \[srv1\] maximum_backup_age: "

new_case
make_config "$CONF" srv1 "$TMPD/src" "bwlimit = fast"
L=$(line_of "$CONF" fast)
expect_job_error "non-numeric bwlimit" "case_$N\.ini:$L: \[srv1\] bwlimit: "

new_case
make_config "$CONF" srv1 "$TMPD/src" "compression = perhaps"
L=$(line_of "$CONF" perhaps)
expect_job_error "non-boolean compression" "case_$N\.ini:$L: \[srv1\] compression: "

new_case
make_config "$CONF" srv1 "$TMPD/src" "ssh_port = 70000"
L=$(line_of "$CONF" 70000)
expect_job_error "ssh_port out of range" "case_$N\.ini:$L: \[srv1\] ssh_port: "

# ---- missing [global] backup_base_dir
new_case
printf '[global]\nbackup_retention_time = 30\nmaximum_backup_age = 30\n\n' >"$CONF"
cfg_job "$CONF" srv1 "$TMPD/src"
tb_run -c "$CONF" backup
t_rc 3 "missing backup_base_dir: exit code 3"
t_match "case_$N\.ini:[0-9]+: \[global\] backup_base_dir: " "$T_ERR" "missing backup_base_dir is named"

# ---- several problems are all reported
new_case
make_config "$CONF" srv1 "$TMPD/src" "frobnicate = 1"
cfg_job "$CONF" srv2 "$TMPD/src" "bwlimit = fast"
expect_job_error "two problems (first)" "case_$N\.ini:[0-9]+: \[srv1\] frobnicate: "
t_match "case_$N\.ini:[0-9]+: \[srv2\] bwlimit: " "$T_ERR" "two problems: the second is reported too"

# ---- missing config file
new_case
tb_run -c "$TMPD/no/such/config.ini" backup
t_rc 3 "missing config file: exit code 3"
t_match "$CQ/no/such/config\.ini" "$T_ERR" "missing config file: the path is named"
tb_run -c "$TMPD" backup
t_rc 3 "config path is a directory: exit code 3"

# ---- shell metacharacters in an invalid config run nothing
new_case
cfg_global "$CONF"
cfg_job "$CONF" srv1 "/tmp/x; touch $TMPD/PWNED_rd; \$(touch $TMPD/PWNED_rd2) \`touch $TMPD/PWNED_rd3\`" \
	"preexec = touch $TMPD/PWNED_pre" \
	"postexec = touch $TMPD/PWNED_post" \
	"description = \$(touch $TMPD/PWNED_desc)" \
	"unknown_key = 1"
expect_job_error "metacharacters + unknown key" "case_$N\.ini:[0-9]+: \[srv1\] unknown_key: "
t_ok "metacharacters: no marker file created" no_markers
t_eq "" "$(find "$TMPD" -name 'PWNED*' 2>/dev/null)" "metacharacters: no PWNED file anywhere under the temp dir"

# ---- private key that cannot be read (root reads anything: use a missing
# path, then a directory)
for what in missing directory; do
	new_case
	if [ $what = missing ]; then key=$TMPD/no-such-key; else key=$TMPD/keydir; mkdir -p "$key"; fi
	cfg_global "$CONF"
	cfg_job "$CONF" srv1 "$TMPD/src" "private_key = $key"
	L=$(line_of "$CONF" private_key)
	expect_job_error "private_key $what" "case_$N\.ini:$L: \[srv1\] private_key: .*$(ere_quote "$key")"
	t_eq "BACKUP" "$(last_row srv1 TYPE)" "private_key $what: the ERROR row is a BACKUP run"
done

# ---- a password in a file every user can read: a warning naming it, the run goes on
new_case
cfg_global "$CONF"
: >"$TMPD/pw_key"
chmod 600 "$TMPD/pw_key"
job_section "$CONF" db1 "type = mysql+ssh" "server_name = 127.0.0.1" "private_key = $TMPD/pw_key" \
	"db_user = root" "db_passwd = s3cret"
chmod 644 "$CONF"
L=$(line_of "$CONF" db_passwd)
tb_run -c "$CONF" -d backup
t_rc 0 "db_passwd in a 0644 file: the dry run still exits 0"
t_match "warning: .*case_$N\.ini:$L: \[db1\] db_passwd: a password in a file every user can read \(mode 0644\): chmod 600" \
	"$T_ERR" "db_passwd in a 0644 file: a warning says which key and what to do"
t_nomatch 's3cret' "$T_ERR$T_OUT" "db_passwd in a 0644 file: the warning does not print the password"
chmod 640 "$CONF"
tb_run -c "$CONF" -d backup
t_nomatch 'every user can read' "$T_ERR" "db_passwd in a 0640 file: no warning"

# ---- a VALID config whose remote_dir is full of metacharacters backs up
sshd_start
new_case
# (';' and '#' right after white space would start an inline comment)
WEIRD="$TMPD/src \$(cd;touch tb_pwned_$TB_ID);touch tb_pwned_$TB_ID;\`cd;touch tb_pwned_$TB_ID\` 'q\" &x|y#z"
make_tree "$WEIRD"
make_config "$CONF" weird "$WEIRD" "description = \$(cd;touch tb_pwned_$TB_ID); \`touch tb_pwned_$TB_ID\`"
tb_run -c "$CONF" backup
t_rc 0 "metacharacters in a valid remote_dir: backup exits 0"
snap=$(snapshots "$BASE/weird" | tail -n 1)
t_match "$STAMP_RE" "$snap" "metacharacters in remote_dir: a snapshot exists"
if [ -n "$snap" ]; then
	t_ok "metacharacters in remote_dir: snapshot equals the source" tree_equal "$WEIRD" "$BASE/weird/$snap"
else
	t_fail "metacharacters in remote_dir: snapshot equals the source" "no snapshot"
fi
t_ok "metacharacters in remote_dir: no injected command ran" no_markers
t_eq "OK" "$(csql "select status from stats where backup_name='weird' order by rowid desc limit 1")" \
	"metacharacters in remote_dir: catalog row is OK"

t_done
