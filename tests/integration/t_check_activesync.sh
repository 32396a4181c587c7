#!/bin/bash
# chainfix check --activesync against a responder answering OPTIONS like
# Exchange, and against a web server that is not Exchange.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl /usr/bin/python3
check_pki

exchange exchange "$P/leaf-full.pem" "$P/leaf.key"

run_check json "localhost:$PORT" --roots "$P/root.pem" --activesync --json
expect_rc 0 "Exchange-like answer"
jcheck "$T/json.out" 'j["activesync"]["status"] == 200 and j["activesync"]["protocol_versions"] == "2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1"' "status and MS-ASProtocolVersions"
jcheck "$T/json.out" 'j["activesync"]["server_version"] == "15.1" and j["activesync"]["error"] is None and codes == []' "server version, no problem"
grep -q "^REQUEST [0-9]* OPTIONS /Microsoft-Server-ActiveSync$" "$T/exchange.log" ||
    fail "the responder saw no OPTIONS request: $(cat "$T/exchange.log")"
ok "OPTIONS /Microsoft-Server-ActiveSync sent"
[ "$(grep -c '^REQUEST' "$T/exchange.log")" = 1 ] ||
    fail "one request expected: $(cat "$T/exchange.log")"
ok "exactly one request (the probes only handshake)"

run_check human "localhost:$PORT" --roots "$P/root.pem" --activesync
expect_rc 0 "human report"
grep_out "$T/human.out" "^  MS-ASProtocolVersions: 2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1$" "versions shown"
grep_out "$T/human.out" "^  HTTP/1.1 200 OK$" "status line shown"

# Exchange answers 401 without credentials: normal, not a problem.
exchange auth "$P/leaf-full.pem" "$P/leaf.key" --auth
PORT3=$PORT
run_check auth "localhost:$PORT3" --roots "$P/root.pem" --activesync --json
expect_rc 0 "401 is Exchange's normal answer"
jcheck "$T/auth.out" 'j["activesync"]["status"] == 401 and codes == []' "status 401, no problem"
run_check authh "localhost:$PORT3" --roots "$P/root.pem" --activesync
grep_out "$T/authh.out" "401: authentication required" "explained in the human report"

exchange plain "$P/leaf-full.pem" "$P/leaf.key" --plain
PORT2=$PORT
run_check plain "localhost:$PORT2" --roots "$P/root.pem" --activesync --json
expect_rc 1 "not an ActiveSync endpoint is a warning"
jcheck "$T/plain.out" 'codes == ["activesync"] and j["activesync"]["status"] == 200 and j["activesync"]["protocol_versions"] is None' "activesync problem"

# openssl s_server -www does not answer OPTIONS at all: it keeps the
# connection open, so the request times out (--timeout keeps that short).
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"
check_serve sserver "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"
run_check sserver "localhost:$PORT" --roots "$P/root.pem" --activesync --json --timeout 2
expect_rc 1 "s_server is not Exchange"
jcheck "$T/sserver.out" 'codes == ["activesync"] and j["activesync"]["status"] is None and "timed out" in j["activesync"]["error"]' "no answer reported"
pass
