#!/usr/bin/env bash
# The snapshot browser of tisbackup serve (docs/web-api.md "Snapshot
# browser"), with curl against a real server and a real rsync+ssh backup
# of a tree with awkward names from the loopback sshd:
#  - listings (types, sizes, symlinks with their target) and search;
#  - a file downloaded equals the snapshot's (cmp), Content-Disposition,
#    Range requests return the right bytes, 416 past the end;
#  - a folder as tar and as tar.gz extracts to the same tree;
#  - "..", percent-encoded "..", symlinks (to outside or inside) refused;
#  - a viewer gets 403 unless [web] viewers_download = yes; every download
#    is logged with the user;
#  - GET /api/v1/backups?type=RESTORE lists restores.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3 sqlite3 rsync ssh ssh-keygen tar gzip cmp
tb_require_binary
tb_tmp
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
ln -s / "$SRC/to_root"
ln -s sub "$SRC/to_sub"
cfg_global "$CONF"
cfg_job "$CONF" files "$SRC"
tb_run -c "$CONF" -s files backup
t_rc 0 "the rsync+ssh backup is OK"
AT=$(snapshots "$BASE/files" | tail -n 1)
SNAP=$BASE/files/$AT
[ -d "$SNAP" ] || t_bail "no snapshot in $BASE/files"

web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_user victor viewer 'victor-pw-1'
web_start
A=(-u alice:alice-pw-1)
V=(-u victor:victor-pw-1)
J=$WEB/api/v1/jobs/files

# --- listing and search ----------------------------------------------------
r=$(hcurl "${A[@]}" "$J/browse?at=$AT")
t_eq 200 "$(st_of "$r")" "admin lists the snapshot's root"
body=$(body_of "$r")
t_eq "symlink plain.txt" "$(jq_py '[e["type"]+" "+e["target"] for e in d["entries"] if e["name"]=="rel_link"][0]' <<<"$body")" \
	"a symlink is listed with its target"
t_eq "symlink /" "$(jq_py '[e["type"]+" "+e["target"] for e in d["entries"] if e["name"]=="to_root"][0]' <<<"$body")" \
	"a symlink to / is listed, not followed"
t_eq "file 1048576" "$(jq_py '[e["type"]+" "+str(e["size"]) for e in d["entries"] if e["name"]=="big.bin"][0]' <<<"$body")" \
	"a file is listed with its size"
t_eq "$(find "$SNAP" -mindepth 1 -maxdepth 1 -printf . | wc -c)" "$(jq_py 'len(d["entries"])' <<<"$body")" \
	"every entry of the root is listed"
r=$(hcurl "${A[@]}" -G --data-urlencode "path=dir with space" "$J/browse?at=$AT")
t_eq '200 ["f.txt"]' "$(st_of "$r") $(body_of "$r" | jq_py '[e["name"] for e in d["entries"]]')" \
	"a folder with a space in its name is listed"
r=$(hcurl "${A[@]}" "$J/search?at=$AT&q=A.TXT")
t_eq '200 ["sub/a.txt"]' "$(st_of "$r") $(body_of "$r" | jq_py 'sorted(e["name"] for e in d["results"])')" \
	"search finds a name anywhere in the snapshot, case-insensitively"
r=$(hcurl "${A[@]}" "$J/search?at=$AT&q=deep&path=sub")
t_eq '["sub/deeper", "sub/deeper/deep.txt"]' "$(body_of "$r" | jq_py 'sorted(e["name"] for e in d["results"])')" \
	"search within a folder"

# --- one file ----------------------------------------------------------------
curl -s -f "${A[@]}" -D "$TMPD/h1" -o "$TMPD/big.dl" "$J/file?at=$AT&path=big.bin"
t_ok "a downloaded file equals the snapshot's" cmp "$TMPD/big.dl" "$SNAP/big.bin"
t_imatch 'content-disposition: attachment; filename="big.bin"' "$(cat "$TMPD/h1")" \
	"the download has a Content-Disposition"
