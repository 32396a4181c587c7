#!/bin/bash
# Timeouts, with small configured values: a connection idle for less than
# idle_timeout survives, one that keeps sending in one direction only
# survives past it, one idle for longer is closed; a client that never
# finishes its handshake is dropped after handshake_timeout.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" t 0 "$BPORT"
cat >>"$T/chainfix.conf" <<EOF
idle_timeout = 4
handshake_timeout = 2
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port t)

# Idle for 1 s (below 4 s): the echo still comes back.
peer client --port "$PPORT" --cafile "$P/root.pem" idle 1 >"$T/idle1.log" 2>&1 ||
    fail "a connection idle below idle_timeout was closed: $(cat "$T/idle1.log")"
ok "idle below idle_timeout survives"

# Bytes flowing one way only for 8 s (twice the timeout): not idle.
peer client --port "$PPORT" --cafile "$P/root.pem" hold 8 >"$T/hold.log" 2>&1 ||
    fail "a one-way transfer longer than idle_timeout was cut: $(cat "$T/hold.log")"
ok "one-way traffic keeps a session alive past idle_timeout"

# Idle for good: chainfix closes it, and says why.
peer client --port "$PPORT" --cafile "$P/root.pem" waitclose >"$T/wait.log" 2>&1 ||
    fail "waitclose client failed: $(cat "$T/wait.log")"
wait_log "$T/chainfix.log" "site=t .*: idle timeout \(4s\)"
ok "idle above idle_timeout is closed"

# A client that connects and never sends a ClientHello.
/usr/bin/python3 - "$PPORT" >"$T/hs.log" 2>&1 <<'PY' || fail "handshake staller: $(cat "$T/hs.log")"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(60)
start = time.monotonic()
if s.recv(1) != b"":
    sys.exit("got data instead of a close")
print("closed after %.1fs" % (time.monotonic() - start))
PY
wait_log "$T/chainfix.log" "sni=- site=- backend=- .*: handshake timeout \(2s\)"
ok "silent client dropped after handshake_timeout"
chainfix_stop_clean
pass
