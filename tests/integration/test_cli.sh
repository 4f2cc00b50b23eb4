#!/usr/bin/env bash
#
# The command-line contract: --help, --version, listdrivers without a
# config, exit codes of usage errors (2), options before and after the
# action.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_tmp

# A valid config that needs no server: a null job and an rsync+ssh job
# whose key exists (nothing here connects anywhere).
ssh-keygen -q -t ed25519 -N '' -f "$TMPD/key" || t_bail "ssh-keygen failed"
# Read by cfg_job; nothing listens on the port.
export CLIENT_KEY=$TMPD/key KNOWN_HOSTS=$TMPD/known_hosts SSHD_PORT=2222
cfg_global "$CONF"
cfg_job "$CONF" srv1 /srv/data
cfg_null "$CONF" nothing

# ---- --help
tb_run --help
t_rc 0 "--help exits 0"
help="$T_OUT"$'\n'"$T_ERR"
t_match '.' "$T_OUT" "--help prints to stdout"
for a in backup cleanup checknagios dumpstat retryfailed listdrivers exportbackup register_existing; do
	t_match "(^|[^a-z_])$a([^a-z_]|$)" "$help" "--help mentions action $a"
done
for o in -c --config -d --dry-run -v --verbose -s --sections -l --loglevel -n --len \
	-b --backupdir -x --exportdir --version -h --help; do
	t_match "(^|[^-a-z])$o([^-a-z]|$)" "$help" "--help mentions option $o"
done
tb_run -h
t_rc 0 "-h exits 0"

# ---- --version
tb_run --version
t_rc 0 "--version exits 0"
t_match '^tisbackup.* v?[0-9]+\.[0-9]+' "$T_OUT" "--version prints 'tisbackup' and a version"
# The features come from the tables: every listdrivers type, both queue backends.
vers=$T_OUT
tb_run listdrivers
for d in $(printf '%s\n' "$T_OUT" | sed -n 's/^\([a-z0-9+-]*\) : .*/\1/p'); do
	t_match "^drivers:( [^ ]+)* $(printf '%s' "$d" | sed 's/+/\\+/g')( |\$)" "$vers" "--version lists driver $d"
done
t_match '^queue backends: sqlite redis$' "$vers" "--version lists the queue backends"
t_match '^catalog backends: sqlite postgresql postgres$' "$vers" "--version lists the catalog backends"
t_match '^libcurl: (yes|no \(.+\))$' "$vers" "--version says whether libcurl loads"

# ---- listdrivers needs no config
tb_run -c "$TMPD/does-not-exist.ini" listdrivers
t_rc 0 "listdrivers without a config exits 0"
t_match '^rsync\+ssh : .+' "$T_OUT" "listdrivers has an 'rsync+ssh : description' line"
t_match '^null : .+' "$T_OUT" "listdrivers has a 'null : description' line"
t_match 'Required params : ' "$T_OUT" "listdrivers prints 'Required params : '"
t_match 'Optional params : ' "$T_OUT" "listdrivers prints 'Optional params : '"
# The original's shape: "type : description", the two lists indented by two
# spaces, a blank line after each entry; the common keys first.
t_eq "" "$(printf '%s\n' "$T_OUT" | awk 'NR % 4 == 1 && !/^[a-z0-9+-]+ : ./ { print NR": "$0 }
	NR % 4 == 2 && !/^  Required params : type,server_name,backup_retention_time,maximum_backup_age(,|$)/ { print NR": "$0 }
	NR % 4 == 3 && !/^  Optional params : preexec,postexec,description(,|$)/ { print NR": "$0 }
	NR % 4 == 0 && $0 != "" { print NR": "$0 }')" "listdrivers: every entry has the original's four-line shape"
t_eq "rsync rsync+ssh" "$(printf '%s\n' "$T_OUT" | awk 'NR % 4 == 1 { print $1 }' | head -n 2 | tr '\n' ' ' | sed 's/ $//')" \
	"listdrivers: the rsync types first"
