#!/bin/bash
# Started as root with `user = nobody`: chainfix binds and loads its keys as
# root, then serves as nobody.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3
[ "$(id -u)" = 0 ] || skip "needs root to drop privileges"
id nobody >/dev/null 2>&1 || skip "no user nobody"

mkpki "$T/pki"
P=$T/pki
chmod 600 "$P/leaf.key"
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
cat >"$T/chainfix.conf" <<EOF
[global]
workers = 1
user = nobody

[u]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port u)
uid=$(awk '/^Uid:/ { print $2 " " $3 " " $4 " " $5 }' "/proc/$CFX_PID/status")
nobody=$(id -u nobody)
[ "$uid" = "$nobody $nobody $nobody $nobody" ] ||
    fail "running with uids '$uid', expected $nobody"
ok "running as nobody"
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
    fail "no service after dropping privileges"
ok "serving as nobody"
chainfix_stop_clean
pass
