#!/bin/bash
# SNI: two sites on one listen address with different certificates and
# backends; the client's server name picks the site (exact names, then
# wildcards); no SNI or an unknown name gets the first site.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend alpha --cert "$P/leaf-full.pem" --key "$P/leaf.key"
A=$BG_PORT
py_backend beta --cert "$P/leaf-full.pem" --key "$P/leaf.key"
B=$BG_PORT
global_conf "$T/chainfix.conf"
# Port 0 too: the same address is one listener, shared by SNI.
site_conf "$T/chainfix.conf" local 127.0.0.1:0 "$A"
cat >>"$T/chainfix.conf" <<EOF

[other]
listen = 127.0.0.1:0
cert = $P/leaf2.pem
key = $P/leaf2.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$B
backend_ca = $P/root.pem
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port local)
[ "$(cfx_port other)" = "$PPORT" ] || fail "the two sites got two ports"

check() {	# SERVERNAME CN BACKEND
	local cn who
	cn=$(peer client --port "$PPORT" --cafile "$P/root.pem" --servername "$1" cert) ||
	    fail "$1: strict client failed"
	[ "$cn" = "$2" ] || fail "$1: got certificate $cn, wanted $2"
	who=$(peer client --port "$PPORT" --cafile "$P/root.pem" --servername "$1" who) ||
	    fail "$1: session failed"
	[ "$who" = "$3" ] || fail "$1: reached backend $who, wanted $3"
	ok "SNI $1: certificate $2, backend $3"
}
check localhost localhost alpha
check other.test other.test beta
check mail.other.test other.test beta

# No SNI, and an unknown name: the first site.
for args in "-noservername" "-servername unknown.example"; do
	# shellcheck disable=SC2086
	openssl s_client -connect "127.0.0.1:$PPORT" $args -CAfile "$P/root.pem" \
	    -verify_return_error </dev/null >"$T/s_client.log" 2>&1 ||
	    fail "s_client $args failed"
	grep -q "subject=CN = localhost" "$T/s_client.log" ||
	    fail "s_client $args did not get the first site's certificate"
	grep -q "Verify return code: 0 (ok)" "$T/s_client.log" ||
	    fail "s_client $args: chain does not verify"
	ok "s_client $args gets the default site"
done
wait_log "$T/chainfix.log" "sni=mail\.other\.test site=other backend=127\.0\.0\.1:$B "
chainfix_stop_clean
pass
