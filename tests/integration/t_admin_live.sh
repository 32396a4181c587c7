#!/bin/bash
# t_admin_live: the admin endpoint of a real daemon while sessions run.
# Every metric family is on /metrics from the start; each counter moves when
# its event happens (a relayed session, a non-TLS client, an unreachable
# backend, a backend that fails verification, a resumed handshake);
# chainfix_certificate_not_after_seconds matches the certificates' notAfter;
# /chains parses; /healthz answers 200, then 503 while a SIGTERM drain waits
# for a live session.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 openssl

mkpki "$T/pki"
P=$T/pki
closed_port	# nothing listens there
DEAD=$BG_PORT
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

global_conf "$T/chainfix.conf"
echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
# Three sites with the same certificate: an address of its own for each.
site_conf "$T/chainfix.conf" good 127.0.0.1:0 "$BPORT"
cat >>"$T/chainfix.conf" <<CONF
backend_sni = localhost

[dead]
listen = 127.0.0.2:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$DEAD
backend_ca = $P/root.pem
connect_timeout = 5

[untrusted]
listen = 127.0.0.3:0
cert = $P/leaf2.pem
key = $P/leaf2.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root-old.pem
backend_sni = localhost
CONF
chainfix_start chainfix "$T/chainfix.conf"
ADMIN=$(cfx_admin_port)
P1=$(cfx_port good)

# scrape NAME: /metrics into $T/NAME.prom (fails the test on non-200).
scrape() {
	/usr/bin/python3 - "$ADMIN" "$T/$1.prom" <<'PY' || fail "GET /metrics failed"
import sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=30)
assert r.status == 200, r.status
open(sys.argv[2], "wb").write(r.read())
PY
}
# val NAME SERIES: the value of SERIES (exact, labels included) in NAME.prom;
# a bare name sums its series.
val() {
	# A name without labels sums its series (the {site} counters);
	# label values may hold blanks, so a series is matched as a prefix.
	awk -v s="$2" '
	    index(s, "{") == 0 { n = $1; sub(/\{.*/, "", n) }
	    (index(s, "{") == 0 && n == s) || index($0, s " ") == 1 {
		t += $NF; found = 1 }
	    END { if (!found) print "MISSING"; else print t }' "$T/$1.prom"
}
# wait_metric SERIES OP N: scrape until [ value OP N ] holds (OP -eq, -ge).
wait_metric() {
	local i=0 v
	while :; do
		scrape wait
		v=$(val wait "$1")
		[ "$v" != MISSING ] || fail "no series $1 on /metrics"
		case $2 in
		-eq)	[ "$v" -eq "$3" ] && return 0 ;;
		-ge)	[ "$v" -ge "$3" ] && return 0 ;;
		*)	fail "wait_metric: unknown operator $2" ;;
		esac
		i=$((i + 1))
		[ "$i" -lt 600 ] || fail "$1 is $v, expected $2 $3"
		sleep 0.05
	done
}

# --- every family from the start --------------------------------------------
scrape m0
for name in chainfix_connections_accepted_total chainfix_connections_active \
    chainfix_handshakes_total chainfix_handshakes_resumed_total \
    chainfix_backend_connect_failures_total chainfix_backend_verify_failures_total \
    chainfix_backend_resumed_total chainfix_client_bytes_received_total \
    chainfix_client_bytes_sent_total chainfix_reloads_total \
    chainfix_reload_failures_total chainfix_handshake_failures_total \
    chainfix_certificate_not_after_seconds; do
	grep -q "^# HELP $name " "$T/m0.prom" || fail "no # HELP for $name"
	grep -Eq "^# TYPE $name (counter|gauge)\$" "$T/m0.prom" || fail "no # TYPE for $name"
