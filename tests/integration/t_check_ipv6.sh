#!/bin/bash
# chainfix check [::1]:PORT: an IPv6 literal, checked as an address, and a
# name checked over IPv6.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
python3 -c 'import socket
socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
    skip "no IPv6 loopback on this machine"
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"
s_server server "[::1]" -www -cert "$P/leaf.pem" -key "$P/leaf.key" \
    -cert_chain "$T/chain.pem" -naccept 100000
PORT=$BG_PORT

# The leaf covers IP:::1.
run_check v6 "[::1]:$PORT" --roots "$P/root.pem" --json
expect_rc 0 "IPv6 literal"
jcheck "$T/v6.out" 'j["target"]["host"] == "::1" and j["target"]["servername"] is None and j["target"]["address"] == "[::1]:'"$PORT"'" and codes == []' "address checked, no SNI"

run_check v6sni "[::1]:$PORT" --servername localhost --roots "$P/root.pem" --json
expect_rc 0 "IPv6 with --servername"
jcheck "$T/v6sni.out" 'j["target"]["servername"] == "localhost"' "SNI sent"
pass
