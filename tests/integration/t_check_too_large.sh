#!/bin/bash
# chainfix check against a server whose Certificate message exceeds one TCP
# initial window (a leaf with hundreds of names, as multi-domain
# certificates have).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki

{
	printf 'basicConstraints = critical,CA:FALSE\n'
	printf 'keyUsage = critical,digitalSignature,keyEncipherment\n'
	printf 'extendedKeyUsage = serverAuth\n'
	printf 'subjectAltName = DNS:localhost'
	for i in $(seq 1 700); do
		printf ',DNS:host-%04d.a-rather-long-domain-name.example' "$i"
	done
	printf '\n'
} >"$T/big.ext"
openssl req -new -key "$P/leaf.key" -subj "/CN=localhost" -out "$T/big.csr" \
    >"$T/openssl.log" 2>&1 || fail "openssl req"
openssl x509 -req -in "$T/big.csr" -CA "$P/int2.pem" -CAkey "$P/int2.key" \
    -CAcreateserial -days 30 -extfile "$T/big.ext" -out "$T/big.pem" \
    >>"$T/openssl.log" 2>&1 || fail "openssl x509"

check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"
check_serve server "$T/big.pem" "$P/leaf.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json --warn-days 7
expect_rc 1 "too large a chain is a warning"
jcheck "$T/json.out" 'codes == ["chain_too_large"] and j["chain"]["certificate_message_size"] > 14600' "chain_too_large"
jcheck "$T/json.out" 'str(j["chain"]["certificate_message_size"]) in probs["chain_too_large"]["message"]' "size reported"
jcheck "$T/json.out" 'j["chain"]["sent"][0]["der_size"] > 14600 - 7 - 3 * 3 - j["chain"]["sent"][1]["der_size"] - j["chain"]["sent"][2]["der_size"]' "per-certificate sizes add up"

# The normal leaf with the same chain is well under the window.
check_serve small "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"
run_check small "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 0 "normal chain"
jcheck "$T/small.out" 'j["chain"]["certificate_message_size"] < 14600 and "chain_too_large" not in codes' "no size warning"
pass
