#!/usr/bin/env bash
# Active backend checks: backend_check = GET /owa/healthcheck.htm (Exchange's
# health page, expecting 200) every backend_check_interval, and
# backend_check = tls (a handshake as the proxy would) against a backend that
# accepts and never answers.  State changes are logged once each and
# exported as chainfix_backend_up{site,backend}; a reload keeps the state.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need curl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki

https_health exch1
A=$BG_PORT
https_health exch2
B=$BG_PORT
silent_backend hung
HUNG=$BG_PORT

# debug: each check's result is logged, so the test can wait for checks.
CFX_LOG_LEVEL=debug global_conf "$T/chainfix.conf"
sed -i "s/^\[global\]\$/[global]\nadmin_listen = 127.0.0.1:0/" "$T/chainfix.conf"
site_block "$T/chainfix.conf" owa 127.0.0.1:0 "127.0.0.1:$A, 127.0.0.1:$B" \
    "backend_ca = $P/root.pem" "backend_check = GET /owa/healthcheck.htm" \
    "backend_check_interval = 1s"
site_block "$T/chainfix.conf" eas 127.0.0.2:0 "127.0.0.1:$HUNG" \
    "backend_ca = $P/root.pem" "backend_check = tls" \
    "backend_check_interval = 1s" "handshake_timeout = 1"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
APORT=$(cfx_admin_port)

# up SITE BACKEND: its chainfix_backend_up value.
up() {
	curl -sS "http://127.0.0.1:$APORT/metrics" |
	    awk -v s="chainfix_backend_up{site=\"$1\",backend=\"$2\"}" '$1 == s { print $2 }'
}
# wait_up SITE BACKEND VALUE
wait_up() {
	local i=0
	while [ "$(up "$1" "$2")" != "$3" ]; do
		[ "$i" -lt 200 ] || fail "chainfix_backend_up of $1/$2 is not $3: $(up "$1" "$2")"
		sleep 0.1
		i=$((i + 1))
	done
}

wait_up owa "127.0.0.1:$A" 1
wait_up owa "127.0.0.1:$B" 1
grep -q "TYPE chainfix_backend_up gauge" <(curl -sS "http://127.0.0.1:$APORT/metrics") ||
	fail "no TYPE line for chainfix_backend_up"
ok "both Exchange backends up: chainfix_backend_up 1"

# The tls check of a backend that accepts and never answers.
wait_log "$L" "warning: site eas: backend 127\.0\.0\.1:$HUNG is down: check failed: TLS handshake with 127\.0\.0\.1:$HUNG: timed out after 1 s; new sessions skip it until a check passes"
wait_up eas "127.0.0.1:$HUNG" 0
ok "backend_check = tls: a hung backend is down"

echo 503 >"$T/exch1.status"
wait_log "$L" "warning: site owa: backend 127\.0\.0\.1:$A is down: check failed: GET /owa/healthcheck.htm: HTTP/1\.0 503 Service Unavailable"
wait_up owa "127.0.0.1:$A" 0
[ "$(up owa "127.0.0.1:$B")" = 1 ] || fail "the other backend went down too"
# Three more failed checks: still one line.
i=0
while [ "$(grep -c "site owa: backend 127.0.0.1:$A: check failed" "$L")" -lt 4 ]; do
	[ "$i" -lt 300 ] || fail "the checks stopped"
	sleep 0.1
	i=$((i + 1))
done
[ "$(grep -c "owa: backend 127.0.0.1:$A is down" "$L")" = 1 ] ||
	fail "the down state was logged more than once"
ok "health page answering 503: down, logged once, exported as 0"

# New sessions pass it by, though it still accepts TLS: they reach exch2.
P_OWA=$(cfx_port owa)
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$P/root.pem" \
    --resolve "localhost:$P_OWA:127.0.0.1" "https://localhost:$P_OWA/owa/healthcheck.htm")
[ "$code" = 200 ] || fail "a session reached the backend the check holds down ($code)"
wait_log "$L" "up sni=localhost site=owa backend=127\.0\.0\.1:$B "
grep -q "up sni=localhost site=owa backend=127.0.0.1:$A " "$L" &&
	fail "a session went to the backend the check holds down"
ok "sessions skip the backend its check holds down"

# A reload keeps what is known.
kill -HUP "$CFX_PID"
wait_log "$L" "reloaded .*generation 2"
[ "$(up owa "127.0.0.1:$A")" = 0 ] || fail "a reload forgot the down backend"
ok "a reload keeps the state"

echo 200 >"$T/exch1.status"
wait_log "$L" "info: site owa: backend 127\.0\.0\.1:$A is up again \(check passed, after [0-9]+s down\)"
wait_up owa "127.0.0.1:$A" 1
[ "$(grep -c "owa: backend 127.0.0.1:$A is up again" "$L")" = 1 ] ||
	fail "the way back up was logged more than once"
ok "health page back to 200: up again, logged once"
chainfix_stop_clean
pass