t_nomatch '^(register_existing|exportbackup|EXPORT) ' "$T_OUT" "listdrivers lists backup types only"
# The params lines that follow the rsync+ssh line.
rs=$(printf '%s\n' "$T_OUT" | awk '/^rsync\+ssh : /{on=1; next} /^[^ \t].* : /{if (on && $0 !~ /params/) exit} on')
req=$(printf '%s\n' "$rs" | grep 'Required params : ')
opt=$(printf '%s\n' "$rs" | grep 'Optional params : ')
for k in type server_name remote_dir private_key; do
	t_match "[: ,]$k(,|$| )" "$req" "rsync+ssh required params include $k"
done
for k in exclude_list bwlimit compression ssh_port protect_args overload_args cipher_spec; do
	t_match "[: ,]$k(,|$| )" "$opt" "rsync+ssh optional params include $k"
done
t_nomatch "[: ,]remote_dir(,|$| )" "$opt" "remote_dir is not listed as optional"

# ---- usage errors: exit 2
tb_run -c "$CONF" frobnicate
t_rc 2 "unknown action exits 2"
t_match 'frobnicate' "$T_ERR" "unknown action is named on stderr"
tb_run -c "$CONF" bakup
t_rc 2 "a mistyped action exits 2"
t_match "unknown action 'bakup': did you mean 'backup'\? \(actions: backup, " "$T_ERR" \
	"... suggesting backup, then listing the actions"
tb_run -c "$TMPD/missing.ini" backup
t_rc 3 "a missing configuration exits 3"
t_match 'give the configuration with -c FILE .*samples/tisbackup-config.ini' "$T_ERR" \
	"... pointing to -c and the sample"

tb_run -c "$CONF" --no-such-option dumpstat
t_rc 2 "unknown long option exits 2"
t_match 'no-such-option' "$T_ERR" "unknown option is named on stderr"
tb_run -c "$CONF" -Z dumpstat
t_rc 2 "unknown short option exits 2"

tb_run -c "$CONF"
t_rc 2 "no action exits 2"

tb_run -c "$CONF" -s nosuchjob dumpstat
t_rc 2 "-s with an unknown section exits 2 (dumpstat)"
t_match 'nosuchjob' "$T_ERR" "-s error names the unknown section"
tb_run -c "$CONF" -s srv1,nosuchjob backup
t_rc 2 "-s with an unknown section exits 2 (backup)"
t_match 'nosuchjob' "$T_ERR" "-s error names the unknown section (backup)"
t_ok "-s error started nothing: no job folder" test ! -e "$BASE/srv1/lock"

tb_run -c "$CONF" exportbackup
t_rc 2 "exportbackup without -x exits 2"
t_imatch '(-x|exportdir)' "$T_ERR" "exportbackup without -x says -x/--exportdir is needed"

tb_run -c "$CONF" -n abc dumpstat
t_rc 2 "-n abc exits 2"
tb_run -c "$CONF" -n -3 dumpstat
t_rc 2 "-n -3 exits 2"
tb_run -c "$CONF" -l bogus dumpstat
t_rc 2 "-l bogus exits 2"
t_match 'bogus' "$T_ERR" "-l error names the level"

# ---- options after the action
tb_run listdrivers -l debug
t_rc 0 "options after the action: listdrivers -l debug"
t_match '^rsync\+ssh : ' "$T_OUT" "listdrivers -l debug still lists drivers"
tb_run dumpstat -c "$CONF" -n 5
t_rc 0 "dumpstat -c FILE -n 5 after the action (empty catalog) exits 0"
tb_run -l DEBUG listdrivers
t_rc 0 "-l accepts upper case"
for l in debug info warning error critical; do
	tb_run -l "$l" listdrivers
	t_rc 0 "-l $l is accepted"
done
tb_run --loglevel=warning --config="$CONF" dumpstat
t_rc 0 "--opt=value spelling is accepted"

