#!/bin/bash
# Protocol policy: TLS 1.2+ by default (a TLS 1.0 client is refused); with
# min_protocol = TLSv1 an old device's TLS 1.0 handshake succeeds and the
# lowered security level is logged as a warning.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
# One certificate on both sites: an address of its own for each.
for site in new old; do
	host=127.0.0.1
	[ "$site" = old ] && host=127.0.0.2
	cat >>"$T/chainfix.conf" <<EOF
[$site]
listen = $host:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
	[ "$site" = old ] && echo "min_protocol = TLSv1" >>"$T/chainfix.conf"
	echo >>"$T/chainfix.conf"
done
chainfix_start chainfix "$T/chainfix.conf"
grep -q "site old: min_protocol TLSv1: old protocols enabled" "$T/chainfix.log" ||
    fail "no warning for the lowered protocol floor"
grep -q "site new: min_protocol" "$T/chainfix.log" &&
    fail "the default site warns about old protocols"
ok "lowering min_protocol is warned about, only where asked"

tls10() {	# SITE
	openssl s_client -connect "$(cfx_addr "$1")" -servername localhost -tls1 \
	    -cipher 'DEFAULT:@SECLEVEL=0' -CAfile "$P/root.pem" \
	    -verify_return_error </dev/null
}
tls10 new >"$T/new.log" 2>&1 && fail "TLS 1.0 accepted by default"
ok "TLS 1.0 refused by default"
tls10 old >"$T/old.log" 2>&1 || fail "TLS 1.0 refused with min_protocol = TLSv1"
grep -Eq "Protocol *: TLSv1$" "$T/old.log" || fail "not a TLS 1.0 session"
grep -q "Verify return code: 0 (ok)" "$T/old.log" || fail "TLS 1.0 chain does not verify"
ok "TLS 1.0 client served with min_protocol = TLSv1"
wait_log "$T/chainfix.log" "site=old .*: client handshake failed|site=old .*: client closed"
chainfix_stop_clean
pass
