#!/bin/bash
# chainfix check reports the negotiated protocol and whether TLS 1.2 and
# TLS 1.3 each succeed: a TLS 1.2-only server, and a TLS 1.1-only one
# (a warning: modern clients refuse it).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"

# serve NAME ARGS...: s_server with the full chain and extra ARGS.
serve() {
	local name=$1
	shift
	s_server "$name" 127.0.0.1 -www -cert "$P/leaf.pem" -key "$P/leaf.key" \
	    -cert_chain "$T/chain.pem" -naccept 100000 "$@"
	PORT=$BG_PORT
}

serve tls12 -no_tls1_3
run_check tls12 "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 0 "TLS 1.2 only is fine"
jcheck "$T/tls12.out" 'j["tls"]["protocol"] == "TLSv1.2" and j["tls"]["tls1_2"] is True and j["tls"]["tls1_3"] is False and codes == []' "TLS 1.2 yes, TLS 1.3 no"
run_check tls12h "localhost:$PORT" --roots "$P/root.pem"
grep_out "$T/tls12h.out" "^TLS 1.2: yes +TLS 1.3: no$" "human report"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

serve tls13 -tls1_3
run_check tls13 "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 0 "TLS 1.3 only is fine"
jcheck "$T/tls13.out" 'j["tls"]["protocol"] == "TLSv1.3" and j["tls"]["tls1_2"] is False and j["tls"]["tls1_3"] is True' "TLS 1.2 no, TLS 1.3 yes"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

# TLS 1.1 needs security level 0 on the server; the check still connects.
serve tls11 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
run_check tls11 "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "TLS 1.1 only is a warning"
jcheck "$T/tls11.out" 'j["tls"]["protocol"] == "TLSv1.1" and codes == ["no_tls12"] and j["chain"]["verified"]' "no_tls12, the chain still examined"
pass
