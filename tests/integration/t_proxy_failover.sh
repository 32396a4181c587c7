#!/bin/bash
# Failover: the first backend is down, the second one serves; with every
# backend down the client is closed and the session line says why.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
closed_port
DEAD1=$BG_PORT
closed_port
DEAD2=$BG_PORT
py_backend live --cert "$P/leaf-full.pem" --key "$P/leaf.key"
LIVE=$BG_PORT

global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[failover]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$DEAD1, 127.0.0.1:$LIVE
backend_ca = $P/root.pem
connect_timeout = 5

[alldown]
listen = 127.0.0.2:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$DEAD1, 127.0.0.1:$DEAD2
backend_ca = $P/root.pem
connect_timeout = 5
EOF
chainfix_start chainfix "$T/chainfix.conf"
P_FO=$(cfx_port failover)

for i in 1 2 3; do
	out=$(peer client --port "$P_FO" --cafile "$P/root.pem" who) ||
	    fail "failover session $i failed"
	[ "$out" = live ] || fail "failover reached '$out'"
done
wait_log "$T/chainfix.log" "backend 127\.0\.0\.1:$DEAD1: Connection refused"
wait_log "$T/chainfix.log" "site=failover backend=127\.0\.0\.1:$LIVE in=4 out=5 .*: client closed"
ok "first backend down: second one used"

if out=$(cfx_client alldown --cafile "$P/root.pem" who 2>"$T/alldown.err"); then
	fail "a session went through with every backend down ('$out')"
fi
wait_log "$T/chainfix.log" "site=alldown .*: no backend reachable \(last: 127\.0\.0\.1:$DEAD2: "
ok "every backend down: client closed and logged"

# A backend that accepts TCP and never answers the TLS handshake: it is
# given up after connect_timeout and the next one serves.
silent_backend silent
SILENT=$BG_PORT
cat >>"$T/chainfix.conf" <<EOF

[slow]
listen = 127.0.0.3:0
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
[ "$(cfx_client slow --cafile "$P/root.pem" who)" = live ] ||
    fail "no failover after a connect timeout"
wait_log "$T/chainfix.log" "backend 127\\.0\\.0\\.1:$SILENT: timeout \\(2s\\)"
ok "silent backend given up after connect_timeout, next one used"

# The daemon still serves.
[ "$(peer client --port "$P_FO" --cafile "$P/root.pem" who)" = live ] ||
    fail "no service after the failures"
chainfix_stop_clean
pass
