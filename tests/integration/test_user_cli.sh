#!/usr/bin/env bash
#
# tisbackup user add|passwd|del: the users file named by the gui config
# ([auth] users_file), passwords from stdin or typed twice on a terminal
# (a pty driven by python3), mode 0600, argon2id hashes, exit codes.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require python3
tb_tmp

GUI=$TMPD/gui.ini
USERS=$TMPD/etc/tisbackup-users   # its folder is made by the first add
printf '[auth]\nusers_file = %s\n' "$USERS" >"$GUI"

# urun INPUT ARGS...: run tisbackup with INPUT on stdin (not a terminal).
urun() {
	local input=$1
	shift
	printf '%s' "$input" | timeout -k 5 60 "$TISBACKUP" --gui-config "$GUI" "$@" \
		>"$TMPD/.out" 2>"$TMPD/.err"
	T_RC=${PIPESTATUS[1]}
	T_OUT=$(cat "$TMPD/.out")
	T_ERR=$(cat "$TMPD/.err")
}

# ptyrun ANSWER1 ANSWER2 ARGS...: run tisbackup on a pseudo-terminal,
# answering each password prompt once it appears. Output in T_OUT.
ptyrun() {
	local a1=$1 a2=$2
	shift 2
	T_OUT=$(python3 - "$a1" "$a2" "$TISBACKUP" --gui-config "$GUI" "$@" <<'EOF'
import os, pty, sys, time
answers = sys.argv[1:3]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
out = b""
deadline = time.time() + 30
prompts = (b"New password: ", b"Again: ")
i = pos = 0
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    while i < 2:
        k = out.find(prompts[i], pos)
        if k < 0:
            break
        os.write(fd, answers[i].encode() + b"\n")
        pos = k + len(prompts[i])
        i += 1
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
	)
	T_RC=$?
}

field() { # field NAME N: field N of NAME's line
	awk -F: -v n="$1" -v f="$2" '$1 == n { print $f }' "$USERS"
}

# ---- no subcommand, bad subcommand, bad arguments
urun '' user
t_eq 2 "$T_RC" "user without a subcommand exits 2"
t_match 'user add NAME' "$T_ERR" "... and prints the usage"
urun '' user frobnicate alice
t_eq 2 "$T_RC" "unknown subcommand exits 2"
urun 'password1\n' user add
t_eq 2 "$T_RC" "add without NAME exits 2"
urun 'password1\n' user add alice password1
t_eq 2 "$T_RC" "a password as an extra word is refused (exit 2)"
t_match 'never an argument' "$T_ERR" "... saying the password is never an argument"
urun 'password1\n' user add alice --password password1
t_eq 2 "$T_RC" "--password is not an option (exit 2)"
urun $'password1\n' user add alice --role root
t_eq 2 "$T_RC" "wrong role exits 2"
t_match 'admin or viewer' "$T_ERR" "... naming the valid roles"
urun $'password1\n' user add 'bad:name'
t_eq 2 "$T_RC" "bad user name exits 2"
t_eq no "$([ -e "$USERS" ] && echo yes || echo no)" "nothing was written by refused commands"

# ---- list before any user
urun '' user list
t_eq 0 "$T_RC" "user list with no users file exits 0"
t_eq '' "$T_OUT" "... printing no table"
t_match "no users in $USERS yet: add the first with 'tisbackup user add NAME --role admin'" "$T_ERR" \
	"... and saying how to add the first"
urun '' user lst
t_eq 2 "$T_RC" "a mistyped subcommand exits 2"
t_match "unknown subcommand 'lst' \(did you mean 'list'\?\)" "$T_ERR" "... suggesting list"
urun '' user list alice
t_eq 2 "$T_RC" "user list NAME exits 2"

# ---- a users file two folders down: nothing made, the remedy said
printf '[auth]\nusers_file = %s\n' "$TMPD/no/such/users" >"$TMPD/deep-gui.ini"
printf 's3cret-pass\n' | "$TISBACKUP" --gui-config "$TMPD/deep-gui.ini" user add zed \
	>/dev/null 2>"$TMPD/.err"
t_eq 4 "$?" "a users file whose parent folder is missing too exits 4"
t_match "cannot be made: $TMPD/no/such: No such file or directory \(create it, or set \[auth\] users_file" \
	"$(cat "$TMPD/.err")" "... naming the folder and the remedy"
t_eq no "$([ -e "$TMPD/no" ] && echo yes || echo no)" "... and making nothing"

# ---- add from stdin (the first add makes the users file's folder)
urun $'s3cret-pass\n' user add alice --role admin
t_eq 0 "$T_RC" "user add alice --role admin exits 0"
t_match "created $TMPD/etc for the users file" "$T_ERR" "... making its folder and saying so"
t_match 'alice added' "$T_OUT" "... and says so"
t_eq 600 "$(stat -c %a "$USERS")" "the users file is mode 0600"
t_eq admin "$(field alice 2)" "alice is admin"
t_match '^\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$' "$(cut -d: -f3- "$USERS")" \
	"the hash is argon2id (t=3, m=64 MiB, p=1)"
