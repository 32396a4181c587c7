#!/bin/bash
# chainfix check against a server sending leaf, int1, int2: incorrect order.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int1.pem" "$P/int2.pem"
check_serve server "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "misordered chain is a warning"
jcheck "$T/json.out" 'codes == ["incorrect_order"] and probs["incorrect_order"]["severity"] == "warning"' "only incorrect_order"
jcheck "$T/json.out" '"#0 #2 #1" in probs["incorrect_order"]["message"]' "the right order is named"
jcheck "$T/json.out" 'j["chain"]["verified"] and [c["role"] for c in j["chain"]["sent"]] == ["leaf", "intermediate", "intermediate"]' "still verifies, nothing extra"

run_check human "localhost:$PORT" --roots "$P/root.pem"
expect_rc 1 "human report"
head -n 1 "$T/human.out" | grep -q "^WARNING localhost:$PORT: incorrect order$" ||
    fail "verdict line: $(head -n 1 "$T/human.out")"
ok "verdict line"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

# Order is judged by signatures, not names: a decoy with int1's name but
# another key, sent where int1 belongs, is extra, and int1 after it is
# still in order.
check_cat "$T/decoy.pem" "$P/int2.pem" "$P/int1-decoy.pem" "$P/int1.pem"
check_serve decoy "$P/leaf.pem" "$P/leaf.key" "$T/decoy.pem"
run_check decoy "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "decoy"
jcheck "$T/decoy.out" 'codes == ["extra_certificates"] and [c["role"] for c in j["chain"]["sent"]] == ["leaf", "intermediate", "extra", "intermediate"]' "the decoy is extra, the order is right"
pass
