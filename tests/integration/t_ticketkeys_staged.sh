#!/bin/bash
# Staged ticket key rotation (ticket_keys_staged = yes): the first key of
# the file only decrypts, the second encrypts.  Two instances mid-rotation:
# A has read the rotated file [K2, K1], B still has [K1].  Staged, A
# encrypts with K1 and B resumes A's sessions (TLS 1.2 tickets and TLS 1.3
# resumption); with staging turned off (the configuration changes, watch
# reloads) A encrypts with K2 and B cannot resume: the full handshakes
# staging avoids.  Then a whole rolling rotation with both staged: A on
# [K3, K2, K1], B still on [K2, K1], and sessions resume both ways.  The
# log line names the encrypting key and the staged one.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
session_client
mkdir "$T/keys"
A_KEYS=$T/keys/a.keys
B_KEYS=$T/keys/b.keys

# rotate FILE LOG: `ticket-keys rotate FILE`; prints the new key's id.
rotate() {
	"$CHAINFIX" ticket-keys rotate "$1" >"$2" 2>&1 ||
	    fail "ticket-keys rotate $1 failed: $(cat "$2")"
	sed -n 's/.*new encrypting key \([0-9a-f]\{16\}\);.*/\1/p' "$2"
}
ID1=$(rotate "$B_KEYS" "$T/rotate1.log")
[ -n "$ID1" ] || fail "rotate does not name the new key: $(cat "$T/rotate1.log")"
grep -q "ticket_keys_staged" "$T/rotate1.log" &&
    fail "a one-key file has nothing staged: $(cat "$T/rotate1.log")"
cp -p "$B_KEYS" "$A_KEYS"
ID2=$(rotate "$A_KEYS" "$T/rotate2.log")
grep -q "^$A_KEYS: with ticket_keys_staged = yes: encrypting key $ID1, the new key staged\$" \
    "$T/rotate2.log" || fail "rotate does not say which key encrypts staged: $(cat "$T/rotate2.log")"
ok "rotate names the new key and, staged, the key that encrypts"

# conf NAME KEYS STAGED: write NAME's configuration at once (a rename, as
# an editor or a ConfigMap update does); one site name for the fleet.
conf() {
	local f=$T/$1.conf
	: >"$f.new"
	global_conf "$f.new"
	printf 'ticket_keys = %s\nticket_keys_staged = %s\n\n' "$2" "$3" >>"$f.new"
	site_conf "$f.new" fleet 0 "$BPORT"
	mv "$f.new" "$f"
}
# tickets NAME: the last "session tickets:" line NAME logged.
tickets() {
	grep "session tickets:" "$T/$1.log" | tail -n 1 | sed 's/.*session tickets: //'
}
# resumes TAG FROM_TAG FROM_PORT TO_PORT VERSION: a new session on
# FROM_PORT, then offered on TO_PORT; prints reused=0|1 of the second.
resumes() {
	local r
	r=$(sconn "$1" "$3" "$5")
	case "$r" in *"reused=0 "*) ;; *) fail "TLS $5: $1: no new session: $r" ;; esac
	r=$(sconn "$2" "$4" "$5" "$1")
	case "$r" in
	*"reused=1 "*) echo 1 ;;
	*"reused=0 "*) echo 0 ;;
	*) fail "TLS $5: $2: $r" ;;
	esac
}
# both_ways TAG WHAT: for TLS 1.2 and 1.3, a session made on A resumes on
# B and one made on B resumes on A (sessions saved as TAG-...).
both_ways() {
	local v
	for v in 1.2 1.3; do
		[ "$(resumes "$1-a$v" "$1-a$v-b" "$PORT_A" "$PORT_B" "$v")" = 1 ] ||
		    fail "TLS $v: $2: a session made on A does not resume on B"
		[ "$(resumes "$1-b$v" "$1-b$v-a" "$PORT_B" "$PORT_A" "$v")" = 1 ] ||
		    fail "TLS $v: $2: a session made on B does not resume on A"
	done
}

conf a "$A_KEYS" yes
conf b "$B_KEYS" no
chainfix_start a "$T/a.conf"
PID_A=$CFX_PID
PORT_A=$(cfx_port fleet)
chainfix_start b "$T/b.conf"
PID_B=$CFX_PID
PORT_B=$(cfx_port fleet)
[ "$(tickets a)" = "2 keys from $A_KEYS, encrypting with key $ID1, next key $ID2 staged" ] ||
    fail "A's log line does not name the encrypting and the staged key: $(tickets a)"
[ "$(tickets b)" = "1 key from $B_KEYS, encrypting with key $ID1" ] ||
    fail "B's log line: $(tickets b)"
grep -q "ticket_keys_staged needs" "$T/a.log" "$T/b.log" &&
    fail "a warning about staging where there is nothing wrong"

both_ways s "staged, A on [K2, K1], B on [K1]"
ok "staged: A on the rotated file encrypts with K1; its sessions resume on B, which has only K1"

# Staging off: the configuration changes, A reloads by itself (watch).
conf a "$A_KEYS" no
wait_log "$T/a.log" "reloaded .* \(generation 2\)"
[ "$(tickets a)" = "2 keys from $A_KEYS, encrypting with key $ID2" ] ||
    fail "after ticket_keys_staged = no, A does not encrypt with the first key: $(tickets a)"
for v in 1.2 1.3; do
	[ "$(resumes "u$v" "u$v-b" "$PORT_A" "$PORT_B" "$v")" = 0 ] ||
	    fail "TLS $v: B resumed a ticket made under a key it does not have"
done
ok "not staged: A encrypts with K2, and B (on [K1]) makes full handshakes"

# A rolling rotation with every instance staged: A has read [K3, K2, K1]
# (encrypts with K2), B still has [K2, K1] (encrypts with K1).
conf a "$A_KEYS" yes
wait_log "$T/a.log" "reloaded .* \(generation 3\)"
cp -p "$A_KEYS" "$T/keys/b.keys.new"
mv "$T/keys/b.keys.new" "$B_KEYS"
conf b "$B_KEYS" yes
wait_log "$T/b.log" "session tickets: 2 keys from $B_KEYS, encrypting with key $ID1, next key $ID2 staged"
ID3=$(rotate "$A_KEYS" "$T/rotate3.log")
grep -q "encrypting key $ID2, the new key staged" "$T/rotate3.log" ||
    fail "rotate: $(cat "$T/rotate3.log")"
wait_log "$T/a.log" "reloaded .* \(generation 4\)"
[ "$(tickets a)" = "3 keys from $A_KEYS, encrypting with key $ID2, next key $ID3 staged" ] ||
    fail "A after the second rotation: $(tickets a)"
both_ways r "staged mid-rotation, A on [K3, K2, K1], B on [K2, K1]"
ok "staged rolling rotation: A on [K3, K2, K1] and B on [K2, K1] resume each other's sessions"

echo quit >&7
exec 7>&-
CFX_PID=$PID_B
chainfix_stop_clean b
CFX_PID=$PID_A
chainfix_stop_clean a
pass
