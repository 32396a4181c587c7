#!/bin/bash
# A fleet on one machine: two chainfix instances sharing ticket_keys behind
# HAProxy (mode tcp, round robin: a real L4 balancer).  A client that
# reconnects with its session resumes every time after the first, on both
# instances, with TLS 1.2 tickets and TLS 1.3 resumption.  After
# `chainfix ticket-keys rotate` and a reload of both, a session issued
# under the previous key still resumes, and new tickets are made with the
# new key: they resume on a third instance that holds only the new key,
# where the old session does not.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need haproxy /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
KEYS=$T/ticket.keys
"$CHAINFIX" ticket-keys rotate "$KEYS" >"$T/rotate.log" 2>&1 ||
    fail "ticket-keys rotate could not create $KEYS: $(cat "$T/rotate.log")"
[ "$(stat -c %a "$KEYS")" = 600 ] || fail "a new key file is not mode 0600"

# instance NAME: a chainfix in front of its own backend (named NAME, so the
# client sees which instance served it), sharing $KEYS; sets port_NAME and
# pid_NAME.  KEYFILE overrides the key file.
instance() {
	local name=$1 bport port
	py_backend "backend-$name" --cert "$P/leaf-full.pem" --key "$P/leaf.key"
	bport=$BG_PORT
	: >"$T/$name.conf"
	global_conf "$T/$name.conf"
	cat >>"$T/$name.conf" <<CONF
ticket_keys = ${KEYFILE:-$KEYS}
watch = no
CONF
	# One site name for the whole fleet: sessions belong to the site.
	site_conf "$T/$name.conf" fleet 0 "$bport"
	chainfix_start "$name" "$T/$name.conf"
	port=$(cfx_port fleet)
	eval "port_$name=$port pid_$name=$CFX_PID"
}
instance A
instance B

cat >"$T/haproxy.cfg.in" <<CFG
global
	maxconn 200
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fleet
	bind 127.0.0.1:@HPORT@
	default_backend chainfix
backend chainfix
	balance roundrobin
	server a 127.0.0.1:$port_A
	server b 127.0.0.1:$port_B
CFG
haproxy_start "$T/haproxy.cfg.in"

session_client

for v in 1.2 1.3; do
	r=$(sconn "v$v-0" "$HPORT" "$v")
	case "$r" in
	*"reused=0 backend=backend-"[AB]) ;;
	*) fail "TLS $v: first connection: $r" ;;
	esac
	prev=v$v-0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		r=$(sconn "v$v-$i" "$HPORT" "$v" "$prev")
		case "$r" in
		*"reused=1 backend=backend-"[AB]) ;;
		*) fail "TLS $v: reconnection $i did not resume: $r" ;;
		esac
		prev=v$v-$i
	done
	for b in A B; do
		grep -Eq "^v$v-([1-9]|10) reused=1 backend=backend-$b\$" "$T/client.log" ||
		    fail "TLS $v: no resumption on instance $b"
	done
	ok "TLS $v: 10 reconnections through HAProxy all resumed, on both instances"
done

# Rotate, reload both.
"$CHAINFIX" ticket-keys rotate "$KEYS" >"$T/rotate2.log" 2>&1 ||
    fail "ticket-keys rotate failed: $(cat "$T/rotate2.log")"
# "FILE: new encrypting key ID; ...": every instance must name that key.
ID=$(sed -n 's/.*new encrypting key \([0-9a-f]\{16\}\);.*/\1/p' "$T/rotate2.log")
[ -n "$ID" ] || fail "rotate does not name the new key: $(cat "$T/rotate2.log")"
[ "$(wc -l <"$KEYS")" = 2 ] || fail "the rotated file does not hold 2 keys"
for n in A B; do
	eval "kill -HUP \$pid_$n"
	wait_log "$T/$n.log" "reloaded .* \(generation 2\)"
	grep -q "session tickets: 2 keys from $KEYS, encrypting with key $ID" "$T/$n.log" ||
	    fail "instance $n does not encrypt with the new key $ID"
done
ok "rotated; both instances reloaded with 2 keys, encrypting with the new key $ID"

# An instance that knows only the new key (not behind HAProxy).
head -n 1 "$KEYS" >"$T/new-only.keys"	# the new key
chmod 600 "$T/new-only.keys"
KEYFILE=$T/new-only.keys instance C

for v in 1.2 1.3; do
	# The last session made before the rotation (key 1) still resumes...
	r=$(sconn "old$v" "$HPORT" "$v" "v$v-10")
	case "$r" in *"reused=1 "*) ;; *) fail "TLS $v: a session under the previous key did not resume after the rotation: $r" ;; esac
	# ... and was not made with the new key.
	r=$(sconn "old$v-c" "$port_C" "$v" "v$v-10")
	case "$r" in *"reused=0 "*) ;; *) fail "TLS $v: the pre-rotation ticket opened with the new key alone: $r" ;; esac
	# New tickets, from a full handshake or the resumption, use the new key.
	r=$(sconn "new$v" "$HPORT" "$v")
	r=$(sconn "new$v-c" "$port_C" "$v" "new$v")
	case "$r" in *"reused=1 "*) ;; *) fail "TLS $v: a ticket issued after the rotation is not under the new key: $r" ;; esac
	r=$(sconn "renew$v-c" "$port_C" "$v" "old$v")
	case "$r" in *"reused=1 "*) ;; *) fail "TLS $v: the ticket renewed on resumption is not under the new key: $r" ;; esac
	ok "TLS $v: after rotation the old session resumes, new tickets use the new key"
done

echo quit >&7
exec 7>&-
for n in C B A; do
	eval "CFX_PID=\$pid_$n"
	chainfix_stop_clean "$n"
done
grep -Eqi "error|warning" "$T/rotate.log" "$T/rotate2.log" &&
    fail "rotate complained: $(cat "$T/rotate.log" "$T/rotate2.log")"
pass
