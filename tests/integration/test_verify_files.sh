#!/usr/bin/env bash
#
# tisbackup verify of file snapshots (docs/restore.md, "Verify") over the
# loopback sshd: a sample of the newest good rsync+ssh snapshot
# (verify_sample %, seeded) is compared with the source by content
# (rsync --checksum --dry-run over the job's own ssh options, nothing
# transferred):
#  - a tree with awkward names, sampled whole, matches (VERIFY row OK);
#  - one byte of a snapshot file changed (size and mtime kept) is found
#    and named: VERIFY row ERROR;
#  - a file changed at the source after the backup is reported as changed
#    since, and the verify is OK;
#  - the same verify_seed draws the same sample; the seed is in the log;
#  - the API's job objects carry last_verify {end, result, age_hours};
#  - a bad verify_sample is refused when the configuration is read.

# T_* are read by lib.sh.
# shellcheck disable=SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
mkdir -p "$SRC/many"
for i in $(seq 1 300); do printf 'file %s\n' "$i" >"$SRC/many/f$i"; done
printf 'precious data\n' >"$SRC/sub/deeper/precious.dat"
printf 'moving target\n' >"$SRC/sub/changing.txt"
# everything older than the backup
find "$SRC" -exec touch -h -d '-1 hour' {} +

cfg_global "$CONF"
cfg_job "$CONF" files "$SRC" "verify = yes" "verify_sample = 100"
cfg_job "$CONF" some "$SRC" "verify = yes" "verify_sample = 1.5%" "verify_seed = 42"

tb_run -c "$CONF" backup
t_rc 0 "rsync+ssh: backups OK"
snap=$(ls -d "$BASE"/files/2* | tail -n 1)

tb_run -c "$CONF" -s files verify
t_rc 0 "verify of a good snapshot: exit 0"
t_eq "VERIFY|OK" "$(last_row files "TYPE || '|' || status")" "verify: a VERIFY row, OK"
n=$(find "$snap" -type f -printf x | wc -c)
t_match "^$n of $n files \(.*, verify_sample 100.000 %, seed [0-9]+\) of .* match the source$" \
	"$(last_row files log)" "verify: every file of the snapshot compared, the seed named"

# --- a sample, seeded: the same seed draws the same files
tb_run -c "$CONF" -s some verify
t_rc 0 "verify of a 1.5 % sample: exit 0"
log1=$(last_row some log)
t_match "^[0-9]+ of $n files \(.*, verify_sample 1.500 %, seed 42\)" "$log1" "verify: a sample, its seed in the row"
t_check "verify: the sample is a few files, not all ($log1)" "$(k=${log1%% *}; [ "$k" -ge 1 ] && [ "$k" -lt 30 ]; echo $?)"
tb_run -c "$CONF" -s some verify
t_eq "$log1" "$(last_row some log)" "verify: verify_seed draws the same sample again"

# --- a file changed at the source after the backup: reported, not an error
printf 'moved on\n' >"$SRC/sub/changing.txt"
tb_run -c "$CONF" -s files verify
t_rc 0 "verify with a file changed at the source since: exit 0"
t_match "1 changed at the source since the backup \(not compared\): sub/changing.txt" \
	"$(last_row files log)" "verify: the changed file is reported as changed since"

# --- a damaged snapshot file (one byte, size and mtime kept): ERROR, named
f=$snap/sub/deeper/precious.dat
touch -r "$f" "$TMPD/ref"
printf 'X' | dd of="$f" bs=1 seek=3 conv=notrunc status=none
touch -r "$TMPD/ref" "$f"
t_eq "$(stat -c %s "$SRC/sub/deeper/precious.dat")" "$(stat -c %s "$f")" "the damaged copy keeps its size"
tb_run -c "$CONF" -s files verify
t_rc 1 "verify of a damaged snapshot: exit 1"
t_eq "VERIFY|ERROR" "$(last_row files "TYPE || '|' || status")" "verify: the damage is an ERROR row"
t_match "1 file\(s\) differ from the source, whose copy is older than the backup \(damaged in the backup\): sub/deeper/precious.dat" \
	"$(last_row files log)" "verify: the damaged file is named"
t_nomatch "changing.txt" "$(last_row files log | sed -n '/damaged in the backup/,$p' | cut -d: -f2-)" \
	"verify: the file changed since is not counted as damage"

# --- the API: last_verify of each job (docs/web-api.md)
web_config
web_user admin admin 'Adm1n-pass-long'
web_start
web_login admin 'Adm1n-pass-long' "$TMPD/jar"
jobs=$(curl -s -b "$TMPD/jar" "$WEB/api/v1/jobs")
t_eq "failed" "$(printf '%s' "$jobs" | jq_py '[j for j in d["items"] if j["name"] == "files"][0]["last_verify"]["result"]')" \
	"api: the damaged job's last verify failed"
t_eq "ok" "$(printf '%s' "$jobs" | jq_py '[j for j in d["items"] if j["name"] == "some"][0]["last_verify"]["result"]')" \
	"api: the sampled job's last verify is ok"
t_eq "True" "$(printf '%s' "$jobs" | jq_py 'str(0 <= [j for j in d["items"] if j["name"] == "some"][0]["last_verify"]["age_hours"] < 1)')" \
	"api: last_verify.age_hours is the age of the verify"
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(curl -s -b "$TMPD/jar" "$WEB/api/v1/jobs/some" | jq_py 'd["last_verify"]["end"]')" \
	"api: GET /api/v1/jobs/NAME has last_verify.end"
web_stop

# --- a bad verify_sample is a configuration error
cfg_job "$CONF" bad "$SRC" "verify = yes" "verify_sample = 0"
tb_run -c "$CONF" -s bad verify
t_ne 0 "$T_RC" "verify_sample = 0: refused"
t_match "verify_sample.*not a percentage" "$T_ERR" "verify_sample = 0: the error names the key"

t_done
