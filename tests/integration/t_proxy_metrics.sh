#!/bin/bash
# Resumption and counters: backend TLS sessions are resumed (one full
# handshake per new client, not two), client sessions resume, and the admin
# endpoint's /metrics and /healthz reflect what happened.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl curl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
cat >"$T/chainfix.conf" <<EOF
[global]
workers = 2
allow_root = yes
admin_listen = 127.0.0.1:0

[m]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
chainfix_start chainfix "$T/chainfix.conf"
APORT=$(cfx_admin_port)
PPORT=$(cfx_port m)

# metric NAME: its value, summed over its series (the {site} counters).
metric() {
	curl -sS --max-time 10 "http://127.0.0.1:$APORT/metrics" |
	    awk -v m="$1" '{ n = $1; sub(/\{.*/, "", n) }
	    n == m { t += $2; found = 1 } END { if (found) print t }'
}

for i in 1 2 3 4 5; do
	[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
	    fail "session $i failed"
done
r=$(metric chainfix_backend_resumed_total)
[ -n "$r" ] || fail "no chainfix_backend_resumed_total in /metrics"
[ "$r" -ge 3 ] || fail "backend sessions resumed $r times out of 5 connections"
ok "backend TLS sessions resumed ($r of 5)"

# TLS 1.2 (session cache): s_client -reconnect resumes.
openssl s_client -connect "127.0.0.1:$PPORT" -servername localhost -tls1_2 \
    -CAfile "$P/root.pem" -reconnect </dev/null >"$T/reconnect.log" 2>&1 ||
    fail "s_client -reconnect failed"
grep -q "^Reused, TLSv1.2" "$T/reconnect.log" || fail "TLS 1.2 client sessions are not resumed"
# TLS 1.3 (tickets): Python keeps the session of a first connection.
/usr/bin/python3 - "$PPORT" "$P/root.pem" >"$T/tls13.log" 2>&1 <<'PY' || fail "TLS 1.3 resumption: $(cat "$T/tls13.log")"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
sess = None
for i in range(2):
    raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=sess)
    s.sendall(b"WHO\n")
    s.recv(100)          # the tickets arrive before the answer
    if i == 1 and not s.session_reused:
        sys.exit("second TLS 1.3 connection was not resumed")
    sess = s.session
    s.close()
PY
r=$(metric chainfix_handshakes_resumed_total)
[ "${r:-0}" -ge 6 ] || fail "chainfix_handshakes_resumed_total is ${r:-missing}"
ok "client TLS sessions resumed ($r)"

a=$(metric chainfix_connections_accepted_total)
h=$(metric chainfix_handshakes_total)
[ "${a:-0}" -ge 13 ] || fail "accepted counter is ${a:-missing}, expected >= 13"
[ "${h:-0}" -ge 13 ] || fail "handshake counter is ${h:-missing}, expected >= 13"
b=$(metric chainfix_client_bytes_received_total)
[ "${b:-0}" -ge 20 ] || fail "bytes received counter is ${b:-missing}"
ok "accepted $a, handshakes $h, bytes in $b"

printf 'garbage\r\n\r\n' | timeout 10 bash -c "cat >/dev/tcp/127.0.0.1/$PPORT" || true
wait_log "$T/chainfix.log" "client handshake failed"
curl -sS "http://127.0.0.1:$APORT/metrics" >"$T/metrics.txt"
grep -Eq '^chainfix_handshake_failures_total\{reason="protocol"\} [1-9]' "$T/metrics.txt" ||
    fail "handshake failure not counted (see $T/metrics.txt)"
ok "handshake failure counted"
# Why sessions ended, per site: the five "who" sessions ended with the
# client closing first (and the handshake failure ended before any site).
grep -Eq '^chainfix_sessions_closed_total\{site="m",reason="client_closed"\} ([5-9]|[1-9][0-9]+)$' "$T/metrics.txt" ||
    fail "closed sessions not counted by site and reason (see $T/metrics.txt)"
grep -Eq '^chainfix_sessions_closed_total\{site="-",reason="handshake_failed"\} [1-9]' "$T/metrics.txt" ||
    fail "a handshake failure is not counted as closed before a site (see $T/metrics.txt)"
ok "sessions closed counted by site and reason"
[ "$(metric chainfix_connections_active)" = 0 ] || fail "active gauge is not back to 0"
ok "active connections back to 0"
[ "$(curl -sS "http://127.0.0.1:$APORT/healthz")" = ok ] || fail "/healthz is not ok"
curl -sS "http://127.0.0.1:$APORT/chains" | grep -q '"m"' || fail "/chains lacks the site"
ok "/healthz and /chains answer"
chainfix_stop_clean
pass