t_imatch 'accept-ranges: bytes' "$(cat "$TMPD/h1")" "the download says it takes ranges"
# shellcheck disable=SC2016 # a literal $( in a file name
curl -s -f "${A[@]}" -G --data-urlencode 'path=$(cd;touch tb_pwned_'"$TB_ID"')' \
	-o "$TMPD/dollar.dl" "$J/file?at=$AT"
t_ok "a file with shell characters in its name downloads" \
	cmp "$TMPD/dollar.dl" "$SNAP/\$(cd;touch tb_pwned_$TB_ID)"
curl -s -f "${A[@]}" -G --data-urlencode "path=sub/deeper/deep.txt" -o "$TMPD/deep.dl" "$J/file?at=$AT"
t_ok "a file deep in the tree downloads" cmp "$TMPD/deep.dl" "$SNAP/sub/deeper/deep.txt"

# Ranges.
st=$(curl -s "${A[@]}" -H 'Range: bytes=1000-1999' -o "$TMPD/r1" -w '%{http_code}' "$J/file?at=$AT&path=big.bin")
t_eq 206 "$st" "a range answers 206"
t_ok "bytes=1000-1999 are the right bytes" cmp "$TMPD/r1" <(tail -c +1001 "$SNAP/big.bin" | head -c 1000)
curl -s "${A[@]}" -H 'Range: bytes=-100' -o "$TMPD/r2" "$J/file?at=$AT&path=big.bin"
t_ok "bytes=-100 are the last 100 bytes" cmp "$TMPD/r2" <(tail -c 100 "$SNAP/big.bin")
curl -s "${A[@]}" -H 'Range: bytes=1048000-' -o "$TMPD/r3" "$J/file?at=$AT&path=big.bin"
t_ok "bytes=1048000- runs to the end" cmp "$TMPD/r3" <(tail -c +1048001 "$SNAP/big.bin")
r=$(curl -s "${A[@]}" -D - -o /dev/null -H 'Range: bytes=2000000-' "$J/file?at=$AT&path=big.bin")
t_match '^HTTP/1.1 416' "$r" "a range past the end answers 416"
t_imatch 'content-range: bytes \*/1048576' "$r" "... with the file's size"

# --- folders as tar and tar.gz ---------------------------------------------
mkdir "$TMPD/x1" "$TMPD/x2"
curl -s -f "${A[@]}" -D "$TMPD/h2" "$J/tar?at=$AT" | tar -x --warning=no-unknown-keyword --numeric-owner -p -C "$TMPD/x1"
t_ok "the tar of the snapshot extracts to the same tree" tree_equal "$SNAP" "$TMPD/x1/files-$AT"
t_imatch "filename=\"files-$AT.tar\"" "$(cat "$TMPD/h2")" "the tar is named after the job and stamp"
curl -s -f "${A[@]}" -G --data-urlencode "path=sub" --data-urlencode "format=tar.gz" "$J/tar?at=$AT" |
	tar -xz --warning=no-unknown-keyword --numeric-owner -p -C "$TMPD/x2"
t_ok "the tar.gz of a folder extracts to the same tree" tree_equal "$SNAP/sub" "$TMPD/x2/sub"