# ---- runtime errors: exit 4 when the catalog or the log folder is unusable
BASE=$TMPD/rt1
mkdir -p "$BASE"
: >"$BASE/log" # a file where the log folder should be
tb_run -c "$CONF" -b "$BASE" -s nothing backup
t_rc 4 "log folder is a file: backup exits 4"
t_match "$BASE/log" "$T_ERR" "log folder error names the path"
BASE=$TMPD/rt2
mkdir -p "$BASE/log"
head -c 4096 /dev/urandom >"$BASE/log/tisbackup.sqlite"
tb_run -c "$CONF" -b "$BASE" -s nothing backup
t_rc 4 "catalog is not a database: backup exits 4"
t_match 'tisbackup\.sqlite' "$T_ERR" "catalog error names the file"
tb_run -c "$CONF" -b "$BASE" dumpstat
t_rc 4 "catalog is not a database: dumpstat exits 4"
tb_run -c "$CONF" -b "$BASE" -s srv1 checknagios
t_rc 3 "catalog is not a database: checknagios is UNKNOWN (3)"
t_match '^UNKNOWN' "$T_OUT" "catalog is not a database: checknagios prints UNKNOWN"


# ---- a missing libcurl is a clear error before a run starts
# [alerts] sends webhooks through libcurl, loaded on first use (curlload.c).
# In a private mount namespace every libcurl shared object is hidden
# behind /dev/null: backup must refuse to start (exit 3, naming the gui
# file and what to install) and write nothing.
if unshare --mount --propagation private true 2>/dev/null; then
	GUI=$TMPD/gui-alerts.ini
	printf '[general]\nconfig_tisbackup = %s\n[alerts]\nwebhook_url = http://127.0.0.1:9/hook\n' \
		"$CONF" >"$GUI"
	mapfile -t curl_libs < <(find /usr/lib /lib /usr/local/lib -name 'libcurl*.so*' 2>/dev/null |
		xargs -r realpath | sort -u)
	{
		echo 'for l in "${@:2:$1}"; do mount --bind /dev/null "$l" || exit 99; done'
		echo 'shift $(($1 + 1)); exec "$@"'
	} >"$TMPD/nocurl.sh"
	NB=$TMPD/nocurl-base
	REAL=$TISBACKUP
	TISBACKUP=unshare tb_run --mount --propagation private bash "$TMPD/nocurl.sh" \
		"${#curl_libs[@]}" "${curl_libs[@]}" "$REAL" -c "$CONF" -b "$NB" --gui-config "$GUI" backup
	t_rc 3 "no libcurl and [alerts] webhooks: backup exits 3 before any run"
	t_match "gui-alerts\.ini: \[alerts\] sends webhooks: cannot load libcurl .*install libcurl3-gnutls or libcurl4" \
		"$T_ERR" "no libcurl: the error names the gui file and what to install"
	t_ok "no libcurl: no catalog (no row) written" test ! -e "$NB/log/tisbackup.sqlite"
	t_ok "no libcurl: no job folder written" test ! -e "$NB/srv1"
	# The same command with libcurl present goes on to the run.
	tb_run -c "$CONF" -b "$NB" --gui-config "$GUI" -s nothing backup
	t_rc 0 "with libcurl: the same command runs"
else
	t_skip "missing libcurl: unshare --mount is not permitted here"
fi

# ---- warnings of the config loader: printed by the CLI, as before
WC=$TMPD/warn.ini
cfg_global "$WC" "old_setting = 1"
cfg_null "$WC" quiet
WL=$(grep -n '^old_setting' "$WC" | cut -d: -f1)
tb_run -c "$WC" -b "$TMPD/warn-base" dumpstat
t_rc 0 "a config with an unknown [global] key loads"
t_match "^tisbackup: warning: .*warn\.ini:$WL: \[global\] old_setting: unknown key, ignored$" "$T_ERR" \
	"the loader's warning is printed on stderr, one line, as before"
cfg_global "$WC" "maximum_backup_ag = 12"
cfg_null "$WC" quiet
tb_run -c "$WC" -b "$TMPD/warn-base" dumpstat
t_rc 0 "a mistyped [global] key is only a warning"
t_match "\[global\] maximum_backup_ag: unknown key, ignored \(did you mean 'maximum_backup_age'\?\)$" \
	"$T_ERR" "... that suggests the key it resembles, as in job sections"

t_done
