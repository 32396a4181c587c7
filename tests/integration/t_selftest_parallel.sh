#!/usr/bin/env bash
# The backend self-test runs the backends' tests side by side, so a backend
# that hangs (accepts and never answers) holds only its own test.
# configtest: two hung backends (of two sites, handshake_timeout 10) are
# connected to at the same time, the second before the first is let go
# (tests one after the other would connect to the second only then), and
# the output is what it was: the sites and their backends in configuration
# order, each backend's lines together, the problem count and exit status.
# The daemon: a hung first backend does not hold the good second one's
# line, which is logged while the hung test is still in progress; the
# shutdown ends that test at once.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
cat "$P/int2.pem" "$P/int1.pem" >"$T/ints.pem"

backend_s_server good "$P/leaf.pem" "$P/leaf.key" "$T/ints.pem"
GOOD=$BG_PORT
hung_backends hung 2
set -- $HUNG_PORTS
A=$1 B=$2

global_conf "$T/c.conf"
site_block "$T/c.conf" one 127.0.0.1:8443 "127.0.0.1:$A" \
    "backend_ca = $P/root.pem" "handshake_timeout = 10"
site_block "$T/c.conf" two 127.0.0.2:8443 "127.0.0.1:$B, 127.0.0.1:$GOOD" \
    "backend_ca = $P/root.pem" "handshake_timeout = 10"
site_block "$T/c.conf" three 127.0.0.3:8443 "127.0.0.1:$GOOD" \
    "backend_ca = $P/root.pem"

rc=0
"$CHAINFIX" configtest -c "$T/c.conf" >"$T/out" 2>"$T/err" </dev/null || rc=$?
[ "$rc" = 1 ] || fail "configtest exit status $rc, expected 1 (see $T/out, $T/err)"
grep -q "c.conf: 2 backends will fail" "$T/err" ||
	fail "problem count: $(cat "$T/err")"

# Each hung backend was connected to once, the second before the first
# connection was closed.
[ "$(grep -c "^accepted $A\$" "$T/hung.log")" = 1 ] &&
    [ "$(grep -c "^accepted $B\$" "$T/hung.log")" = 1 ] ||
	fail "not one connection to each hung backend: $(cat "$T/hung.log")"
first_close=$(grep -n '^closed' "$T/hung.log" | head -n 1 | cut -d: -f1)
second=$(grep -n "^accepted $B\$" "$T/hung.log" | cut -d: -f1)
[ -n "$first_close" ] || fail "configtest left the hung backends open"
[ "$second" -lt "$first_close" ] ||
	fail "the second hung backend was tested only after the first: $(cat "$T/hung.log")"
ok "configtest: both hung backends under test at the same time"

# The output, header and self-test lines, in configuration order.
H='reachable \(127\.0\.0\.1:PORT\), but it did not answer the TLS handshake within handshake_timeout \(10s\)$'
F='  fix: the backend accepts connections and never answers: a hung service, or not a TLS port \(Exchange: 443\)$'
OK='reachable \(127\.0\.0\.1:PORT, TLSv1\.[23]\), verifies \(backend_ca .*\), same certificate as served \(CN=localhost\)$'
cat >"$T/expected" <<EOF
^site one: listen 127\.0\.0\.1:8443, backend 127\.0\.0\.1:$A\$
^  ERROR: site one: backend 127\.0\.0\.1:$A: ${H//PORT/$A}
^$F
^site two: listen 127\.0\.0\.2:8443, backend 127\.0\.0\.1:$B, 127\.0\.0\.1:$GOOD\$
^  ERROR: site two: backend 127\.0\.0\.1:$B: ${H//PORT/$B}
^$F
^  self-test: site two: backend 127\.0\.0\.1:$GOOD: ${OK//PORT/$GOOD}
^site three: listen 127\.0\.0\.3:8443, backend 127\.0\.0\.1:$GOOD\$
^  self-test: site three: backend 127\.0\.0\.1:$GOOD: ${OK//PORT/$GOOD}
EOF
grep -E '^(site |  (self-test|ERROR|WARNING|fix):|    )' "$T/out" >"$T/got"
[ "$(wc -l <"$T/got")" = "$(wc -l <"$T/expected")" ] ||
	fail "configtest lines: $(cat "$T/got")"
n=0
while IFS= read -r pat; do
	n=$((n + 1))
	sed -n "${n}p" "$T/got" | grep -Eq -- "$pat" ||
		fail "configtest line $n: '$(sed -n "${n}p" "$T/got")' does not match '$pat'"
done <"$T/expected"
# Each site's chain is under its header, before its self-test lines.
configtest_block two "$T/out" >"$T/two"
grep -n "" "$T/two" | grep -Eq '^[0-9]+:  .*chain|^[0-9]+:  .*CN=' ||
	fail "site two's block has no chain: $(cat "$T/two")"
grep -q "^configuration OK" "$T/out" && fail "configuration OK despite the hung backends"
ok "configtest: the same lines, in configuration order, exit status 1"

# The daemon: the hung backend first, the good one second.
hung_backends hung2 1
C=$HUNG_PORTS
C=${C% }
: >"$T/d.conf"
global_conf "$T/d.conf"
site_block "$T/d.conf" d 127.0.0.1:0 "127.0.0.1:$C, 127.0.0.1:$GOOD" \
    "backend_ca = $P/root.pem" "handshake_timeout = 600"
chainfix_start chainfix "$T/d.conf"
L=$T/chainfix.log
wait_log "$L" "info: self-test: site d: backend 127\.0\.0\.1:$GOOD: reachable .*same certificate as served" 60
grep -q "backend 127.0.0.1:$C:" "$L" &&
	fail "the hung backend's test ended: $(grep "backend 127.0.0.1:$C" "$L")"
grep -q "^accepted $C\$" "$T/hung2.log" ||
	fail "the hung backend was not connected to"
grep -q "^closed" "$T/hung2.log" &&
	fail "the self-test let go of the hung backend before the shutdown"
ok "daemon: the good backend's line while the hung first one is still under test"

chainfix_stop_clean chainfix
grep -q "self-test: cancelled" "$L" || fail "the self-test was not cancelled at shutdown"
grep -q "backend 127.0.0.1:$C:" "$L" &&
	fail "the cancelled test was reported: $(grep "backend 127.0.0.1:$C" "$L")"
wait_log "$T/hung2.log" "^closed $C\$"
ok "daemon: the shutdown ends the hung backend's test, clean exit"
pass
