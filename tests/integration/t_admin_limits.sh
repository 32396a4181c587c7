#!/bin/bash
# The admin endpoint bounds its clients.  A request must be over within
# 10 s of the connection (or of the previous answer) however slowly it
# trickles in: evhttp's own timeout is per read, so one byte every 2 s kept
# a connection open for ever.  At most 16 connections at once: a 17th waits
# in the listen backlog and is answered once one of the 16 has gone.  The
# endpoint answers afterwards and holds exactly the descriptors it held
# before.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 curl

mkpki "$T/pki"
P=$T/pki
closed_port
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
site_conf "$T/chainfix.conf" main 127.0.0.1:0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
APORT=$(cfx_admin_port)
fds() { ls "/proc/$CFX_PID/fd" | wc -l; }

curl -fsS --max-time 30 "http://127.0.0.1:$APORT/healthz" >"$T/curl.out" ||
    fail "healthz: $(cat "$T/curl.out")"
BASE_FDS=$(fds)

# A slow client: "GET /healthz HTTP/1.1..." one byte every 2 s, which the
# per-read timeout (10 s) alone never ends.
/usr/bin/python3 - "$APORT" >"$T/slow.log" 2>&1 <<'PY' || fail "slow client: $(cat "$T/slow.log")"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(2)
req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
start = time.monotonic()
sent = 0
for b in req:
    if time.monotonic() - start > 60:
        sys.exit("still open after %.0f s, %d bytes sent" %
                 (time.monotonic() - start, sent))
    try:
        s.send(bytes([b]))
        sent += 1
        if s.recv(1024) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
else:
    sys.exit("the whole request went through (%d bytes)" % sent)
print("closed by the server after %d of %d bytes" % (sent, len(req)))
PY
ok "slow admin client: $(cat "$T/slow.log")"
wait_log "$T/chainfix.log" "admin: closing a connection from 127\.0\.0\.1:[0-9]+: no whole request within 10s"

# 16 connections that send nothing, then a 17th with a request: it must be
# answered, and only after the endpoint has closed one of the 16 (their
# deadline).  Events are taken in the order select() reports them; one of
# the 16 closed in the same round as the answer counts as before it.
/usr/bin/python3 - "$APORT" >"$T/cap.log" 2>&1 <<'PY' || fail "17 connections: $(cat "$T/cap.log")"
import select, socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
extra = socket.create_connection(("127.0.0.1", port))
extra.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
open_ = set(held)
answer = b""
closed_before = None
start = time.monotonic()
while True:
    if time.monotonic() - start > 120:
        sys.exit("no answer within 120 s (%d of 16 still open)" % len(open_))
    r, _, _ = select.select(list(open_) + [extra], [], [], 1)
    gone = [s for s in r if s is not extra and s.recv(1024) == b""]
    for s in gone:
        open_.discard(s)
        s.close()
    if extra in r:
        data = extra.recv(4096)
        if closed_before is None:
            closed_before = 16 - len(open_)
        answer += data
        if data == b"":
            break
if not answer.startswith(b"HTTP/1.") or b" 200 " not in answer.split(b"\r\n")[0]:
    sys.exit("the 17th got: %r" % answer[:200])
if closed_before == 0:
    sys.exit("the 17th was answered while all 16 were open")
print("answered after %d of the 16 were closed" % closed_before)
for s in open_:
    s.close()
PY
ok "17 connections: $(cat "$T/cap.log")"
wait_log "$T/chainfix.log" "admin: 16 connections open: more wait in the listen backlog"

curl -fsS --max-time 30 "http://127.0.0.1:$APORT/healthz" >"$T/curl.out" ||
    fail "healthz afterwards: $(cat "$T/curl.out")"
grep -q '^ok' "$T/curl.out" || fail "healthz afterwards: $(cat "$T/curl.out")"
ok "answers afterwards"

# Every admin connection closed: the descriptors of before, no more.
i=0
while [ "$(fds)" -ne "$BASE_FDS" ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(fds)" -eq "$BASE_FDS" ] ||
    fail "$(fds) descriptors open, $BASE_FDS before: $(ls -l "/proc/$CFX_PID/fd")"
ok "descriptors: $BASE_FDS before and after"
chainfix_stop_clean
pass
