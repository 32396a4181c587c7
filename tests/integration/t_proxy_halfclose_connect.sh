#!/bin/bash
# Bytes a client sends, and its half-close, while the backend is still
# connecting are delivered once it is up: during the TCP connect (the first
# backend drops the SYN; failover after connect_timeout) and during the
# backend's TLS handshake (a backend that waits before its handshake).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
HOLE=$(free_port)
B_TLS=$(free_port)
B_SLOW=$(free_port)
B_PLAIN=$(free_port)
P_TLS=$(free_port)
P_SLOW=$(free_port)
P_PLAIN=$(free_port)
bg hole /usr/bin/python3 "$PEER" blackhole --port "$HOLE"
wait_log "$T/hole.log" "blackhole on $HOLE"
py_backend tlsb "$B_TLS" --cert "$P/leaf-full.pem" --key "$P/leaf.key"
py_backend slowb "$B_SLOW" --cert "$P/leaf-full.pem" --key "$P/leaf.key" \
    --accept-delay 2
py_backend plainb "$B_PLAIN"
global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" tls "$P_TLS" \
    "127.0.0.1:$HOLE, 127.0.0.1:$B_TLS" "backend_ca = $P/root.pem" \
    "connect_timeout = 2"
site_conf "$T/chainfix.conf" slow "$P_SLOW" "$B_SLOW"
site_block "$T/chainfix.conf" plain "$P_PLAIN" \
    "127.0.0.1:$HOLE, 127.0.0.1:$B_PLAIN" "backend_tls = no" \
    "connect_timeout = 2"
chainfix_start chainfix "$T/chainfix.conf"

N=100000
for site in tls slow plain; do
	case $site in
	tls) port=$P_TLS ;;
	slow) port=$P_SLOW ;;
	plain) port=$P_PLAIN ;;
	esac
	peer client --port "$port" --cafile "$P/root.pem" halfup "$N" fin \
	    >"$T/up-$site.log" 2>&1 ||
	    fail "$site: $(cat "$T/up-$site.log")"
	grep -q "^halfup $N ok end=close_notify" "$T/up-$site.log" ||
	    fail "$site: $(cat "$T/up-$site.log")"
	wait_log "$T/chainfix.log" "site=$site .* in=$((N + 10)) out=[0-9]+ .*reason=client_closed"
done
grep -q "backend 127.0.0.1:$HOLE: timeout (2s)" "$T/chainfix.log" ||
    fail "the first backend was not given up by its timeout"
ok "request and FIN sent during the TCP connect: delivered after failover (TLS and plain backends)"
ok "request and FIN sent during the backend's TLS handshake: delivered"
chainfix_stop_clean
pass
