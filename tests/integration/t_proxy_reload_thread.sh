#!/bin/bash
# A reload builds the new generation on a thread of its own: while a big
# intermediates directory (4,000 files) is being parsed, new connections
# are accepted and served; a SIGHUP during a reload asks for one more
# after it; the swap happens on the main loop when the build is done.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

P=$T/pki
"$MKPKI" --fillers 4000 "$P" >"$T/mkpki.log" 2>&1 || fail "mkpki --fillers failed"
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" big 0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port big)
L=$T/chainfix.log

kill -HUP "$CFX_PID"
wait_log "$L" "reloading "
# Served while the reload runs.
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
    fail "no service during the reload"
kill -HUP "$CFX_PID"
wait_log "$L" "reloaded .*generation 2" 60
wait_log "$L" "reloaded .*generation 3" 60
# The session served during the first reload closed before it was swapped
# in: accepting did not wait for the build.
awk -v pat="reloaded .*generation 2" '
	/reloading / && !r { r = 1 }
	r && / session .* site=big / && !s { s = NR }
	$0 ~ pat { g = NR; exit }
	END { exit !(s && s < g) }' "$L" ||
    fail "no session was served between the SIGHUP and the swap: $(grep -E 'reload|session' "$L")"
ok "a session was served while the new generation was being built"
grep -q "reload of .* asked for while one is running" "$L" ||
    fail "the second SIGHUP was not queued"
ok "a SIGHUP during a reload runs another one after it"
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
    fail "no service after the reloads"
chainfix_stop_clean
pass
