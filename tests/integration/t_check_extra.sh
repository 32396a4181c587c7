#!/bin/bash
# chainfix check against a server sending an unrelated extra certificate
# and a duplicate: extra certificates.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
# leaf2 is another server's certificate: it issued nothing here.
check_cat "$T/chain.pem" "$P/int2.pem" "$P/leaf2.pem" "$P/int1.pem"
check_serve server "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "extra certificate is a warning"
jcheck "$T/json.out" 'codes == ["extra_certificates"]' "only extra_certificates (no order problem)"
jcheck "$T/json.out" '"CN=other.test" in probs["extra_certificates"]["message"] and j["chain"]["sent"][2]["role"] == "extra"' "the extra one is named"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

# A duplicate intermediate is extra too.
check_cat "$T/chain2.pem" "$P/int2.pem" "$P/int1.pem" "$P/int2.pem"
check_serve server2 "$P/leaf.pem" "$P/leaf.key" "$T/chain2.pem"
run_check dup "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "duplicate"
jcheck "$T/dup.out" 'codes == ["extra_certificates"] and j["chain"]["sent"][3]["role"] == "duplicate" and j["chain"]["sent"][3]["duplicate_of"] == 1' "duplicate named"
pass
