#!/bin/bash
# Bytes a client sends, and its half-close, while the backend is still
# connecting are delivered once it is up: during the TCP connect (the first
# backend drops the SYN; failover after connect_timeout) and during the
# backend's TLS handshake (a backend that waits before its handshake).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
bg hole /usr/bin/python3 "$PEER" blackhole
bg_port hole "blackhole on "
HOLE=$BG_PORT
py_backend tlsb --cert "$P/leaf-full.pem" --key "$P/leaf.key"
B_TLS=$BG_PORT
py_backend slowb --cert "$P/leaf-full.pem" --key "$P/leaf.key" \
    --accept-delay 2
B_SLOW=$BG_PORT
py_backend plainb
B_PLAIN=$BG_PORT
global_conf "$T/chainfix.conf"
# One certificate on three sites: an address of its own for each.
site_block "$T/chainfix.conf" tls 127.0.0.1:0 \
    "127.0.0.1:$HOLE, 127.0.0.1:$B_TLS" "backend_ca = $P/root.pem" \
    "connect_timeout = 2"
site_conf "$T/chainfix.conf" slow 127.0.0.2:0 "$B_SLOW"
site_block "$T/chainfix.conf" plain 127.0.0.3:0 \
    "127.0.0.1:$HOLE, 127.0.0.1:$B_PLAIN" "backend_tls = no" \
    "connect_timeout = 2"
chainfix_start chainfix "$T/chainfix.conf"

N=100000
for site in tls slow plain; do
	cfx_client "$site" --cafile "$P/root.pem" halfup "$N" fin \
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
