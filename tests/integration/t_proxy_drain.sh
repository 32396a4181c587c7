#!/bin/bash
# Drain: SIGTERM with a transfer in flight stops accepting, lets the
# transfer complete, then exits 0.  A session that does not end by itself
# is closed at shutdown_timeout and the process still exits 0.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 curl

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
write_conf() {
	: >"$T/chainfix.conf"
	global_conf "$T/chainfix.conf"
	sed -i "s/^\[global\]$/&\nadmin_listen = 127.0.0.1:0/" "$T/chainfix.conf"
	site_conf "$T/chainfix.conf" d 0 "$BPORT"
}

# 1. The transfer completes, then the process exits 0.
CFX_LOG_LEVEL=debug CFX_SHUTDOWN_TIMEOUT=60 write_conf
chainfix_start chainfix "$T/chainfix.conf"
APORT=$(cfx_admin_port)
PPORT=$(cfx_port d)
bg hold /usr/bin/python3 "$PEER" client --port "$PPORT" --cafile "$P/root.pem" hold 5
HOLD=$BG_PID
wait_log "$T/chainfix.log" "backend_tls -> relay"
[ "$(curl -sS "http://127.0.0.1:$APORT/healthz")" = ok ] || fail "/healthz not ok while serving"
kill -TERM "$CFX_PID"
wait_log "$T/chainfix.log" "draining 1 session"
if (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null; then
	fail "still accepting while draining"
fi
ok "accepting stopped at SIGTERM"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/healthz")
[ "$code" = 503 ] || fail "/healthz answered $code while draining"
ok "/healthz says 503 while draining"
wait "$HOLD" || fail "the transfer in flight failed: $(cat "$T/hold.log")"
ok "the transfer in flight completed"
rc=0
wait "$CFX_PID" || rc=$?
[ "$rc" = 0 ] || fail "chainfix exited $rc after draining"
grep -q "drained: exiting" "$T/chainfix.log" || fail "no drain message"
grep -Eq "$LIB_SANITIZER_RE" "$T/chainfix.log" &&
    fail "sanitizer report"
ok "exit 0 after the drain"

# 2. An idle session is cut at shutdown_timeout.
CFX_LOG_LEVEL=debug CFX_SHUTDOWN_TIMEOUT=2 write_conf
chainfix_start chainfix2 "$T/chainfix.conf"
PPORT=$(cfx_port d)
bg wait /usr/bin/python3 "$PEER" client --port "$PPORT" --cafile "$P/root.pem" waitclose
WAITER=$BG_PID
wait_log "$T/chainfix2.log" "backend_tls -> relay"
kill -TERM "$CFX_PID"
rc=0
wait "$CFX_PID" || rc=$?
[ "$rc" = 0 ] || fail "chainfix exited $rc after the shutdown timeout"
grep -q "shutdown_timeout (2s) passed: closing 1 session" "$T/chainfix2.log" ||
    fail "the shutdown timeout did not close the idle session"
grep -q "site=d .*: shutdown timeout" "$T/chainfix2.log" ||
    fail "no session line for the cut session"
grep -Eq "$LIB_SANITIZER_RE" "$T/chainfix2.log" &&
    fail "sanitizer report"
wait "$WAITER" || fail "the idle client did not see the close"
ok "idle session closed at shutdown_timeout, exit 0"
pass
