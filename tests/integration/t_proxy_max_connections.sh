#!/bin/bash
# max_connections: at the global limit chainfix stops accepting, the next
# connection waits in the listen backlog and is served as soon as one
# closes; /metrics shows the count and the limit.  A site's own
# max_connections (sites are told apart only by SNI) refuses handshakes
# for that site while it is full, and only for it.  Without the key the
# limit comes from the open files limit.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 curl openssl

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
max_connections = 3
admin_listen = 127.0.0.1:0
EOF
# Both sites on one address (port 0 too): SNI chooses.
site_conf "$T/chainfix.conf" main 127.0.0.1:0 "$BPORT"
cat >>"$T/chainfix.conf" <<EOF

[small]
listen = 127.0.0.1:0
cert = $P/leaf2.pem
key = $P/leaf2.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
max_connections = 1
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port main)
APORT=$(cfx_admin_port)
metric() {	# NAME: its value on /metrics
	curl -fsS "http://127.0.0.1:$APORT/metrics" | sed -n "s/^$1 //p"
}

# Hold connections open with ECHO sessions that stay silent (python).
cat >"$T/hold.py" <<'PY'
import socket, ssl, sys, time
port, name, n, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ctx = ssl.create_default_context(cafile=sys.argv[5])
socks = []
for _ in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=name)
    s.sendall(b"ECHO\n")
    socks.append(s)
print("held", flush=True)
time.sleep(secs)
PY

# Site "small": one at a time; "main" is not affected.
bg hold-small /usr/bin/python3 "$T/hold.py" "$PPORT" other.test 1 600 "$P/root.pem"
HOLD_SMALL=$BG_PID
wait_log "$T/hold-small.log" "^held"
! peer client --port "$PPORT" --cafile "$P/root.pem" --servername other.test who \
    >/dev/null 2>&1 || fail "site small took a second connection"
[ "$(metric chainfix_site_connections_refused_total)" = 1 ] ||
    fail "the refusal was not counted"
wait_log "$T/chainfix.log" "site small: max_connections \(1\) reached"
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
    fail "site main refused while small was full"
ok "a site at its max_connections refuses handshakes for it alone"

# Global: 1 held + 2 more = 3; the 4th waits in the backlog.
bg hold-main /usr/bin/python3 "$T/hold.py" "$PPORT" localhost 2 600 "$P/root.pem"
HOLD_MAIN=$BG_PID
wait_log "$T/hold-main.log" "^held"
[ "$(metric chainfix_connections_open)" = 3 ] || fail "open: $(metric chainfix_connections_open), wanted 3"
[ "$(metric chainfix_connections_max)" = 3 ] || fail "max: $(metric chainfix_connections_max)"
ok "/metrics: chainfix_connections_open 3, chainfix_connections_max 3"
wait_log "$T/chainfix.log" "max_connections \(3\) reached: new connections wait"
peer client --port "$PPORT" --cafile "$P/root.pem" who >"$T/waiter.out" 2>&1 &
WAITER=$!
sleep 2
kill -0 "$WAITER" 2>/dev/null || fail "the 4th connection did not wait: $(cat "$T/waiter.out")"
ok "the 4th connection waits in the backlog"
stop "$HOLD_SMALL" || true
wait "$WAITER" || fail "the waiting connection failed: $(cat "$T/waiter.out")"
[ "$(cat "$T/waiter.out")" = backend ] || fail "waiter: $(cat "$T/waiter.out")"
ok "served once a connection closed"
stop "$HOLD_MAIN" || true
i=0
until [ "$(metric chainfix_connections_open)" = 0 ]; do
	[ "$i" -lt 100 ] || fail "connections_open stays at $(metric chainfix_connections_open)"
	sleep 0.1
	i=$((i + 1))
done
ok "every connection released"
chainfix_stop_clean

# auto: (open files - 128) / 2.
: >"$T/auto.conf"
global_conf "$T/auto.conf"
site_conf "$T/auto.conf" main 127.0.0.1:0 "$BPORT"
bg auto bash -c 'ulimit -n 1128 && exec "$0" -c "$1"' "$CHAINFIX" "$T/auto.conf"
CFX_PID=$BG_PID
wait_log "$T/auto.log" "max_connections 500 \(auto: from the open files limit\)"
ok "auto: 500 with 1,128 open files"
# That line comes before the signal handlers: a TERM sent before chainfix
# serves ends it with the default action (exit 143; seen under TSan).
wait_log "$T/auto.log" "chainfix [^ ]+: serving [0-9]+ sites? on" 60
chainfix_stop_clean auto
pass
