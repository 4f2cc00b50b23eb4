#!/usr/bin/env bash
#
# A damaged catalog is refused and left exactly as it was found: a run
# checks it read-only (quick_check) before any write, exits 4 with "the
# catalog is damaged: see docs/catalog.md (recovery)", and neither replays
# a stray -wal into it nor records a row. Then the recovery of
# docs/catalog.md gets the rows back. Kinds of damage: a -wal left by
# another copy of the database, a damaged index page (the file still
# opens), a header that is not SQLite's, a truncated file.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 python3 sha256sum rsync ssh ssh-keygen
tb_tmp
sshd_start

DB=$BASE/log/tisbackup.sqlite
mkdir -p "$TMPD/src"
echo data >"$TMPD/src/file"
cfg_global "$CONF"
cfg_job "$CONF" web "$TMPD/src"

# A sound catalog: the stats table and its index, N rows, WAL mode.
good_db() { # FILE N
	python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table stats (backup_name TEXT, server_name TEXT, description TEXT, "
          "backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, "
          "total_files_count INT, written_files_count INT, total_bytes INT, "
          "written_bytes INT, status TEXT, log TEXT, backup_location TEXT, TYPE TEXT)")
c.execute("create index idx_stats_backup_name on stats(backup_name)")
for i in range(int(sys.argv[2])):
    c.execute("insert into stats (backup_name, status, log, TYPE) values (?, 'OK', ?, 'BACKUP')",
              ("good%d" % i, "x" * 200))
c.commit()
c.execute("pragma journal_mode=WAL")
c.close()
EOF
}

# The files as they are: their digests. A missing -wal counts as an
# empty one: a reader may create the empty side files it needs.
state() {
	local f
	for f in "$DB" "$DB-wal"; do
		if [ -s "$f" ]; then sha256sum <"$f"; else echo -; fi
	done
}

# refused LABEL: backup, retryfailed and register_existing refuse the
# catalog with exit 4 and leave the files as they were.
refused() {
	local l=$1 before action
	before=$(state)
	for action in backup retryfailed register_existing; do
		tb_run -c "$CONF" "$action"
		t_rc 4 "$l: $action exits 4"
		t_match 'the catalog is damaged: see docs/catalog\.md \(recovery\)' "$T_ERR$T_OUT" \
			"$l: $action says the catalog is damaged and where the recovery is"
		t_eq "$before" "$(state)" "$l: $action leaves the database and its -wal as they were"
	done
	t_ok "$l: no snapshot folder, no run" test ! -e "$BASE/web"
}

reset() {
	rm -rf "$BASE"
	mkdir -p "$BASE/log"
}

# ---------------------------------------------------------------- a stray -wal
# A -wal that another copy of the database wrote (a restore from a backup
# next to the -wal of the database it replaced): replayed, it would
# overwrite pages of this one with pages of the other.
reset
good_db "$DB" 4
cp "$DB" "$TMPD/older.sqlite"
python3 - "$TMPD/older.sqlite" "$DB" <<'EOF'
import os, shutil, sqlite3, sys
older, db = sys.argv[1], sys.argv[2]
# The database grew after the copy was taken: its table and index split.
c = sqlite3.connect(db)
for i in range(4, 300):
    c.execute("insert into stats (backup_name, status, log, TYPE) values (?, 'OK', ?, 'BACKUP')",
              ("good%d" % i, "x" * 200))
c.commit()
c.close()
# The older copy took a write of its own, whose -wal stays behind (no
# checkpoint, no close).
c = sqlite3.connect(older)
c.execute("pragma wal_autocheckpoint=0")
c.execute("insert into stats (backup_name, status, TYPE) values ('stray', 'OK', 'BACKUP')")
c.commit()
shutil.copy(older + "-wal", db + "-wal")
os._exit(0)
EOF
rm -f "$DB-shm"
t_ne "ok" "$(sql "file:$DB?mode=ro" 'pragma quick_check' 2>&1)" "stray -wal: the database with it fails quick_check"
refused "stray -wal"
tb_run -c "$CONF" checknagios
t_ne 0 "$T_RC" "stray -wal: checknagios does not report OK"

# Recovery: the -wal belongs to no one running; set it aside.
mkdir -p "$TMPD/aside"
mv "$DB-wal" "$TMPD/aside/"
rm -f "$DB-shm"
t_eq ok "$(sql "$DB" 'pragma quick_check')" "stray -wal: without it the database is sound again"
t_eq 300 "$(csql "select count(*) from stats where status = 'OK'")" "stray -wal: every row is still there"
tb_run -c "$CONF" backup
t_rc 0 "stray -wal: after the recovery, backup exits 0"
t_eq "web|OK" "$(last_row web 'backup_name,status')" "stray -wal: and records its row"

# ---------------------------------------------------------------- a damaged index
reset
good_db "$DB" 300
sql "$DB" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
rm -f "$DB-wal" "$DB-shm"
root=$(sql "$DB" "select rootpage from sqlite_master where name = 'idx_stats_backup_name'")
# A leaf of the index, not its root: the table and the schema still read.
leaf=$(sql "$DB" "select max(pageno) from dbstat where name = 'idx_stats_backup_name'" 2>/dev/null)
[ -n "$leaf" ] || leaf=$root
dd if=/dev/urandom of="$DB" bs=4096 seek=$((leaf - 1)) count=1 conv=notrunc status=none
t_eq 300 "$(sql "$DB" "select count(log) from stats" 2>&1)" "damaged index: the table still reads"
refused "damaged index"
# Recovery: copy what reads into a new database (.recover when the
# sqlite3 CLI has it; .dump reads the tables without the index).
sql "$DB" .dump | sed '/^CREATE INDEX/d' | sqlite3 "$TMPD/new.sqlite"
mv "$TMPD/new.sqlite" "$DB"
t_eq 300 "$(csql 'select count(*) from stats')" "damaged index: .dump into a new file keeps the rows"
tb_run -c "$CONF" backup
t_rc 0 "damaged index: after the recovery, backup exits 0 (the index is created again)"
t_eq ok "$(csql 'pragma quick_check')" "damaged index: the recovered catalog is sound"

# ---------------------------------------------------------------- not SQLite
reset
good_db "$DB" 10
sql "$DB" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
rm -f "$DB-wal" "$DB-shm"
printf 'this is not an SQLite header' | dd of="$DB" conv=notrunc status=none
refused "bad header"

# ---------------------------------------------------------------- truncated
reset
good_db "$DB" 300
sql "$DB" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
rm -f "$DB-wal" "$DB-shm"
truncate -s $(($(stat -c %s "$DB") / 2)) "$DB"
refused "truncated"

# ---------------------------------------------------------------- sound
# The check changes nothing for a sound catalog, old or new.
reset
good_db "$DB" 3
tb_run -c "$CONF" backup
t_rc 0 "sound catalog: backup exits 0"
t_eq 4 "$(csql 'select count(*) from stats')" "sound catalog: the run added its row"

t_done
