#!/usr/bin/env bash
# configtest's backend self-test: a backend presenting the site's own leaf is
# reported as the same certificate (no Extended Protection warning); one
# presenting another certificate gets the warning naming both certificates;
# one that does not verify and one that is unreachable are reported; and
# none of it changes the exit status or the final "configuration OK".
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
cat "$P/int2.pem" "$P/int1.pem" >"$T/ints.pem"

backend_s_server same "$P/leaf.pem" "$P/leaf.key" "$T/ints.pem"
SAME=$BG_PORT
backend_s_server other "$P/self.pem" "$P/self.key"
OTHER=$BG_PORT
closed_port	# nothing listens: refused at once
CLOSED=$BG_PORT

PIN=$(openssl x509 -in "$P/self.pem" -outform DER | sha256sum | cut -d' ' -f1)

cat >"$T/c.conf" <<CONF
[global]
workers = 1

[same]
listen = 127.0.0.1:8443
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$SAME
backend_ca = $P/root.pem

[pinned]
listen = 127.0.0.1:8444
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$OTHER
backend_verify = sha256:$PIN

[wrongca]
listen = 127.0.0.1:8445
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$OTHER
backend_ca = $P/root.pem

[down]
listen = 127.0.0.1:8446
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$CLOSED, 127.0.0.1:$SAME
backend_ca = $P/root.pem
CONF

rc=0
"$CHAINFIX" configtest -c "$T/c.conf" >"$T/out.log" 2>"$T/err.log" || rc=$?
[ "$rc" = 1 ] || fail "configtest exited $rc with two failing backends"
grep -q "2 backends will fail" "$T/err.log" ||
	fail "configtest did not count the failing backends: $(cat "$T/err.log")"
grep -q "configuration OK" "$T/out.log" && fail "configtest said 'configuration OK'"

configtest_block same "$T/out.log" >"$T/same.txt"
grep -Eq "self-test: site same: backend 127\.0\.0\.1:$SAME: reachable .*verifies .*same certificate as served \(CN=localhost\)" "$T/same.txt" ||
	fail "same certificate not reported for site same: $(cat "$T/same.txt")"
grep -q "Extended Protection" "$T/same.txt" &&
	fail "Extended Protection warning for a backend with the same certificate"
ok "backend with the site's own leaf: reachable, verifies, same certificate, no warning"

configtest_block pinned "$T/out.log" >"$T/pinned.txt"
grep -Eq "self-test: site pinned: backend 127\.0\.0\.1:$OTHER: reachable .*verifies \(matches the sha256 pin\), a different certificate" "$T/pinned.txt" ||
	fail "pinned backend not reported as verified and different: $(cat "$T/pinned.txt")"
grep -Eq "WARNING: backend 127\.0\.0\.1:$OTHER presents a different certificate \(CN=localhost, sha256 [0-9a-f]{16}\.\.\.\) than site pinned serves \(CN=localhost, sha256 [0-9a-f]{16}\.\.\.\): Exchange Extended Protection .*same certificate.*NTLM/Kerberos" "$T/pinned.txt" ||
	fail "no Extended Protection warning naming both certificates: $(cat "$T/pinned.txt")"
# The two fingerprints shown are the real ones: the backend's and the leaf's.
want_b=$(printf '%s' "$PIN" | cut -c1-16)
want_s=$(openssl x509 -in "$P/leaf.pem" -outform DER | sha256sum | cut -c1-16)
grep -q "sha256 $want_b\.\.\.) than site pinned serves (CN=localhost, sha256 $want_s\.\.\.)" "$T/pinned.txt" ||
	fail "the warning's fingerprints are not the backend's and the leaf's"
ok "backend with another certificate: Extended Protection warning naming both"

configtest_block wrongca "$T/out.log" >"$T/wrongca.txt"
grep -Eq "ERROR: site wrongca: backend 127\.0\.0\.1:$OTHER: reachable .*does NOT verify: " "$T/wrongca.txt" ||
	fail "unverifiable backend not reported: $(cat "$T/wrongca.txt")"
grep -q "WARNING: backend 127.0.0.1:$OTHER presents a different certificate" "$T/wrongca.txt" ||
	fail "unverifiable backend: certificate still compared"
ok "backend failing verification: reported, and its certificate still compared"

configtest_block down "$T/out.log" >"$T/down.txt"
grep -Eq "ERROR: site down: backend 127\.0\.0\.1:$CLOSED: unreachable: connect to 127\.0\.0\.1:$CLOSED: Connection refused" "$T/down.txt" ||
	fail "unreachable backend not reported: $(cat "$T/down.txt")"
grep -Eq "self-test: site down: backend 127\.0\.0\.1:$SAME: reachable .*same certificate" "$T/down.txt" ||
	fail "the failover backend after an unreachable one was not tested"
ok "unreachable backend reported; the next one still tested"

# Only the sites whose backends work: the Extended Protection warning
# alone leaves the verdict alone.
awk '/^\[wrongca\]/ { exit } { print }' "$T/c.conf" >"$T/ok.conf"
rc=0
"$CHAINFIX" configtest -c "$T/ok.conf" >"$T/ok.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "configtest exited $rc for working backends: $(tail -n 3 "$T/ok.log")"
grep -q "WARNING: backend 127.0.0.1:$OTHER presents a different certificate" "$T/ok.log" ||
	fail "no Extended Protection warning"
tail -n 1 "$T/ok.log" | grep -qx "configuration OK" || fail "no 'configuration OK'"
ok "Extended Protection mismatch alone: a warning, exit 0"

# --no-selftest: no connection attempted, same verdict.
"$CHAINFIX" configtest --no-selftest -c "$T/c.conf" >"$T/off.log" 2>&1 ||
	fail "configtest --no-selftest failed"
grep -q "self-test\|Extended Protection\|^  ERROR: " "$T/off.log" &&
	fail "--no-selftest still ran the self-test"
grep -qx "configuration OK" "$T/off.log" || fail "--no-selftest: no 'configuration OK'"
"$CHAINFIX" configtest --help | grep -q -- "--no-selftest" ||
	fail "--no-selftest is not in the usage text"
ok "--no-selftest skips it and is documented"
pass
