#!/usr/bin/env bash
#
# run_with_pg.sh PROGRAM [ARG...]: run a unit-test program against a
# PostgreSQL server started for it by lib.sh's pg_start (initdb in this
# run's temporary folder, a free port, listening only on a socket folder
# there). TISBACKUP_TEST_CATALOG_URL names the server to the program, as
# a role of the current user's name that may create databases (peer
# authentication, no password). The program's TAP output is the test's
# (meson's unit_pg_* tests, docs/catalog.md "Testing"); the server is
# stopped after it. Without PostgreSQL installed, the test is skipped.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 1 ] || t_bail "usage: run_with_pg.sh PROGRAM [ARG...]"
if ! pg_find; then
	echo "1..0 # SKIP PostgreSQL (server, pg_dump or the postgres user) is not installed"
	exit 0
fi
pg_start || t_bail "PostgreSQL did not start"
ME=$(id -un)
if [ "$ME" != postgres ]; then
	runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -d postgres \
		-v ON_ERROR_STOP=1 -c "CREATE ROLE \"$ME\" LOGIN CREATEDB" >/dev/null ||
		t_bail "cannot create the role $ME"
fi
# A quiet server: no autovacuum and no standby snapshots, so the
# catalog's version in PostgreSQL (its snapshot: an autovacuum ANALYZE
# moves it) moves only with the tests' own statements and their "reads
# change nothing" checks hold.
# No fsync: a throw-away server, and a database per case is created and
# dropped, which otherwise waits for the disk each time.
runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 \
	-c "ALTER SYSTEM SET autovacuum = off" -c "ALTER SYSTEM SET wal_level = minimal" \
	-c "ALTER SYSTEM SET max_wal_senders = 0" -c "ALTER SYSTEM SET fsync = off" \
	-c "ALTER SYSTEM SET full_page_writes = off" >/dev/null || t_bail "cannot configure the server"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
	-o "-k $PG/sock -p $PGPORT -c listen_addresses=" restart >/dev/null 2>&1 ||
	t_bail "PostgreSQL did not restart: $(tail -5 "$PG/server.log")"
PGPID=$(head -n 1 "$PG/data/postmaster.pid")
tb_track "$PGPID"
export TISBACKUP_TEST_CATALOG_URL="postgresql://$ME@/postgres?host=$PG/sock&port=$PGPORT"
"$@"
st=$?
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -m fast -w stop >/dev/null 2>&1
exit "$st"
