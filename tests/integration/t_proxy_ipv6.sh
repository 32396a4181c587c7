#!/bin/bash
# IPv6: a site listening on [::1] serves strict clients, and its session
# lines show the IPv6 client address.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3
/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null || skip "no IPv6 loopback"

mkpki "$T/pki"
P=$T/pki
BPORT=$(free_port)
PPORT=$(/usr/bin/python3 -c 'import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
print(s.getsockname()[1])')
py_backend backend "$BPORT" --cert "$P/leaf-full.pem" --key "$P/leaf.key"
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[v6]
listen = [::1]:$PPORT
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
chainfix_start chainfix "$T/chainfix.conf"
openssl s_client -connect "[::1]:$PPORT" -servername localhost \
    -verify_return_error -verify_hostname localhost -CAfile "$P/root.pem" \
    </dev/null >"$T/s_client.log" 2>&1 || fail "s_client over IPv6 failed"
grep -q "Verify return code: 0 (ok)" "$T/s_client.log" || fail "no verified chain over IPv6"
ok "strict client over IPv6"
wait_log "$T/chainfix.log" "session \[::1\]:[0-9]+ sni=localhost site=v6 "
ok "IPv6 client address logged"
chainfix_stop_clean
pass
