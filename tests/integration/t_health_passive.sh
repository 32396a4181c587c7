#!/usr/bin/env bash
# Passive backend health: a backend that accepts and never answers costs the
# first session connect_timeout, then it is marked down (logged once) and
# new sessions go straight to the next backend; when every backend is down,
# sessions still try them all; a backend that comes back is used again and
# its return logged once; a refused certificate is a warning once per
# backend and cause, not a line per session.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
HUNG=$(free_port); silent_backend hung "$HUNG"
LIVE=$(free_port); py_backend live "$LIVE" --cert "$P/leaf-full.pem" --key "$P/leaf.key"
DEAD1=$(free_port)
DEAD2=$(free_port)
LATER=$(free_port)
PIN=sha256:$(printf '%064d' 0)

P_EAS=$(free_port) P_DEAD=$(free_port) P_BACK=$(free_port) P_PIN=$(free_port)
global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" eas "$P_EAS" "127.0.0.1:$HUNG, 127.0.0.1:$LIVE" \
    "backend_ca = $P/root.pem" "connect_timeout = 2" "backend_retry = 1h"
site_block "$T/chainfix.conf" dead "$P_DEAD" "127.0.0.1:$DEAD1, 127.0.0.1:$DEAD2" \
    "backend_ca = $P/root.pem" "backend_retry = 1h"
site_block "$T/chainfix.conf" back "$P_BACK" "127.0.0.1:$LATER, 127.0.0.1:$LIVE" \
    "backend_ca = $P/root.pem" "backend_retry = 1s"
site_block "$T/chainfix.conf" pinned "$P_PIN" "127.0.0.1:$LIVE" \
    "backend_verify = $PIN"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
wait_log "$L" "self-test: done"

who() {
	peer client --port "$1" --cafile "$P/root.pem" who 2>>"$T/clients.err"
}

# --- a hung first backend -------------------------------------------------
[ "$(who "$P_EAS")" = live ] || fail "first session did not fail over"
wait_log "$L" "warning: site eas: backend 127\.0\.0\.1:$HUNG is down: timeout \(2s\); new sessions skip it for 3600s"
for i in 2 3 4 5 6; do
	[ "$(who "$P_EAS")" = live ] || fail "session $i failed"
done
n=$(grep -c "backend 127.0.0.1:$HUNG: timeout" "$L")
[ "$n" = 1 ] || fail "the hung backend was tried $n times, not once"
[ "$(grep -c "site eas: backend 127.0.0.1:$HUNG is down" "$L")" = 1 ] ||
	fail "the down state was logged more than once"
[ "$(grep -c "up sni=localhost site=eas backend=127.0.0.1:$LIVE " "$L")" = 6 ] ||
	fail "not every session reached the live backend"
ok "hung backend: one session waited connect_timeout, five went straight to the next"

# --- every backend down: still tried ---------------------------------------
for i in 1 2; do
	if who "$P_DEAD" >/dev/null; then
		fail "a session through two dead backends succeeded"
	fi
done
wait_log "$L" "site=dead .*reason=backend_unreachable: no backend reachable"
i=0
while [ "$(grep -c "backend 127.0.0.1:$DEAD2: Connection refused" "$L")" -lt 2 ]; do
	[ "$i" -lt 100 ] || fail "the second session did not try the down backends"
	sleep 0.1
	i=$((i + 1))
done
[ "$(grep -c "backend 127.0.0.1:$DEAD1: Connection refused" "$L")" -ge 2 ] ||
	fail "sessions did not try every backend when all were down"
ok "every backend down: each session still tries them all"

# --- a backend that comes back ---------------------------------------------
[ "$(who "$P_BACK")" = live ] || fail "no failover past the missing backend"
wait_log "$L" "site back: backend 127\.0\.0\.1:$LATER is down: Connection refused; new sessions skip it for 1s"
py_backend later "$LATER" --cert "$P/leaf-full.pem" --key "$P/leaf.key"
# Sessions pass it by until backend_retry is over, then one tries it.
i=0
while [ "$(who "$P_BACK")" != later ]; do
	[ "$i" -lt 100 ] || fail "the backend that came back is never used again"
	sleep 0.1
	i=$((i + 1))
done
wait_log "$L" "info: site back: backend 127\.0\.0\.1:$LATER is up again \(a session got through, after [0-9]+s down\)"
[ "$(who "$P_BACK")" = later ] || fail "the first backend is not preferred again"
ok "a backend that comes back: used again, logged once"

# --- a refused certificate: one warning per backend and cause --------------
for i in 1 2 3; do
	who "$P_PIN" >/dev/null && fail "a pinned session went through"
done
i=0
while [ "$(grep -c "site=pinned .*reason=backend_refused" "$L")" -lt 3 ]; do
	[ "$i" -lt 100 ] || fail "the pinned sessions were not all refused"
	sleep 0.1
	i=$((i + 1))
done
[ "$(grep -c "warning: site pinned: backend 127.0.0.1:$LIVE: certificate refused: backend certificate does not match the pin" "$L")" = 1 ] ||
	fail "the refusal was not logged exactly once at warning: $(grep -c 'certificate refused' "$L")"
ok "refused certificate: one warning for three sessions"
chainfix_stop_clean
pass
