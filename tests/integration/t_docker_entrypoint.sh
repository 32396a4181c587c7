#!/bin/bash
# t_docker_entrypoint: the container's entry point (docker/entrypoint.sh),
# run outside any container with its paths pointed at the built binary and a
# temporary configuration: it refuses a missing or broken configuration
# without starting the daemon, execs the daemon (same PID, so the stop
# signal reaches it), passes tool commands through, and its healthcheck
# reads /healthz from the real daemon and from fake endpoints (200, 503,
# nothing listening, IPv6).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need python3 openssl
ENTRY="$CHAINFIX_TEST_ROOT/../docker/entrypoint.sh"
[ -x "$ENTRY" ] || fail "docker/entrypoint.sh is missing or not executable"

# A stand-in for /usr/bin/chainfix that records each call ("PID ARGS") and
# then becomes the real binary.
cat >"$T/chainfix" <<WRAP
#!/bin/bash
echo "\$\$ \$*" >>"$T/calls"
exec "$CHAINFIX" "\$@"
WRAP
chmod +x "$T/chainfix"
export CHAINFIX_BIN="$T/chainfix"

mkpki "$T/pki"
P=$T/pki
# configtest's self-test connects to the backend: give it one.
backend_s_server backend "$P/leaf.pem" "$P/leaf.key"
BACKEND=$BG_PORT
cat >"$T/good.conf" <<CONF
[global]
workers = 1
allow_root = yes
admin_listen = 127.0.0.1:0

[mail]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BACKEND
backend_verify = no
CONF
printf '[global]\nworkers = lots\n' >"$T/bad.conf"

# --- a missing configuration: a clear message, no daemon -----------------
rc=0
CHAINFIX_CONF="$T/nope.conf" "$ENTRY" run >"$T/missing.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "missing config: exit $rc, expected 1"
grep -q "no configuration at $T/nope.conf" "$T/missing.log" ||
    fail "missing config: message does not name the file: $(cat "$T/missing.log")"
grep -q "/etc/chainfix" "$T/missing.log" ||
    fail "missing config: message does not say where to mount it"
[ ! -e "$T/calls" ] || fail "missing config: chainfix was run: $(cat "$T/calls")"
ok "a missing configuration is refused before chainfix runs"

# --- a broken configuration: configtest fails, the daemon never starts ---
rc=0
CHAINFIX_CONF="$T/bad.conf" "$ENTRY" run >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "bad config: exit $rc, expected 1"
grep -q "configtest failed for $T/bad.conf" "$T/bad.log" ||
    fail "bad config: no 'configtest failed' line: $(cat "$T/bad.log")"
grep -q "workers" "$T/bad.log" ||
    fail "bad config: configtest's own error is not shown"
[ "$(wc -l <"$T/calls")" = 1 ] && grep -q " configtest --no-selftest -c $T/bad.conf\$" "$T/calls" ||
    fail "bad config: expected one configtest call, got: $(cat "$T/calls")"
rm -f "$T/calls"
ok "a broken configuration stops at configtest"

# --- configtest and tool pass-through ------------------------------------
CHAINFIX_CONF="$T/good.conf" "$ENTRY" configtest >"$T/ct.out" 2>"$T/ct.err" ||
    fail "entrypoint configtest failed: $(cat "$T/ct.err")"
grep -qx "configuration OK" "$T/ct.out" || fail "configtest did not say OK"
"$ENTRY" --version >"$T/version.out" 2>&1 || fail "--version failed"
grep -q "^chainfix " "$T/version.out" || fail "--version: $(cat "$T/version.out")"
"$ENTRY" chainfix --help >"$T/help.out" 2>&1 || fail "chainfix --help failed"
grep -q "usage: chainfix" "$T/help.out" || fail "chainfix --help: no usage"
[ "$("$ENTRY" echo hello)" = hello ] || fail "a plain command is not run"
rm -f "$T/calls"
ok "configtest, --version, chainfix ARGS and plain commands pass through"

