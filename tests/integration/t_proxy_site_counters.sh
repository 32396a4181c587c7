#!/usr/bin/env bash
# The session counters are labelled by site: two sites on one address (SNI
# picks), sessions to each, and /metrics counts each site's handshakes,
# bytes and backend failures on its own series.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need curl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend one --cert "$P/leaf-full.pem" --key "$P/leaf.key"
ONE=$BG_PORT
closed_port
DEAD=$BG_PORT

global_conf "$T/chainfix.conf"
sed -i 's/^\[global\]$/[global]\nadmin_listen = 127.0.0.1:0/' "$T/chainfix.conf"
site_conf "$T/chainfix.conf" a 127.0.0.1:0 "$ONE"
# Site b on the same address, chosen by SNI other.test (leaf2's name).
cat >>"$T/chainfix.conf" <<SITEB
[b]
listen = 127.0.0.1:0
cert = $P/leaf2.pem
key = $P/leaf2.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$DEAD, 127.0.0.1:$ONE
backend_ca = $P/root.pem
backend_sni = localhost
SITEB
chainfix_start chainfix "$T/chainfix.conf"
APORT=$(cfx_admin_port)

for i in 1 2 3; do
	cfx_client a --cafile "$P/root.pem" up 1000 >/dev/null ||
		fail "site a, session $i"
done
cfx_client a --cafile "$P/root.pem" --servername other.test up 5000 \
    >/dev/null || fail "site b"

curl -sS "http://127.0.0.1:$APORT/metrics" >"$T/m.prom"
v() { awk -v s="$1" '$1 == s { print $2 }' "$T/m.prom"; }
[ "$(v 'chainfix_handshakes_total{site="a"}')" = 3 ] ||
	fail "site a handshakes: $(grep 'handshakes_total{' "$T/m.prom")"
[ "$(v 'chainfix_handshakes_total{site="b"}')" = 1 ] || fail "site b handshakes"
a_in=$(v 'chainfix_client_bytes_received_total{site="a"}')
b_in=$(v 'chainfix_client_bytes_received_total{site="b"}')
[ "${a_in:-0}" -ge 3000 ] && [ "${a_in:-0}" -lt 5000 ] ||
	fail "site a bytes in: $a_in"
[ "${b_in:-0}" -ge 5000 ] && [ "${b_in:-0}" -lt 6000 ] || fail "site b bytes in: $b_in"
[ "$(v 'chainfix_backend_connect_failures_total{site="b"}')" = 1 ] ||
	fail "site b's dead backend not counted on b"
[ "$(v 'chainfix_backend_connect_failures_total{site="a"}')" = 0 ] ||
	fail "a failure counted on site a"
grep -q '^chainfix_connections_accepted_total 4$' "$T/m.prom" ||
	fail "accepted connections (no site before SNI): $(grep accepted_total "$T/m.prom")"
ok "handshakes, bytes and backend failures counted per site; accepted unlabelled"
chainfix_stop_clean
pass
