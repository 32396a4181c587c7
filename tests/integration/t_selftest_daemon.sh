#!/usr/bin/env bash
# The daemon runs the backend self-test in the background at startup: the
# Extended Protection warning for a backend with another certificate is
# logged, a backend with the site's own certificate gets none, and both
# sites serve normally meanwhile.  A self-test still waiting on a silent
# backend at shutdown is cancelled: clean exit, nothing for the sanitizers.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki

py_backend same --cert "$P/leaf-full.pem" --key "$P/leaf.key"
SAME=$BG_PORT
py_backend other --cert "$P/self.pem" --key "$P/self.key"
OTHER=$BG_PORT
PIN=$(openssl x509 -in "$P/self.pem" -outform DER | sha256sum | cut -d' ' -f1)
# TLS 1.2 with session IDs: the client side caches a session at the end of
# the handshake itself, so a self-test that let an unverified handshake
# finish on the proxy's context would hand the proxy a session to resume.
s_server wrong 127.0.0.1 -www -tls1_2 -cert "$P/self.pem" -key "$P/self.key" \
    -naccept 100000
WRONG=$BG_PORT

global_conf "$T/chainfix.conf"
# The same certificate on each site: an address of its own for each.
site_block "$T/chainfix.conf" same 127.0.0.1:0 "127.0.0.1:$SAME" "backend_ca = $P/root.pem"
site_block "$T/chainfix.conf" pinned 127.0.0.2:0 "127.0.0.1:$OTHER" "backend_verify = sha256:$PIN"
site_block "$T/chainfix.conf" wrongca 127.0.0.3:0 "127.0.0.1:$WRONG" "backend_ca = $P/root.pem"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log

wait_log "$L" "self-test: done"
grep -Eq "warning: self-test: backend 127\.0\.0\.1:$OTHER presents a different certificate \(CN=localhost, sha256 [0-9a-f]{16}\.\.\.\) than site pinned serves \(CN=localhost, .*Exchange Extended Protection.*NTLM/Kerberos" "$L" ||
	fail "no Extended Protection warning for the backend with another certificate"
grep -Eq "info: self-test: site same: backend 127\.0\.0\.1:$SAME: reachable .*verifies .*same certificate as served" "$L" ||
	fail "backend with the same certificate not reported as such"
grep -q "backend 127.0.0.1:$SAME presents a different" "$L" &&
	fail "Extended Protection warning for the backend with the same certificate"
ok "startup self-test logged: warning for the other certificate, none for the same"

who() {	# SITE
	cfx_client "$1" --cafile "$P/root.pem" who 2>"$T/who-$1.err"
}
[ "$(who same)" = same ] || fail "site same does not serve: $(cat "$T/who-same.err")"
[ "$(who pinned)" = other ] || fail "site pinned does not serve: $(cat "$T/who-pinned.err")"
ok "both sites serve normally"

grep -Eq "warning: self-test: site wrongca: backend 127\.0\.0\.1:$WRONG: reachable .*TLSv1\.2.*does NOT verify: " "$L" ||
	fail "backend failing verification not reported"
grep -q "warning: self-test: backend 127.0.0.1:$WRONG presents a different certificate" "$L" ||
	fail "refused backend: its certificate was not compared"
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect "$(cfx_addr wrongca)" \
    -servername localhost -CAfile "$P/root.pem" >"$T/wrong.out" 2>&1 || true
wait_log "$L" "site=wrongca backend=127\.0\.0\.1:$WRONG .*certificate verify failed"
grep -q "site=wrongca.*resumed\|HTTP/1" "$T/wrong.out" &&
	fail "the proxy relayed to a backend that does not verify"
ok "a backend failing verification: reported, and the proxy still refuses it afterwards"
chainfix_stop_clean chainfix
ok "clean stop"

# A backend that accepts and never speaks: the self-test waits in the
# handshake (handshake_timeout far away) when the daemon is told to stop.
silent_backend silent
SILENT=$BG_PORT
: >"$T/chainfix.conf"
global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" silent 0 "127.0.0.1:$SILENT" "backend_ca = $P/root.pem" "handshake_timeout = 600"
chainfix_start chainfix2 "$T/chainfix.conf"
wait_log "$T/chainfix2.log" "self-test: checking the backends"
chainfix_stop_clean chainfix2
grep -q "self-test: cancelled" "$T/chainfix2.log" ||
	fail "the self-test was not cancelled at shutdown"
grep -q "Operation canceled" "$T/chainfix2.log" &&
	fail "a cancelled probe was reported as a backend problem"
ok "self-test waiting on a silent backend is cancelled at shutdown, clean exit"
pass