t_nomatch 's3cret-pass' "$(cat "$USERS")" "the password is not in the file"
t_nomatch 's3cret-pass' "$T_OUT$T_ERR" "the password is not printed"

urun $'other-pass\n' user add bob
t_eq 0 "$T_RC" "user add bob exits 0"
t_eq viewer "$(field bob 2)" "the default role is viewer"
urun $'other-pass\n' user add bob
t_eq 4 "$T_RC" "adding bob twice exits 4"
t_match 'already exists' "$T_ERR" "... saying he already exists"

# ---- password rules
urun $'short\n' user add carol
t_eq 2 "$T_RC" "a password shorter than 8 exits 2"
t_match 'at least 8' "$T_ERR" "... saying the minimum"
urun $'\n' user add carol
t_eq 2 "$T_RC" "an empty password exits 2"
t_match 'empty password' "$T_ERR" "... saying it is empty"
urun '' user add carol
t_eq 2 "$T_RC" "no password at all exits 2"
t_eq '' "$(field carol 1)" "carol was not added"
urun 'no-newline-pass' user add carol
t_eq 0 "$T_RC" "a last line without newline is a password"
h_carol=$(field carol 3)

# ---- passwd
h_before=$(field bob 3)
urun $'new-password\n' user passwd bob
t_eq 0 "$T_RC" "user passwd bob exits 0"
t_ne "$h_before" "$(field bob 3)" "bob's hash changed"
t_eq viewer "$(field bob 2)" "passwd keeps the role"
urun $'new-password\n' user passwd bob --role admin
t_eq admin "$(field bob 2)" "passwd --role changes the role"
urun $'new-password\n' user passwd nobody
t_eq 4 "$T_RC" "passwd of a missing user exits 4"
t_eq 600 "$(stat -c %a "$USERS")" "still mode 0600 after rewrites"
t_eq "$h_carol" "$(field carol 3)" "other users' lines are kept as they were"

# ---- terminal prompts
ptyrun 'tty-password' 'tty-password' user add dave
t_eq 0 "$T_RC" "add on a terminal: two matching prompts exit 0"
t_match 'New password: ' "$T_OUT" "... it asked for the password"
t_match 'Again: ' "$T_OUT" "... and for confirmation"
t_nomatch 'tty-password' "$T_OUT" "... without echoing it"
t_eq viewer "$(field dave 2)" "dave was added"
ptyrun 'tty-password' 'tty-passw0rd' user add erin
t_ne 0 "$T_RC" "two different passwords on a terminal are refused"
t_match 'differ' "$T_OUT" "... saying they differ"
t_eq '' "$(field erin 1)" "erin was not added"

# ---- del
urun '' user del bob
t_eq 0 "$T_RC" "user del bob exits 0"
t_eq '' "$(field bob 1)" "bob is gone"
urun '' user del bob
t_eq 4 "$T_RC" "deleting a missing user exits 4"
t_match 'no user bob' "$T_ERR" "... naming him"
urun '' user del alice --role admin
t_eq 2 "$T_RC" "del with --role exits 2"
t_eq 3 "$(grep -c . "$USERS")" "alice, carol and dave remain"

# ---- list: names and roles in file order, never a hash
urun '' user list
t_eq 0 "$T_RC" "user list exits 0"
t_eq "NAME   ROLE|alice  $(field alice 2)|carol  $(field carol 2)|dave   $(field dave 2)" \
	"$(printf '%s' "$T_OUT" | paste -sd'|')" "user list prints each user and role, aligned"
t_nomatch 'argon2' "$T_OUT" "... and no hash"

# ---- bad files
cp "$USERS" "$TMPD/users.good"
echo 'mallory:admin:plaintext' >>"$USERS"
urun $'password-9\n' user add frank
t_eq 3 "$T_RC" "a malformed users file exits 3"
t_match "$USERS:4: bad password hash" "$T_ERR" "... naming file:line"
t_nomatch 'plaintext' "$T_ERR" "... without quoting the line"
cp "$TMPD/users.good" "$USERS"
printf '[auth]\nusers_file = %s\nbogus = 1\n' "$USERS" >"$TMPD/bad-gui.ini"
printf 'password-9\n' | "$TISBACKUP" --gui-config "$TMPD/bad-gui.ini" user add frank \
	>/dev/null 2>"$TMPD/.err"
t_eq 3 "$?" "a bad gui config exits 3"
t_match 'bogus' "$(cat "$TMPD/.err")" "... naming the key"
t_done