done
for r in timeout protocol eof other; do
	[ "$(val m0 "chainfix_handshake_failures_total{reason=\"$r\"}")" = 0 ] ||
	    fail "handshake failures ($r) not 0 at start"
done
[ "$(val m0 chainfix_connections_accepted_total)" = 0 ] || fail "accepted not 0 at start"
ok "every metric family present, counters at 0"

# Certificate expiry series: the notAfter of each served certificate.
epoch() {
	date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}
series() {
	val m0 "chainfix_certificate_not_after_seconds{site=\"$1\",depth=\"$2\",subject=\"$3\"}"
}
[ "$(series good 0 CN=localhost)" = "$(epoch "$P/leaf.pem")" ] ||
    fail "good's leaf series: $(grep 'site="good",depth="0"' "$T/m0.prom")"
[ "$(series good 2 "CN=chainfix test int1")" = "$(epoch "$P/int1.pem")" ] ||
    fail "good's int1 series: $(grep 'site="good",depth="2"' "$T/m0.prom")"
[ "$(series untrusted 0 CN=other.test)" = "$(epoch "$P/leaf2.pem")" ] ||
    fail "untrusted's leaf series: $(grep 'site="untrusted",depth="0"' "$T/m0.prom")"
n=$(grep -c '^chainfix_certificate_not_after_seconds{' "$T/m0.prom")
[ "$n" = 9 ] || fail "expected 9 certificate series (3 sites x 3 served), got $n"
ok "chainfix_certificate_not_after_seconds: 9 series, values are the notAfter dates"

# --- a relayed session --------------------------------------------------------
peer client --port "$P1" --cafile "$P/root.pem" up 100000 >"$T/up.log" 2>&1 ||
    fail "upload through chainfix failed: $(cat "$T/up.log")"
wait_metric chainfix_connections_active -eq 0
scrape m1
[ "$(val m1 chainfix_connections_accepted_total)" -ge 1 ] || fail "accepted did not move"
[ "$(val m1 chainfix_handshakes_total)" -ge 1 ] || fail "handshakes did not move"
[ "$(val m1 chainfix_client_bytes_received_total)" -ge 100000 ] ||
    fail "bytes received $(val m1 chainfix_client_bytes_received_total) < 100000"
[ "$(val m1 chainfix_client_bytes_sent_total)" -gt 0 ] || fail "bytes sent did not move"
ok "a session: accepted, handshakes, bytes in ($(val m1 chainfix_client_bytes_received_total)) and out move; active back to 0"

# A session held open shows in the active gauge.
# bg, not `peer ... &`: the PID must be python's own, so that cleanup stops
# it (a backgrounded shell function is a subshell with python as its child).
bg idle /usr/bin/python3 "$PEER" client --port "$P1" --cafile "$P/root.pem" idle 600
IDLE=$BG_PID
wait_metric chainfix_connections_active -eq 1
ok "an open session: connections_active 1"

# --- handshake failures, backend failures -------------------------------------
before=$(val m1 'chainfix_handshake_failures_total{reason="protocol"}')
/usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
try:
    while s.recv(4096):
        pass
except OSError:
    pass
' "$P1"
wait_metric 'chainfix_handshake_failures_total{reason="protocol"}' -ge $((before + 1))
ok "a plain-HTTP client: handshake_failures{reason=\"protocol\"} +1"

cfx_client dead --cafile "$P/root.pem" up 10 >"$T/dead.log" 2>&1 &&
    fail "a session to an unreachable backend succeeded"
wait_metric chainfix_backend_connect_failures_total -ge 1
ok "unreachable backend: backend_connect_failures_total moves"

cfx_client untrusted --cafile "$P/root.pem" --servername other.test up 10 \
    >"$T/untrusted.log" 2>&1 && fail "a session to an unverifiable backend succeeded"
wait_metric chainfix_backend_verify_failures_total -ge 1
ok "backend failing verification: backend_verify_failures_total moves"

# --- resumption ---------------------------------------------------------------
for i in 1 2 3; do
	if [ -s "$T/sess" ]; then
		set -- -sess_in "$T/sess"
	else
		set -- -sess_out "$T/sess"
	fi
	openssl s_client -connect "127.0.0.1:$P1" -servername localhost \
	    -tls1_2 -CAfile "$P/root.pem" -verify_return_error "$@" \
	    </dev/null >"$T/resume$i.log" 2>&1 ||
	    fail "s_client $i failed: $(tail -3 "$T/resume$i.log")"
done
grep -q "^Reused" "$T/resume3.log" ||
    fail "the client could not resume: $(grep -E '^(New|Reused)' "$T/resume3.log")"
wait_metric chainfix_handshakes_resumed_total -ge 1
ok "a resumed client handshake: handshakes_resumed_total moves"
# Five sessions to one backend by now: the later ones resume toward it.
scrape m2
[ "$(val m2 chainfix_backend_resumed_total)" -ge 1 ] ||
    fail "no backend session resumed over $(val m2 chainfix_handshakes_total) sessions"
ok "backend resumption: backend_resumed_total $(val m2 chainfix_backend_resumed_total)"

# --- /chains ------------------------------------------------------------------
/usr/bin/python3 - "$ADMIN" <<'PY' || fail "/chains is wrong"
import json, sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/chains" % sys.argv[1], timeout=30)
assert r.headers["Content-Type"] == "application/json"
d = json.load(r)
names = [s["name"] for s in d["sites"]]
assert names == ["good", "dead", "untrusted"], names
good = d["sites"][0]["chain"]
assert [c["served"] for c in good] == [True, True, True, False], good
assert good[0]["subject"] == "CN=localhost", good[0]
PY
ok "/chains: three sites, chains as served"

# --- /healthz through a drain -------------------------------------------------
health() {
	/usr/bin/python3 - "$ADMIN" <<'PY'
import sys, urllib.error, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=30)
    print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
PY
}
[ "$(health)" = "200 ok" ] || fail "/healthz while serving: $(health)"
kill -TERM "$CFX_PID"
wait_log "$T/chainfix.log" "draining 1 session"
[ "$(health)" = "503 draining" ] || fail "/healthz while draining: $(health)"
ok "/healthz: 200 ok while serving, 503 draining while a session drains"
kill "$IDLE" 2>/dev/null || true
wait "$IDLE" 2>/dev/null || true
rc=0
wait "$CFX_PID" || rc=$?
[ "$rc" = 0 ] || fail "chainfix exited $rc after the drain"
if grep -Eq "$LIB_SANITIZER_RE" "$T/chainfix.log"; then
	fail "sanitizer report in $T/chainfix.log"
fi
ok "drained and exited 0"
pass