# --- paths that leave the snapshot -----------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$@"; }
t_eq 400 "$(code "$J/file?at=$AT&path=../../../../etc/passwd")" '"../" is refused (400)'
t_eq 400 "$(code "$J/file?at=$AT&path=sub/../../x")" '"sub/../.." is refused (400)'
t_eq 400 "$(code "$J/file?at=$AT&path=%2e%2e%2f%2e%2e%2fetc%2fpasswd")" 'a percent-encoded "../" is refused (400)'
t_eq 400 "$(code "$J/browse?at=$AT&path=..")" '".." as a folder is refused (400)'
t_eq 404 "$(code "$J/file?at=$AT&path=%252e%252e%252fetc%252fpasswd")" 'a doubly encoded "../" is only a name (404)'
t_eq 404 "$(code "$J/file?at=$AT&path=to_root/etc/passwd")" "a symlink to / is not followed (404)"
t_eq 404 "$(code "$J/browse?at=$AT&path=to_root")" "a symlink is not listed through (404)"
t_eq 404 "$(code "$J/file?at=$AT&path=abs_link")" "a symlink is not downloaded (404)"
t_eq 404 "$(code "$J/file?at=$AT&path=to_sub/a.txt")" "even a symlink inside the snapshot is not followed (404)"
t_eq 404 "$(code "$J/tar?at=$AT&path=to_root")" "no tar through a symlink (404)"
t_eq 404 "$(code "$J/file?at=$AT&path=/etc/passwd")" "an absolute path stays inside the snapshot (404)"
t_eq 404 "$(code "$J/file?at=$AT&path=fifo")" "a FIFO is not opened (404)"
t_eq 404 "$(code "$J/file?at=20000101-00h00m00&path=big.bin")" "an unknown stamp is 404"
t_eq 400 "$(code "$J/file?at=..&path=big.bin")" "a stamp that is not one is 400"
t_eq 404 "$(code "$WEB/api/v1/jobs/..%2f..%2fetc/file?at=$AT&path=passwd")" "a job name with ../ is no job (404)"
t_ok "the log names the admin's downloads" grep -q "alice (admin, from 127.0.0.1) downloads file $AT:/big.bin" "$TMPD/serve.err"

# --- viewers ------------------------------------------------------------------
t_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' "${V[@]}" "$J/browse?at=$AT")" "a viewer may not browse by default (403)"
t_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' "${V[@]}" "$J/file?at=$AT&path=big.bin")" "... nor download a file"
t_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' "${V[@]}" "$J/tar?at=$AT")" "... nor a tar"
# Clients that go away midway: the streams are freed (checked by the clean exit under ASan).
curl -s "${A[@]}" "$J/tar?at=$AT" | head -c 1000 >/dev/null
curl -s "${A[@]}" "$J/file?at=$AT&path=big.bin" | head -c 1000 >/dev/null
t_eq 200 "$(code "$J/browse?at=$AT")" "serve answers after clients left midway"
web_stop
t_eq 0 "$?" "serve stops cleanly (under ASan: no leak of the streams)"
t_nomatch 'AddressSanitizer|LeakSanitizer|runtime error' "$(cat "$TMPD/serve.err")" "serve's log has no sanitizer report"
sed -i 's/^\[web\]$/[web]\nviewers_download = yes/' "$GUI"
web_start
curl -s -f "${V[@]}" -o "$TMPD/v.dl" "$J/file?at=$AT&path=plain.txt"
t_ok "with viewers_download = yes a viewer downloads" cmp "$TMPD/v.dl" "$SNAP/plain.txt"
t_ok "the log names the viewer" grep -q "victor (viewer, from 127.0.0.1) downloads file $AT:/plain.txt" "$TMPD/serve.err"

# --- restores in the API ------------------------------------------------------
tb_run -c "$CONF" -s files restore --to "$TMPD/restored"
t_rc 0 "a restore from the CLI"
r=$(hcurl "${A[@]}" "$WEB/api/v1/backups?type=RESTORE")
t_eq "200 RESTORE" "$(st_of "$r") $(body_of "$r" | jq_py 'd["items"][0]["TYPE"]')" \
	"GET /api/v1/backups?type=RESTORE lists the restore"

web_stop
t_eq 0 "$?" "serve stops cleanly"
t_nomatch 'AddressSanitizer|LeakSanitizer|runtime error' "$(cat "$TMPD/serve.err")" "serve's log has no sanitizer report"
t_ok "no command ran from a name" no_markers
t_done
