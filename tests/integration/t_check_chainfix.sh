#!/bin/bash
# chainfix check against chainfix itself: a leaf-only Exchange-like backend
# is incomplete when checked directly, and clean through chainfix (which
# serves the chain it assembles), ActiveSync answer included.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl /usr/bin/python3
check_pki

# The broken server: an Exchange-like responder holding the leaf alone.
exchange exchange "$P/leaf.pem" "$P/leaf.key"
BPORT=$PORT

run_check direct "localhost:$BPORT" --roots "$P/root.pem" --activesync --json
expect_rc 2 "the backend alone is incomplete"
jcheck "$T/direct.out" 'codes == ["incomplete"] and j["activesync"]["status"] == 200' "incomplete, ActiveSync answers"

cat "$P/root.pem" "$P/int1.pem" "$P/int2.pem" >"$T/backend-ca.pem"
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<CONF
[mail]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $T/backend-ca.pem
CONF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port mail)

run_check proxied "localhost:$PPORT" --roots "$P/root.pem" --activesync --json
expect_rc 0 "chainfix comes out clean"
jcheck "$T/proxied.out" 'j["verdict"] == "OK" and codes == [] and j["chain"]["verified"] and j["chain"]["count"] == 3' "complete chain, no problem"
jcheck "$T/proxied.out" '[c["subject"] for c in j["chain"]["sent"]] == ["CN=localhost", "CN=chainfix test int2", "CN=chainfix test int1"]' "leaf, int2, int1 in order"
jcheck "$T/proxied.out" 'j["tls"]["tls1_2"] and j["tls"]["tls1_3"]' "TLS 1.2 and 1.3"
jcheck "$T/proxied.out" 'j["activesync"]["status"] == 200 and j["activesync"]["protocol_versions"] == "2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1"' "ActiveSync through chainfix"
[ "$(grep -c '^REQUEST [0-9]* OPTIONS /Microsoft-Server-ActiveSync$' "$T/exchange.log")" = 2 ] ||
    fail "the backend did not see both OPTIONS requests: $(cat "$T/exchange.log")"
ok "the request reached the backend through chainfix"

# The same with --intermediates: nothing to change.
run_check same "localhost:$PPORT" --roots "$P/root.pem" --intermediates "$P/intermediates" --json
expect_rc 0 "clean with --intermediates"
jcheck "$T/same.out" 'j["fix"]["already_sent"] is True' "chainfix already sends the bundle"
run_check same_text "localhost:$PPORT" --roots "$P/root.pem" --intermediates "$P/intermediates"
expect_rc 0 "clean with --intermediates (text)"
grep -q "^  the server already sends the chain chainfix would build (3 certificates)$" "$T/same_text.out" ||
    fail "text report: $(grep -A1 '^Fix' "$T/same_text.out")"
ok "the text report says so, with the count"

chainfix_stop_clean chainfix
pass
