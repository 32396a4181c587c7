#!/bin/bash
# IPv6: a site listening on [::1] serves strict clients, and its session
# lines show the IPv6 client address.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3
/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null || skip "no IPv6 loopback"

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[v6]
listen = [::1]:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
chainfix_start chainfix "$T/chainfix.conf"
[ "$(cfx_addr v6)" = "[::1]:$(cfx_port v6)" ] || fail "listen report: $(cat "$CFX_REPORT")"
openssl s_client -connect "$(cfx_addr v6)" -servername localhost \
    -verify_return_error -verify_hostname localhost -CAfile "$P/root.pem" \
    </dev/null >"$T/s_client.log" 2>&1 || fail "s_client over IPv6 failed"
grep -q "Verify return code: 0 (ok)" "$T/s_client.log" || fail "no verified chain over IPv6"
ok "strict client over IPv6"
wait_log "$T/chainfix.log" "session \[::1\]:[0-9]+ sni=localhost site=v6 "
ok "IPv6 client address logged"
chainfix_stop_clean
pass
