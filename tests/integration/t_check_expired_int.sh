#!/bin/bash
# chainfix check against a server sending an expired intermediate.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1-expired.pem"
check_serve server "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "expired intermediate is critical"
jcheck "$T/json.out" '"intermediate_expired" in codes and "CN=chainfix test int1" in probs["intermediate_expired"]["message"] and "expired on" in probs["intermediate_expired"]["message"]' "intermediate_expired names it"
jcheck "$T/json.out" '"leaf_expired" not in codes and "incomplete" not in codes and not j["chain"]["verified"]' "not blamed on the leaf"

# With the intermediates directory, the valid twin is known and the fix
# replaces the expired one.
run_check fix "localhost:$PORT" --roots "$P/root.pem" --json --intermediates "$P/intermediates"
expect_rc 2 "still critical with --intermediates"
jcheck "$T/fix.out" '"same name and key" in probs["intermediate_expired"]["message"]' "valid twin mentioned"
jcheck "$T/fix.out" 'j["fix"]["complete"] and j["fix"]["trusted"] and j["fix"]["count"] == 3 and not j["fix"]["already_sent"]' "the directory fixes it"
json_field "$T/fix.out" 'j["fix"]["bundle"]' >"$T/bundle.pem"
openssl verify -CAfile "$P/root.pem" -untrusted "$T/bundle.pem" "$P/leaf.pem" >"$T/verify.log" 2>&1 ||
    fail "the suggested bundle does not verify: $(cat "$T/verify.log")"
ok "suggested bundle verifies"
pass
