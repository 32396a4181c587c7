#!/bin/bash
# Each site's whole TLS policy holds after SNI on a shared listen address,
# and a TLS session resumes only on the site that made it.  The default
# site allows TLS 1.2; site "strict" (same address) wants TLS 1.3 with one
# suite.  A client offering only what the default site allows reaches the
# default site and is refused by "strict"; a session made on one site and
# offered to the other gets a full handshake (TLS 1.3 tickets, TLS 1.2
# tickets and session ids alike).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
# Both sites on one address (port 0 too): SNI chooses.
site_conf "$T/chainfix.conf" open 127.0.0.1:0 "$BPORT"
cat >>"$T/chainfix.conf" <<EOF

[strict]
listen = 127.0.0.1:0
cert = $P/leaf2.pem
key = $P/leaf2.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
min_protocol = TLSv1.3
ciphersuites = TLS_AES_256_GCM_SHA384
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port open)

# sc NAME SERVERNAME ARGS...: one s_client run, output in $T/NAME.out; the
# sleep on stdin gives TLS 1.3 tickets time to arrive before it quits.
sc() {
	local name=$1 sn=$2
	shift 2
	sleep 1 | openssl s_client -connect "127.0.0.1:$PPORT" -servername "$sn" \
	    -CAfile "$P/root.pem" -verify_return_error "$@" >"$T/$name.out" 2>&1
}

# Policy: TLS 1.2 only.
sc tls12-open localhost -tls1_2 || fail "the default site refused TLS 1.2: $(tail -n 5 "$T/tls12-open.out")"
grep -q "subject=CN = localhost" "$T/tls12-open.out" || fail "TLS 1.2 to localhost: wrong site"
! sc tls12-strict other.test -tls1_2 || fail "site strict (min_protocol TLSv1.3) accepted TLS 1.2"
ok "TLS 1.2: accepted by the default site, refused by strict"
# Policy: a TLS 1.3 suite the default allows, strict does not.
sc aes128-open localhost -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 ||
    fail "the default site refused TLS_AES_128_GCM_SHA256"
! sc aes128-strict other.test -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 ||
    fail "site strict accepted a suite outside its ciphersuites"
sc aes256-strict other.test -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 ||
    fail "site strict refused its own suite"
grep -q "subject=CN = other.test" "$T/aes256-strict.out" || fail "strict: wrong certificate"
ok "TLS 1.3 suites: each site's own list"

# Sessions: made on one site, offered to each.
resume() {	# WHAT FROM_SN TO_SN WANT ARGS...
	local what=$1 from=$2 to=$3 want=$4
	shift 4
	rm -f "$T/sess"
	sc "made-$what" "$from" -sess_out "$T/sess" "$@" || fail "$what: first handshake failed"
	[ -s "$T/sess" ] || fail "$what: no session saved"
	sc "again-$what" "$to" -sess_in "$T/sess" "$@" || fail "$what: second handshake failed"
	grep -q "^$want, TLSv1" "$T/again-$what.out" ||
	    fail "$what: made on $from, offered to $to: wanted $want, got: $(grep -E '^(New|Reused),' "$T/again-$what.out")"
	ok "$what: made on $from, offered to $to: $want"
}
resume tls13-same other.test other.test Reused -tls1_3
resume tls13-cross other.test localhost New -tls1_3
resume tls13-cross2 localhost other.test New -tls1_3
resume tls13-open localhost localhost Reused -tls1_3
resume tls12-ticket-same localhost localhost Reused -tls1_2
resume tls12-id-same localhost localhost Reused -tls1_2 -no_ticket
chainfix_stop_clean
pass
