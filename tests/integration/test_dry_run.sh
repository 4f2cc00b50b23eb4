#!/usr/bin/env bash
#
# `tisbackup -d backup` writes nothing: no base folder, no log folder, no
# run log, no catalog, no side file of the catalog, no snapshot; with an
# existing tree, every file keeps its size and time. It only prints what it
# would run.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require rsync ssh ssh-keygen
tb_tmp
sshd_start

mkdir -p "$TMPD/src"
echo data >"$TMPD/src/file"
cfg_global "$CONF"
cfg_job "$CONF" web "$TMPD/src"
cfg_null "$CONF" nothing

tree_state() {
	find "$TMPD" -mindepth 1 -path "$TMPD/sshd" -prune -o -path "$TMPD/.out" -prune -o -path "$TMPD/.err" \
		-prune -o -printf '%p %s %T@\n' | sort
}

for opt in -d --dry-run; do
	before=$(tree_state)
	tb_run -c "$CONF" "$opt" backup
	t_rc 0 "fresh: $opt backup exits 0"
	t_match "\[web\] dry run: would run:\$" "$T_ERR" "fresh: $opt backup prints the rsync command"
	t_match '\[web\]     rsync \\$' "$T_ERR" "fresh: $opt: one argument a line, a shell continuation after each"
	t_match 'dry run: nothing was done$' "$(printf '%s\n' "$T_ERR" | tail -n 1)" "fresh: $opt: the last line says nothing was done"
	t_ok "fresh: $opt backup creates no base folder" test ! -e "$BASE"
	t_eq "$before" "$(tree_state)" "fresh: $opt backup changes nothing"
done

# The printed command, pasted into a shell, is the argv tisbackup runs:
# every word on its own line, nothing a shell would expand.
cmd=$(printf '%s\n' "$T_ERR" | sed -n '/\[web\] dry run: would run:$/,/[^\\]$/p' | tail -n +2 |
	sed -e 's/^.*\[web\]     //' -e 's/ \\$//')
words=$(printf '%s\n' "$cmd" | wc -l)
eval "set -- $(printf '%s\n' "$cmd" | tr '\n' ' ')"
t_eq "$words" "$#" "the command has as many words as printed lines ($words)"
t_eq rsync "$1" "its first word is rsync"
argv=("$@")
t_match "^'ssh' '-o' 'BatchMode=yes' " "${argv[$((${#argv[@]} - 4))]}" "the -e value reads as ssh's command, unescaped"
t_match '\.rsync/$' "${argv[$((${#argv[@]} - 1))]}" "the last word is the snapshot folder"

tb_run -c "$CONF" -d cleanup
t_match 'dry run: nothing was done$' "$(printf '%s\n' "$T_ERR" | tail -n 1)" "-d cleanup also ends with 'nothing was done'"

tb_run -c "$CONF" backup
t_rc 0 "a real backup exits 0"
wait_next_second
before=$(tree_state)
tb_run -c "$CONF" -d backup
t_rc 0 "existing tree: -d backup exits 0"
t_eq 1 "$(log_count)" "existing tree: no second run log"
t_eq "$before" "$(tree_state)" "existing tree: -d backup changes no file, size or time"

t_done