# --- run: configtest, then exec the daemon as the same process -----------
CHAINFIX_CONF="$T/good.conf" bg daemon "$ENTRY" run
DPID=$BG_PID
wait_log "$T/daemon.log" "admin endpoint on" 30
bg_port daemon "admin endpoint on 127\.0\.0\.1:0 \(port "
ADMIN=$BG_PORT
wait_log "$T/daemon.log" "serving" 30
grep -q " configtest --no-selftest -c $T/good.conf\$" "$T/calls" || fail "run did not configtest first"
grep -qx "$DPID -c $T/good.conf" "$T/calls" ||
    fail "the daemon is not the entrypoint's process (no exec?): $(cat "$T/calls") vs PID $DPID"
grep -q "configuration OK" "$T/daemon.log" ||
    fail "configtest's output is not in the log (stderr)"
ok "run: configtest, then exec chainfix -c as PID $DPID"

CHAINFIX_HEALTH="127.0.0.1:$ADMIN" "$ENTRY" healthcheck >"$T/hc.log" 2>&1 ||
    fail "healthcheck against the running daemon failed: $(cat "$T/hc.log")"
ok "healthcheck: the running daemon is healthy"

rc=0
stop "$DPID" TERM || rc=$?
[ "$rc" = 0 ] || fail "the daemon exited $rc on SIGTERM"
grep -Eq "drain" "$T/daemon.log" || fail "no drain on SIGTERM: $(tail -5 "$T/daemon.log")"
rc=0
CHAINFIX_HEALTH="127.0.0.1:$ADMIN" "$ENTRY" healthcheck >"$T/hc2.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "healthcheck with the daemon gone: exit $rc, expected 1"
grep -q "unhealthy: nothing listens on 127.0.0.1:$ADMIN" "$T/hc2.log" ||
    fail "healthcheck with the daemon gone: $(cat "$T/hc2.log")"
ok "SIGTERM reaches the daemon; afterwards the healthcheck fails"

# --- healthcheck against fake endpoints ----------------------------------
# fake_health NAME CODE FAMILY: an HTTP server answering CODE; sets $FPORT.
fake_health() {
	local name=$1 code=$2 family=$3 i=0
	bg "$name" python3 -c '
import http.server, os, socket, sys
code, family, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n" if code == 200 else b"draining\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6 if family == "6" else socket.AF_INET
srv = S(("::1" if family == "6" else "127.0.0.1", 0), H)
with open(out + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(out + ".tmp", out)
srv.serve_forever()
' "$code" "$family" "$T/$name.port"
	while [ ! -s "$T/$name.port" ]; do
		kill -0 "$BG_PID" 2>/dev/null || fail "fake endpoint $name died: $(cat "$T/$name.log")"
		i=$((i + 1))
		[ "$i" -lt 200 ] || fail "fake endpoint $name did not start"
		sleep 0.05
	done
	FPORT=$(cat "$T/$name.port")
}

fake_health ok200 200 4
CHAINFIX_HEALTH="127.0.0.1:$FPORT" "$ENTRY" healthcheck ||
    fail "healthcheck: 200 was not healthy"
fake_health drain503 503 4
rc=0
CHAINFIX_HEALTH="127.0.0.1:$FPORT" "$ENTRY" healthcheck >"$T/hc503.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "healthcheck: 503 gave exit $rc, expected 1"
grep -q "503" "$T/hc503.log" || fail "healthcheck: 503 not reported: $(cat "$T/hc503.log")"
ok "healthcheck: 200 healthy, 503 (draining) unhealthy"

if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' \
    2>/dev/null; then
	fake_health ok6 200 6
	CHAINFIX_HEALTH="[::1]:$FPORT" "$ENTRY" healthcheck ||
	    fail "healthcheck: [::1]:$FPORT was not healthy"
	ok "healthcheck: IPv6 [::1]:port"
fi
rc=0
CHAINFIX_HEALTH="localhost" "$ENTRY" healthcheck >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "healthcheck: a malformed CHAINFIX_HEALTH gave exit $rc"
ok "healthcheck: a malformed address is a usage error"

pass
