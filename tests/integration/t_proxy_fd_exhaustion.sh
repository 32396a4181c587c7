#!/bin/bash
# File descriptor exhaustion: with a low RLIMIT_NOFILE and more idle
# connections than it allows, chainfix pauses accepting (logged) instead of
# spinning or dying, and serves again once descriptors are free.  The admin
# endpoint's listener does the same (it had no error callback: libevent
# warned in a loop and the main thread spun).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 curl

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
# Above what 64 descriptors hold, so accept() meets EMFILE (max_connections
# would otherwise pause accepting before it: t_proxy_max_connections).
echo "max_connections = 1000" >>"$T/chainfix.conf"
echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
site_conf "$T/chainfix.conf" fd 0 "$BPORT"
cat >>"$T/chainfix.conf" <<EOF
handshake_timeout = 3
EOF
CFX_REPORT=$T/chainfix.listen
bg chainfix bash -c 'ulimit -n 64 && exec "$0" -c "$1" --listen-report "$2"' \
    "$CHAINFIX" "$T/chainfix.conf" "$CFX_REPORT"
CFX_PID=$BG_PID
wait_log "$T/chainfix.log" "chainfix [^ ]+: serving [0-9]+ sites? on"
PPORT=$(cfx_port fd)
APORT=$(cfx_admin_port)

# 100 silent connections, held 5 s: more than 64 descriptors.
cat >"$T/flood.py" <<'PY'
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(100)]
print("flooded", flush=True)
time.sleep(5)
for s in socks:
    s.close()
PY
bg flood /usr/bin/python3 "$T/flood.py" "$PPORT"
FLOOD=$BG_PID
wait_log "$T/chainfix.log" "accept: (Too many open files|No file descriptors).*: pausing"
ok "accept paused on EMFILE"
# The admin endpoint, out of descriptors too.
wait_log "$T/flood.log" "^flooded"
curl -sS --max-time 2 "http://127.0.0.1:$APORT/healthz" >/dev/null 2>&1 || true
wait_log "$T/chainfix.log" "listen admin 127\\.0\\.0\\.1:0: accept: (Too many open files|No file descriptors).*: pausing"
ok "the admin listener paused on EMFILE"
wait "$FLOOD" || fail "flood: $(cat "$T/flood.log")"
kill -0 "$CFX_PID" || fail "chainfix died of fd exhaustion"

# Descriptors come back as the silent clients time out or leave.
i=0
until out=$(peer client --port "$PPORT" --cafile "$P/root.pem" who 2>/dev/null) &&
    [ "$out" = backend ]; do
	[ "$i" -lt 30 ] || fail "no service after the flood"
	sleep 1
	i=$((i + 1))
done
ok "serving again after the flood"
grep -q "listen 127.0.0.1:0: accepting again" "$T/chainfix.log" ||
	fail "no 'accepting again' line after the pause"
ok "the listener said it accepts again"
n=$(grep -c "pausing" "$T/chainfix.log")
[ "$n" -lt 1000 ] || fail "the listener spun: $n pause messages"
n=$(grep -c "Error from accept" "$T/chainfix.log" || true)
[ "$n" -lt 10 ] || fail "the admin listener spun: $n accept errors"
i=0
until curl -fsS --max-time 5 "http://127.0.0.1:$APORT/healthz" >/dev/null 2>&1; do
	[ "$i" -lt 30 ] || fail "the admin endpoint did not come back"
	sleep 1
	i=$((i + 1))
done
ok "the admin endpoint answers again"
chainfix_stop_clean
pass
