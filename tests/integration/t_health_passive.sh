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
silent_backend hung
HUNG=$BG_PORT
py_backend live --cert "$P/leaf-full.pem" --key "$P/leaf.key"
LIVE=$BG_PORT
closed_port
DEAD1=$BG_PORT
closed_port
DEAD2=$BG_PORT
# A backend that refuses connections (bound, not listening) until
# $T/later.go exists, then answers WHO with "later" over TLS.
bg later /usr/bin/python3 -c 'import os, socket, ssl, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print("refusing on", s.getsockname()[1], flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
s.listen(16)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
while True:
    c, _ = s.accept()
    try:
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(100)
        t.sendall(b"later\n")
        t.close()
    except OSError:
        c.close()' "$T/later.go" "$P/leaf-full.pem" "$P/leaf.key"
bg_port later "refusing on "
LATER=$BG_PORT
PIN=sha256:$(printf '%064d' 0)

global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" eas 127.0.0.1:0 "127.0.0.1:$HUNG, 127.0.0.1:$LIVE" \
    "backend_ca = $P/root.pem" "connect_timeout = 2" "backend_retry = 1h"
site_block "$T/chainfix.conf" dead 127.0.0.2:0 "127.0.0.1:$DEAD1, 127.0.0.1:$DEAD2" \
    "backend_ca = $P/root.pem" "backend_retry = 1h"
site_block "$T/chainfix.conf" back 127.0.0.3:0 "127.0.0.1:$LATER, 127.0.0.1:$LIVE" \
    "backend_ca = $P/root.pem" "backend_retry = 1s"
site_block "$T/chainfix.conf" pinned 127.0.0.4:0 "127.0.0.1:$LIVE" \
    "backend_verify = $PIN"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
wait_log "$L" "self-test: done"

who() {
	cfx_client "$1" --cafile "$P/root.pem" who 2>>"$T/clients.err"
}

# --- a hung first backend -------------------------------------------------
[ "$(who eas)" = live ] || fail "first session did not fail over"
wait_log "$L" "warning: site eas: backend 127\.0\.0\.1:$HUNG is down: timeout \(2s\); new sessions skip it for 3600s"
for i in 2 3 4 5 6; do
	[ "$(who eas)" = live ] || fail "session $i failed"
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
	if who dead >/dev/null; then
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
[ "$(who back)" = live ] || fail "no failover past the refusing backend"
wait_log "$L" "site back: backend 127\.0\.0\.1:$LATER is down: Connection refused; new sessions skip it for 1s"
touch "$T/later.go"
# Sessions pass it by until backend_retry is over, then one tries it.
i=0
while [ "$(who back)" != later ]; do
	[ "$i" -lt 100 ] || fail "the backend that came back is never used again"
	sleep 0.1
	i=$((i + 1))
done
wait_log "$L" "info: site back: backend 127\.0\.0\.1:$LATER is up again \(a session got through, after [0-9]+s down\)"
[ "$(who back)" = later ] || fail "the first backend is not preferred again"
ok "a backend that comes back: used again, logged once"

# --- a refused certificate: one warning per backend and cause --------------
for i in 1 2 3; do
	who pinned >/dev/null && fail "a pinned session went through"
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
