#!/bin/bash
# /readyz, the readiness a load balancer or the kubelet asks: 200 "ready"
# while every site has its chain and a backend the health checks consider
# up; 503 naming the site and its backends once every backend of a site is
# down (an active check failed), 200 again when a check passes, 503
# "draining" from the start of a drain.  /healthz (liveness) stays 200
# while the backends are down.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need curl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BACKEND_PID=$BG_PID
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
site_conf "$T/chainfix.conf" s 0 "$BPORT"
cat >>"$T/chainfix.conf" <<CONF
backend_check = tls
backend_check_interval = 1s
CONF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port s)
ADMIN=$(cfx_addr global admin_listen)
ADMIN=${ADMIN##*:}
wait_port "$ADMIN"

# get PATH: "STATUS BODY" (the body's lines joined by '|').
get() {
	curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$ADMIN$1" >"$T/code" || true
	echo "$(cat "$T/code") $(tr '\n' '|' <"$T/body")"
}
# until PATH EXPECTED: wait (at most 30 s) until get PATH prints EXPECTED.
until_get() {
	local i=0
	while [ "$(get "$1")" != "$2" ]; do
		[ "$i" -lt 300 ] || fail "$1: '$(get "$1")', expected '$2'"
		sleep 0.1
		i=$((i + 1))
	done
}

until_get /readyz "200 ready|"
ok "ready: chain built, backend up"

stop "$BACKEND_PID" || true
until_get /readyz "503 not ready: site s: every backend is down: 127.0.0.1:$BPORT|"
[ "$(get /healthz)" = "200 ok|" ] || fail "liveness follows the backend: $(get /healthz)"
ok "backend down: /readyz 503 names the site and backend, /healthz still 200"

# The backend back on its port (the one the site names).
bg backend2 /usr/bin/python3 "$PEER" backend --port "$BPORT" --name backend2 \
    --cert "$P/leaf-full.pem" --key "$P/leaf.key"
wait_port "$BPORT"
until_get /readyz "200 ready|"
ok "backend back: ready again"

# A session in flight keeps the drain (and the admin endpoint) going.
peer client --port "$PPORT" --cafile "$P/root.pem" hold 4 >"$T/hold.log" 2>&1 &
HOLD=$!
LIB_PIDS="$LIB_PIDS $HOLD"
i=0
until curl -s "http://127.0.0.1:$ADMIN/metrics" | grep -qx "chainfix_connections_active 1"; do
	[ "$i" -lt 300 ] || fail "the held session never showed up"
	sleep 0.1
	i=$((i + 1))
done
kill -TERM "$CFX_PID"
wait_log "$T/chainfix.log" "draining"
r=$(get /readyz)
case "$r" in "503 not ready: draining|"*) ;; *) fail "draining but /readyz says '$r'" ;; esac
ok "draining: /readyz 503"
wait "$HOLD" || fail "the session in flight failed: $(cat "$T/hold.log")"
rc=0
wait "$CFX_PID" || rc=$?
[ "$rc" = 0 ] || fail "chainfix exited $rc"
pass
