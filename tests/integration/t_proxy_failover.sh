#!/bin/bash
# Failover: the first backend is down, the second one serves; with every
# backend down the client is closed and the session line says why.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
DEAD1=$(free_port)
DEAD2=$(free_port)
LIVE=$(free_port)
py_backend live "$LIVE" --cert "$P/leaf-full.pem" --key "$P/leaf.key"

P_FO=$(free_port)
P_DOWN=$(free_port)
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[failover]
listen = 127.0.0.1:$P_FO
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$DEAD1, 127.0.0.1:$LIVE
backend_ca = $P/root.pem
connect_timeout = 5

[alldown]
listen = 127.0.0.1:$P_DOWN
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$DEAD1, 127.0.0.1:$DEAD2
backend_ca = $P/root.pem
connect_timeout = 5
EOF
chainfix_start chainfix "$T/chainfix.conf"

for i in 1 2 3; do
	out=$(peer client --port "$P_FO" --cafile "$P/root.pem" who) ||
	    fail "failover session $i failed"
	[ "$out" = live ] || fail "failover reached '$out'"
done
wait_log "$T/chainfix.log" "backend 127\.0\.0\.1:$DEAD1: Connection refused"
wait_log "$T/chainfix.log" "site=failover backend=127\.0\.0\.1:$LIVE in=4 out=5 .*: client closed"
ok "first backend down: second one used"

if out=$(peer client --port "$P_DOWN" --cafile "$P/root.pem" who 2>"$T/alldown.err"); then
	fail "a session went through with every backend down ('$out')"
fi
wait_log "$T/chainfix.log" "site=alldown .*: no backend reachable \(last: 127\.0\.0\.1:$DEAD2: "
ok "every backend down: client closed and logged"

# A backend that accepts TCP and never answers the TLS handshake: it is
# given up after connect_timeout and the next one serves.
SILENT=$(free_port)
silent_backend silent "$SILENT"
P_SLOW=$(free_port)
cat >>"$T/chainfix.conf" <<EOF

[slow]
listen = 127.0.0.1:$P_SLOW
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$SILENT, 127.0.0.1:$LIVE
backend_ca = $P/root.pem
connect_timeout = 2
EOF
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 2"
[ "$(peer client --port "$P_SLOW" --cafile "$P/root.pem" who)" = live ] ||
    fail "no failover after a connect timeout"
wait_log "$T/chainfix.log" "backend 127\\.0\\.0\\.1:$SILENT: timeout \\(2s\\)"
ok "silent backend given up after connect_timeout, next one used"

# The daemon still serves.
[ "$(peer client --port "$P_FO" --cafile "$P/root.pem" who)" = live ] ||
    fail "no service after the failures"
chainfix_stop_clean
pass
