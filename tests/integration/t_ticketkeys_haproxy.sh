#!/bin/bash
# A ticket key file shared with HAProxy (README, "Session ticket keys"):
# HAProxy's tls-ticket-keys reads the file `chainfix ticket-keys rotate`
# writes as it is (key lines only), and with three keys a staged chainfix
# (ticket_keys_staged = yes) and HAProxy encrypt their TLS 1.2 tickets with
# the same key, the middle one.  Sessions still do not cross between the
# two: each binds a session to its own context, so a session made on one
# is a full handshake on the other (the README says so; this shows it).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need haproxy openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
KEYS=$T/ticket.keys
for i in 1 2 3; do
	"$CHAINFIX" ticket-keys rotate "$KEYS" >"$T/rotate$i.log" 2>&1 ||
	    fail "ticket-keys rotate failed: $(cat "$T/rotate$i.log")"
done
[ "$(wc -l <"$KEYS")" = 3 ] || fail "the rotated file does not hold 3 lines: $(wc -l <"$KEYS")"
grep -q '^#' "$KEYS" && fail "rotate wrote a comment, which HAProxy takes for a key"
# The 16-byte name of key N (1: the newest), in hex, as tickets carry it.
key_name() {
	sed -n "${1}p" "$KEYS" | openssl base64 -d -A | head -c 16 | od -An -tx1 | tr -d ' \n'
}
MIDDLE=$(key_name 2)
[ "${#MIDDLE}" = 32 ] || fail "cannot read the second key's name: '$MIDDLE'"

: >"$T/chainfix.conf"
global_conf "$T/chainfix.conf"
printf 'ticket_keys = %s\nticket_keys_staged = yes\n\n' "$KEYS" >>"$T/chainfix.conf"
site_conf "$T/chainfix.conf" fleet 0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
CPORT=$(cfx_port fleet)

cat "$P/leaf-full.pem" "$P/leaf.key" >"$T/haproxy.pem"
cat >"$T/haproxy.cfg.in" <<CFG
global
	maxconn 100
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fleet
	bind 127.0.0.1:@HPORT@ ssl crt $T/haproxy.pem tls-ticket-keys $KEYS
	default_backend backend
backend backend
	server b 127.0.0.1:$BPORT ssl verify none
CFG
haproxy_start "$T/haproxy.cfg.in"
ok "HAProxy reads the key file rotate wrote, as it is"

# ticket_key PORT TAG: the key name (hex) of the TLS 1.2 ticket PORT issues.
ticket_key() {
	openssl s_client -connect "127.0.0.1:$1" -servername localhost \
	    -tls1_2 -CAfile "$P/root.pem" -verify_return_error \
	    -sess_out "$T/$2.sess" </dev/null >"$T/$2.log" 2>&1 ||
	    fail "s_client to $2 failed: $(tail -3 "$T/$2.log")"
	openssl sess_id -in "$T/$2.sess" -noout -text >"$T/$2.txt" 2>&1 ||
	    fail "sess_id $2: $(cat "$T/$2.txt")"
	# The first line of the hex dump after "TLS session ticket:" holds
	# its first 16 bytes: "0000 - 38 ad ... dc-01 ... 86   8..%...".
	sed -n '/TLS session ticket:/,$p' "$T/$2.txt" |
	    sed -n 's/^ *0000 - //p' | cut -c1-47 | tr -d ' \n-'
}
C_KEY=$(ticket_key "$CPORT" chainfix-ticket)
H_KEY=$(ticket_key "$HPORT" haproxy-ticket)
[ "$C_KEY" = "$MIDDLE" ] ||
    fail "staged chainfix's ticket is not under the middle key: $C_KEY (middle $MIDDLE)"
[ "$H_KEY" = "$MIDDLE" ] ||
    fail "HAProxy's ticket is not under the middle key: $H_KEY (middle $MIDDLE)"
ok "a staged chainfix and HAProxy encrypt with the same key, the middle one"

session_client
for v in 1.2 1.3; do
	sconn "c$v" "$CPORT" "$v" >/dev/null
	sconn "h$v" "$HPORT" "$v" >/dev/null
	sreused 0 "c$v-h" "$HPORT" "$v" "c$v" "a chainfix session resumed on HAProxy"
	sreused 0 "h$v-c" "$CPORT" "$v" "h$v" "a HAProxy session resumed on chainfix"
	# Each still resumes its own.
	sreused 1 "c$v-c" "$CPORT" "$v" "c$v" "chainfix does not resume its own session"
	sreused 1 "h$v-h" "$HPORT" "$v" "h$v" "HAProxy does not resume its own session"
done
ok "sessions do not cross between chainfix and HAProxy; each resumes its own"
echo quit >&7
exec 7>&-
chainfix_stop_clean chainfix
pass
