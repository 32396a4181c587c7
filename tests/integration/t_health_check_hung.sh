#!/usr/bin/env bash
# Active checks run side by side: a backend that accepts and never answers
# (its check hangs for the whole handshake_timeout, here 120 s) must not
# delay the checks of the site's other backend, whose state changes are
# noticed while the hung check is still in progress.  A reload and the
# shutdown end the hung check at once instead of waiting for its timeout.
# The hung backend is the site's first, so checks taken one after the other
# (as before) would wait for it first.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need curl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki

# The hung backend: accepts, says nothing, logs "accepted PORT" for each
# connection and "closed PORT" when chainfix hangs up on it, a whole line
# at a time (lib.sh).
hung_backends hung 1
HUNG=${HUNG_PORTS%% *}

# The good backend: GET /owa/healthcheck.htm answers the status code in
# $T/good.status, 503 at first.
https_health good
GOOD=$BG_PORT
echo 503 >"$T/good.status"

# debug: each check's start and result are logged.
CFX_LOG_LEVEL=debug global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" owa 127.0.0.1:0 "127.0.0.1:$HUNG, 127.0.0.1:$GOOD" \
    "backend_ca = $P/root.pem" "backend_check = GET /owa/healthcheck.htm" \
    "backend_check_interval = 1s" "handshake_timeout = 120"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
H="127\.0\.0\.1:$HUNG"
G="127\.0\.0\.1:$GOOD"

# no_hung_result WHEN: the hung backend's check has not ended, neither in
# chainfix's log nor at the backend.
no_hung_result() {
	grep -Eq "backend $H: check (passed|failed)|backend $H is down" "$L" &&
		fail "$1: the hung backend's check ended: $(grep -E "backend $H" "$L")"
	grep -q "^closed" "$T/hung.log" &&
		fail "$1: the checker hung up on the hung backend"
	return 0
}

# Generous bounds (the hung check would take 120 s), only so that a
# regression fails instead of hanging.
wait_log "$L" "debug: site owa: backend $H: checking" 30
wait_log "$L" "warning: site owa: backend $G is down: check failed: GET /owa/healthcheck.htm: HTTP/1\.0 503 Service Unavailable" 30
no_hung_result "the good backend went down"
ok "the good backend's failed check is noticed while the hung one's is in progress"

echo 200 >"$T/good.status"
wait_log "$L" "info: site owa: backend $G is up again \(check passed, after [0-9]+s down\)" 30
no_hung_result "the good backend came back"
# In the log: the hung check started before the good backend came back.
hung_at=$(grep -nE "backend $H: checking" "$L" | head -n 1 | cut -d: -f1)
up_at=$(grep -nE "backend $G is up again" "$L" | head -n 1 | cut -d: -f1)
[ "$hung_at" -lt "$up_at" ] || fail "the hung check started after the good backend came back"
ok "the good backend's way back up is noticed while the hung check is in progress"

# A reload ends the hung check at once and checks again with the new
# configuration; the good backend is still followed meanwhile.  (The
# startup self-test holds a connection to the hung backend of its own, for
# its 120 s too: connections are counted, not numbered.)
kill -HUP "$CFX_PID"
wait_log "$L" "reloaded .*generation 2"
wait_log "$L" "debug: site owa: backend $H: check cancelled" 30
wait_log "$T/hung.log" "^closed " 30
i=0
while [ "$(grep -cE "backend $H: checking" "$L")" -lt 2 ]; do
	[ "$i" -lt 600 ] || fail "the hung backend was not checked again after the reload"
	sleep 0.05
	i=$((i + 1))
done
grep -Eq "backend $H: check (passed|failed)" "$L" &&
	fail "the check a reload cancelled was counted: $(grep -E "backend $H: check" "$L")"
echo 503 >"$T/good.status"
i=0
while [ "$(grep -c "backend 127.0.0.1:$GOOD is down" "$L")" -lt 2 ]; do
	[ "$i" -lt 600 ] || fail "the good backend's second failure went unnoticed"
	sleep 0.05
	i=$((i + 1))
done
grep -Eq "backend $H: check (passed|failed)|backend $H is down" "$L" &&
	fail "the hung backend's check ended: $(grep -E "backend $H" "$L")"
[ "$(grep -c "^closed" "$T/hung.log")" = 1 ] ||
	fail "the hung check after the reload ended early: $(cat "$T/hung.log")"
ok "a reload cancels the hung check and starts it again; the good one is still followed"

# The shutdown ends the hung check at once too: chainfix exits (a bound far
# below the 120 s the check would take).
kill -TERM "$CFX_PID"
i=0
while kill -0 "$CFX_PID" 2>/dev/null; do
	[ "$i" -lt 600 ] || fail "chainfix did not exit: the hung check held the shutdown"
	sleep 0.05
	i=$((i + 1))
done
chainfix_stop_clean
i=0
while [ "$(grep -c "^closed" "$T/hung.log")" != "$(grep -c "^accepted" "$T/hung.log")" ]; do
	[ "$i" -lt 200 ] || fail "a connection to the hung backend outlived chainfix: $(cat "$T/hung.log")"
	sleep 0.05
	i=$((i + 1))
done
ok "shutdown ends the hung check"
pass
