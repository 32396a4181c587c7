#!/bin/bash
# chainfix check against a server sending only its leaf: incomplete.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_serve server "$P/leaf.pem" "$P/leaf.key"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "leaf only"
jcheck "$T/json.out" 'j["verdict"] == "CRITICAL" and "incomplete" in codes and probs["incomplete"]["severity"] == "critical"' "incomplete is critical"
jcheck "$T/json.out" 'j["chain"]["missing_issuer"] == {"subject": "CN=chainfix test int2", "issuer_of": "CN=localhost", "aia_url": "http://pki.invalid/int2.cer"}' "missing issuer and AIA URL"
jcheck "$T/json.out" 'j["chain"]["count"] == 1 and not j["chain"]["verified"]' "one certificate, not verified"
jcheck "$T/json.out" '"extra_certificates" not in codes and "incorrect_order" not in codes' "nothing else blamed"

run_check human "localhost:$PORT" --roots "$P/root.pem"
expect_rc 2 "leaf only, human report"
head -n 1 "$T/human.out" | grep -q "^CRITICAL localhost:$PORT: incomplete chain" ||
    fail "verdict line: $(head -n 1 "$T/human.out")"
ok "verdict line"
grep_out "$T/human.out" 'CRITICAL incomplete: .*"CN=chainfix test int2".*http://pki.invalid/int2.cer' "missing issuer named with its AIA URL"
pass
