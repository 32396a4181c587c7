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

GOOD=$(free_port); py_backend good "$GOOD" --cert "$P/leaf-full.pem" --key "$P/leaf.key"
SELF=$(free_port); py_backend self "$SELF" --cert "$P/self.pem" --key "$P/self.key"
OTHER=$(free_port); py_backend other "$OTHER" --cert "$T/leaf2-full.pem" --key "$P/leaf2.key"

PIN=$(openssl x509 -in "$P/self.pem" -outform DER | sha256sum | cut -d' ' -f1)
BADPIN=$(printf '%064d' 0)

global_conf "$T/chainfix.conf"
P_OK=$(free_port);       site_block "$T/chainfix.conf" goodca "$P_OK" "127.0.0.1:$GOOD" "backend_ca = $P/root.pem"
P_WRONGCA=$(free_port);  site_block "$T/chainfix.conf" wrongca "$P_WRONGCA" "127.0.0.1:$GOOD" "backend_ca = $P/root-old.pem"
P_PIN=$(free_port);      site_block "$T/chainfix.conf" goodpin "$P_PIN" "127.0.0.1:$SELF" "backend_verify = sha256:$PIN"
P_BADPIN=$(free_port);   site_block "$T/chainfix.conf" badpin "$P_BADPIN" "127.0.0.1:$SELF" "backend_verify = sha256:$BADPIN"
P_NAME=$(free_port);     site_block "$T/chainfix.conf" badname "$P_NAME" "127.0.0.1:$OTHER" "backend_ca = $P/root.pem" "backend_sni = localhost"
P_IP=$(free_port);       site_block "$T/chainfix.conf" badip "$P_IP" "127.0.0.1:$OTHER" "backend_ca = $P/root.pem"
P_SELFCA=$(free_port);   site_block "$T/chainfix.conf" selfca "$P_SELFCA" "127.0.0.1:$SELF" "backend_ca = $P/root.pem"
# A backend named, not numbered: resolved (hosts file), name verified.
P_BYNAME=$(free_port);   site_block "$T/chainfix.conf" byname "$P_BYNAME" "localhost:$GOOD" "backend_ca = $P/root.pem"
chainfix_start chainfix "$T/chainfix.conf"

who() {
	peer client --port "$1" --cafile "$P/root.pem" who 2>"$T/who-$1.err"
}

[ "$(who "$P_OK")" = good ] || fail "verified backend not reached: $(cat "$T/who-$P_OK.err")"
ok "backend verified by CA and IP address works"
[ "$(who "$P_PIN")" = self ] || fail "pinned self-signed backend not reached"
ok "pinned self-signed backend works"
if getent hosts localhost | grep -q '^127\.0\.0\.1'; then
	[ "$(who "$P_BYNAME")" = good ] || fail "backend by name not reached: $(cat "$T/who-$P_BYNAME.err")"
	ok "backend given by name: resolved and its name verified"
fi

refused() {	# PORT SITE PATTERN WHAT
	local out
	if out=$(who "$1"); then
		fail "$4: session went through (got '$out')"
	fi
	wait_log "$T/chainfix.log" "site=$2 .*: backend .*$3"
	ok "$4: refused and logged"
}
refused "$P_WRONGCA" wrongca "certificate verify failed: unable to get local issuer certificate" "backend from another CA"
refused "$P_BADPIN" badpin "does not match the pin: sha256:$PIN" "wrong pin"
refused "$P_NAME" badname "certificate verify failed: hostname mismatch" "backend_sni name mismatch"
refused "$P_IP" badip "certificate verify failed: IP address mismatch" "backend address mismatch"
refused "$P_SELFCA" selfca "certificate verify failed: self.signed certificate" "unpinned self-signed backend"

# No failover past a refusal, and no bytes reached the refused backends.
grep -q "backend other: .*" "$T/other.log" && grep "UP\|WHO" "$T/other.log" &&
    fail "the mismatching backend received data"
chainfix_stop_clean
pass
