#!/bin/bash
# chainfix check against a server whose certificate names another host.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"
# leaf2: DNS:other.test, DNS:*.other.test, no address.
check_serve server "$P/leaf2.pem" "$P/leaf2.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "name mismatch is critical"
jcheck "$T/json.out" 'codes == ["hostname_mismatch"] and "localhost" in probs["hostname_mismatch"]["message"]' "hostname_mismatch names the host"
jcheck "$T/json.out" 'j["chain"]["verified"]' "the chain itself is fine"

run_check ip "127.0.0.1:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "address not covered"
jcheck "$T/ip.out" 'codes == ["hostname_mismatch"] and "address 127.0.0.1" in probs["hostname_mismatch"]["message"]' "address named"

run_check sni "127.0.0.1:$PORT" --servername mail.other.test --roots "$P/root.pem" --json
expect_rc 0 "--servername covered by the wildcard"
jcheck "$T/sni.out" 'j["target"]["servername"] == "mail.other.test" and codes == []' "wildcard match"

run_check deep "127.0.0.1:$PORT" --servername a.b.other.test --roots "$P/root.pem"
expect_rc 2 "a wildcard covers one label only"
grep_out "$T/deep.out" "^CRITICAL .*hostname not covered" "verdict names it"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

# A certificate naming the host only in its subject CN, without a SAN:
# strict clients ignore the CN.
openssl req -new -key "$P/leaf.key" -subj "/CN=localhost" -out "$T/cn.csr" \
    >"$T/openssl.log" 2>&1 || fail "openssl req"
printf 'extendedKeyUsage = serverAuth\n' >"$T/cn.ext"
openssl x509 -req -in "$T/cn.csr" -CA "$P/int2.pem" -CAkey "$P/int2.key" \
    -CAcreateserial -days 300 -extfile "$T/cn.ext" -out "$T/cn.pem" \
    >>"$T/openssl.log" 2>&1 || fail "openssl x509"
check_serve cn "$T/cn.pem" "$P/leaf.key" "$T/chain.pem"
run_check cn "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "CN without SAN"
jcheck "$T/cn.out" 'codes == ["hostname_mismatch"]' "the CN alone does not count"
pass
