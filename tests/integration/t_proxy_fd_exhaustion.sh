#!/bin/bash
# File descriptor exhaustion: with a low RLIMIT_NOFILE and more idle
# connections than it allows, chainfix pauses accepting (logged) instead of
# spinning or dying, and serves again once descriptors are free.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
# Above what 64 descriptors hold, so accept() meets EMFILE (max_connections
# would otherwise pause accepting before it: t_proxy_max_connections).
echo "max_connections = 1000" >>"$T/chainfix.conf"
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

# 100 silent connections, held 5 s: more than 64 descriptors.
/usr/bin/python3 - "$PPORT" >"$T/flood.log" 2>&1 <<'PY' || fail "flood: $(cat "$T/flood.log")"
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(100)]
time.sleep(5)
for s in socks:
    s.close()
PY
wait_log "$T/chainfix.log" "accept: (Too many open files|No file descriptors).*: pausing"
ok "accept paused on EMFILE"
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
chainfix_stop_clean
pass
