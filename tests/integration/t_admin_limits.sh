#!/bin/bash
# The admin endpoint bounds its clients: a request must be over within 10 s
# of the connection (or the last reply), however slowly it trickles in (one
# byte every 2 s kept a connection open for ever: evhttp's timeout is per
# read); at most 16 connections at once, the next waiting in the listen
# backlog until one closes.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 curl

mkpki "$T/pki"
P=$T/pki
closed_port
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
site_conf "$T/chainfix.conf" main 0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
APORT=$(cfx_admin_port)

# Slow client: "GET /healthz HTTP/1.1..." one byte every 2 s.
/usr/bin/python3 - "$APORT" >"$T/slow.log" 2>&1 <<'PY' || fail "slow client: $(cat "$T/slow.log")"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(2)
req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
start = time.monotonic()
closed = False
for i, b in enumerate(req):
    if time.monotonic() - start > 60:
        break
    try:
        s.send(bytes([b]))
        if s.recv(1024) == b"":
            closed = True
            break
    except socket.timeout:
        continue
    except OSError:
        closed = True
        break
if not closed:
    sys.exit("still open after %.0f s" % (time.monotonic() - start))
print("closed after %.0f s, %d bytes sent" % (time.monotonic() - start, i))
PY
ok "slow admin client: $(cat "$T/slow.log")"
wait_log "$T/chainfix.log" "admin: closing a connection that took more than 10s"

# 16 silent connections: the 17th waits.
cat >"$T/idle.py" <<'PY'
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(16)]
print("held", flush=True)
time.sleep(60)
PY
bg idle /usr/bin/python3 "$T/idle.py" "$APORT"
IDLE=$BG_PID
wait_log "$T/idle.log" "^held"
wait_log "$T/chainfix.log" "admin: 16 connections open"
! curl -fsS --max-time 3 "http://127.0.0.1:$APORT/healthz" >"$T/curl.out" 2>&1 ||
    fail "a 17th admin connection was answered at once"
ok "a 17th admin connection waits"
stop "$IDLE" || true
i=0
until curl -fsS --max-time 5 "http://127.0.0.1:$APORT/healthz" >"$T/curl.out" 2>&1; do
	[ "$i" -lt 10 ] || fail "no admin service after the idle connections left"
	sleep 1
	i=$((i + 1))
done
grep -q '^ok' "$T/curl.out" || fail "healthz: $(cat "$T/curl.out")"
ok "answered again once they closed"
chainfix_stop_clean
pass
