#!/bin/bash
# Backend verification: a backend whose certificate chains to another CA,
# one that does not match the pin, and one whose name does not match are
# each refused and logged; a pinned self-signed backend (Exchange's default
# certificate) and a correctly verified one work.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
cat "$P/leaf2.pem" "$P/int2.pem" "$P/int1.pem" >"$T/leaf2-full.pem"

py_backend good --cert "$P/leaf-full.pem" --key "$P/leaf.key"
GOOD=$BG_PORT
py_backend self --cert "$P/self.pem" --key "$P/self.key"
SELF=$BG_PORT
py_backend other --cert "$T/leaf2-full.pem" --key "$P/leaf2.key"
OTHER=$BG_PORT

PIN=$(openssl x509 -in "$P/self.pem" -outform DER | sha256sum | cut -d' ' -f1)
BADPIN=$(printf '%064d' 0)

global_conf "$T/chainfix.conf"
# The same certificate on every site: an address of its own for each.
site_block "$T/chainfix.conf" goodca 127.0.0.1:0 "127.0.0.1:$GOOD" "backend_ca = $P/root.pem"
site_block "$T/chainfix.conf" wrongca 127.0.0.2:0 "127.0.0.1:$GOOD" "backend_ca = $P/root-old.pem"
site_block "$T/chainfix.conf" goodpin 127.0.0.3:0 "127.0.0.1:$SELF" "backend_verify = sha256:$PIN"
site_block "$T/chainfix.conf" badpin 127.0.0.4:0 "127.0.0.1:$SELF" "backend_verify = sha256:$BADPIN"
site_block "$T/chainfix.conf" badname 127.0.0.5:0 "127.0.0.1:$OTHER" "backend_ca = $P/root.pem" "backend_sni = localhost"
site_block "$T/chainfix.conf" badip 127.0.0.6:0 "127.0.0.1:$OTHER" "backend_ca = $P/root.pem"
site_block "$T/chainfix.conf" selfca 127.0.0.7:0 "127.0.0.1:$SELF" "backend_ca = $P/root.pem"
# A backend named, not numbered: resolved (hosts file), name verified.
site_block "$T/chainfix.conf" byname 127.0.0.8:0 "localhost:$GOOD" "backend_ca = $P/root.pem"
chainfix_start chainfix "$T/chainfix.conf"

who() {	# SITE
	cfx_client "$1" --cafile "$P/root.pem" who 2>"$T/who-$1.err"
}

[ "$(who goodca)" = good ] || fail "verified backend not reached: $(cat "$T/who-goodca.err")"
ok "backend verified by CA and IP address works"
[ "$(who goodpin)" = self ] || fail "pinned self-signed backend not reached"
ok "pinned self-signed backend works"
if getent hosts localhost | grep -q '^127\.0\.0\.1'; then
	[ "$(who byname)" = good ] || fail "backend by name not reached: $(cat "$T/who-byname.err")"
	ok "backend given by name: resolved and its name verified"
fi

refused() {	# SITE PATTERN WHAT
	local out
	if out=$(who "$1"); then
		fail "$3: session went through (got '$out')"
	fi
	wait_log "$T/chainfix.log" "site=$1 .*: backend .*$2"
	ok "$3: refused and logged"
}
refused wrongca "certificate verify failed: unable to get local issuer certificate" "backend from another CA"
refused badpin "does not match the pin: sha256:$PIN" "wrong pin"
refused badname "certificate verify failed: hostname mismatch" "backend_sni name mismatch"
refused badip "certificate verify failed: IP address mismatch" "backend address mismatch"
refused selfca "certificate verify failed: self.signed certificate" "unpinned self-signed backend"

# No failover past a refusal, and no bytes reached the refused backends.
grep -q "backend other: .*" "$T/other.log" && grep "UP\|WHO" "$T/other.log" &&
    fail "the mismatching backend received data"
chainfix_stop_clean
pass
