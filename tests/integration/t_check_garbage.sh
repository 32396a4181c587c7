#!/bin/bash
# chainfix check against a plain TCP server that sends junk, and one that
# never answers: a clear error and exit 3, no hang.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need python3

cat >"$T/junk.py" <<'PY'
import socket, sys, threading, time
mode, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
print("listening on", srv.getsockname()[1], flush=True)
def serve(c):
    try:
        if mode == "junk":
            c.sendall(b"220 mail.example.com ESMTP ready\r\n" * 4)
        time.sleep(600)   # hold the connection open, say nothing more
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

bg junk python3 "$T/junk.py" junk 0
bg_port junk "listening on "
PORT=$BG_PORT
run_check junk "127.0.0.1:$PORT" --json --timeout 60
expect_rc 3 "junk instead of TLS"
jcheck "$T/junk.out" 'j["verdict"] == "UNREACHABLE" and j["error"].startswith("TLS handshake with 127.0.0.1:'"$PORT"'")' "handshake failure reported"
run_check junkh "127.0.0.1:$PORT"
expect_rc 3 "human report"
[ "$(wc -l <"$T/junkh.out")" = 1 ] || fail "more than one line: $(cat "$T/junkh.out")"
grep_out "$T/junkh.out" "^UNREACHABLE 127.0.0.1:$PORT: TLS handshake with 127.0.0.1:$PORT: .+" "one line with the reason"

bg silent python3 "$T/junk.py" silent 0
bg_port silent "listening on "
PORT2=$BG_PORT
run_check silent "127.0.0.1:$PORT2" --json --timeout 1
expect_rc 3 "silent server"
jcheck "$T/silent.out" '"timed out" in j["error"]' "handshake timeout reported"
pass
