#!/usr/bin/env bash
# backend_proxy_protocol = v2: chainfix sends HAProxy's PROXY protocol v2
# header first on each backend connection, before the TLS handshake, so a
# backend that reads it (HAProxy's accept-proxy here) sees the real client:
# its address and port, the address it connected to, and its SNI.  A raw
# listener checks the header byte by byte.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need haproxy curl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
cat "$P/leaf-full.pem" "$P/leaf.key" >"$T/haproxy.pem"
HP_PLAIN=$(free_port)
HP_TLS=$(free_port)
answer='src=%[src]:%[src_port] dst=%[dst]:%[dst_port] authority=%[fc_pp_authority] ssl=%[ssl_fc]\n'
cat >"$T/haproxy.cfg" <<HAPROXY
global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend plain
  bind 127.0.0.1:$HP_PLAIN accept-proxy
  http-request return status 200 content-type text/plain lf-string "$answer"
frontend tls
  bind 127.0.0.1:$HP_TLS accept-proxy ssl crt $T/haproxy.pem
  http-request return status 200 content-type text/plain lf-string "$answer"
HAPROXY
bg haproxy haproxy -db -f "$T/haproxy.cfg"
wait_port "$HP_PLAIN"
wait_port "$HP_TLS"

# The raw listener: the PROXY header of each connection, in hex.
RAW=$(free_port)
bg raw /usr/bin/python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    data = b""
    try:
        while len(data) < 16 or \
            len(data) < 16 + int.from_bytes(data[14:16], "big"):
            b = c.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    if len(data) >= 16:
        data = data[:16 + int.from_bytes(data[14:16], "big")]
    open(sys.argv[2], "w").write(data.hex() + "\n")
    c.close()' "$RAW" "$T/raw.hex"
wait_port "$RAW"
rm -f "$T/raw.hex"	# wait_port's own connection

P_PLAIN=$(free_port)
P_TLS=$(free_port)
P_RAW=$(free_port)
P_NONE=$(free_port)
global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" plain "$P_PLAIN" "127.0.0.1:$HP_PLAIN" \
    "backend_tls = no" "backend_proxy_protocol = v2"
site_block "$T/chainfix.conf" tls "$P_TLS" "127.0.0.1:$HP_TLS" \
    "backend_ca = $P/root.pem" "backend_proxy_protocol = v2"
site_block "$T/chainfix.conf" raw "$P_RAW" "127.0.0.1:$RAW" \
    "backend_tls = no" "backend_proxy_protocol = v2"
site_block "$T/chainfix.conf" none "$P_NONE" "127.0.0.1:$HP_TLS" \
    "backend_ca = $P/root.pem"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
wait_log "$L" "self-test: done"

# get PORT: curl through chainfix; prints the body, then " LOCALPORT".
get() {
	curl -sS --max-time 10 --cacert "$P/root.pem" \
	    --resolve "localhost:$1:127.0.0.1" -w ' %{local_port}\n' \
	    "https://localhost:$1/" 2>"$T/curl.err"
}

for site in plain tls; do
	if [ "$site" = plain ]; then port=$P_PLAIN ssl=0; else port=$P_TLS ssl=1; fi
	out=$(get "$port") || fail "$site: no answer: $(cat "$T/curl.err")"
	lport=${out##* }
	want="src=127.0.0.1:$lport dst=127.0.0.1:$port authority=localhost ssl=$ssl"
	[ "$(echo "$out" | head -n 1)" = "$want" ] ||
		fail "$site: HAProxy saw '$out', want '$want'"
	grep -q "session 127.0.0.1:$lport up sni=localhost site=$site .* proxy_protocol=v2" "$L" ||
		fail "$site: the up line does not say proxy_protocol=v2"
done
ok "HAProxy (accept-proxy) sees the client's address and port, the address it reached and its SNI; plain, and before the TLS handshake"

# Without the key the same accept-proxy backend refuses the connection.
if get "$P_NONE" >/dev/null; then
	fail "a connection without the header was accepted by accept-proxy"
fi
ok "a site without backend_proxy_protocol sends no header"

# Byte by byte: signature, v2 PROXY, TCP over IPv4, length, addresses,
# ports, the AUTHORITY TLV.
get "$P_RAW" >/dev/null 2>&1 || true
i=0
while [ ! -s "$T/raw.hex" ]; do
	[ "$i" -lt 100 ] || fail "the raw listener got nothing"
	sleep 0.1
	i=$((i + 1))
done
wait_log "$L" "up sni=localhost site=raw "
lport=$(sed -n 's/.*session 127\.0\.0\.1:\([0-9]*\) up sni=localhost site=raw .*/\1/p' "$L")
[ -n "$lport" ] || fail "no up line for site raw"
hex4() { printf '%04x' "$1"; }
want=0d0a0d0a000d0a515549540a		# the signature
want=${want}2111			# v2 PROXY, TCP over IPv4
want=${want}$(hex4 $((12 + 3 + 9)))	# addresses, ports and the TLV
want=${want}7f0000017f000001$(hex4 "$lport")$(hex4 "$P_RAW")
want=${want}020009$(printf localhost | od -An -tx1 | tr -d ' \n')
got=$(cat "$T/raw.hex")
[ "$got" = "$want" ] || fail "header bytes: got $got, want $want"
ok "the header, byte by byte: signature, v2/PROXY, TCP4, length, addresses, ports, AUTHORITY"
chainfix_stop_clean
pass
