#!/bin/bash
# backend_tls = no: TLS to the client, plain TCP to the backend.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend plain
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[plain]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_tls = no
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port plain)
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = plain ] ||
    fail "plain backend not reached"
N=$((8 * 1024 * 1024))
peer client --port "$PPORT" --cafile "$P/root.pem" up "$N" >/dev/null ||
    fail "upload to the plain backend failed"
peer client --port "$PPORT" --cafile "$P/root.pem" down "$N" >/dev/null ||
    fail "download from the plain backend failed"
ok "TLS in front of a plain TCP backend, 8 MiB each way intact"
wait_log "$T/chainfix.log" "site=plain backend=127\.0\.0\.1:$BPORT in=[0-9]{7,} "
chainfix_stop_clean
pass
