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
answer='src=%[src]:%[src_port] dst=%[dst]:%[dst_port] authority=%[fc_pp_authority] ssl=%[ssl_fc]\n'
cat >"$T/haproxy.cfg.in" <<HAPROXY
global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend plain
  bind fd@@FD1@ accept-proxy
  http-request return status 200 content-type text/plain lf-string "$answer"
frontend tls
  bind fd@@FD2@ accept-proxy ssl crt $T/haproxy.pem
  http-request return status 200 content-type text/plain lf-string "$answer"
HAPROXY
# HAProxy cannot say which port a bind on port 0 got: it is handed two
# sockets already listening on ports of 127.0.0.1 (bind fd@N).
bg haproxy /usr/bin/python3 -c 'import os, socket, sys
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    s.set_inheritable(True)
    socks.append(s)
cfg = open(sys.argv[1]).read()
cfg = cfg.replace("@FD1@", str(socks[0].fileno()))
cfg = cfg.replace("@FD2@", str(socks[1].fileno()))
open(sys.argv[2], "w").write(cfg)
print("plain on", socks[0].getsockname()[1], "tls on",
      socks[1].getsockname()[1], flush=True)
os.execvp("haproxy", ["haproxy", "-db", "-f", sys.argv[2]])' \
    "$T/haproxy.cfg.in" "$T/haproxy.cfg"
bg_port haproxy "plain on "
HP_PLAIN=$BG_PORT
bg_port haproxy "tls on "
HP_TLS=$BG_PORT

# The raw listener: the PROXY header of each connection, in hex.
bg raw /usr/bin/python3 -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
print("raw on", s.getsockname()[1], flush=True)
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
    open(sys.argv[1], "w").write(data.hex() + "\n")
    c.close()' "$T/raw.hex"
bg_port raw "raw on "
RAW=$BG_PORT

global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" plain 127.0.0.1:0 "127.0.0.1:$HP_PLAIN" \
    "backend_tls = no" "backend_proxy_protocol = v2"
site_block "$T/chainfix.conf" tls 127.0.0.2:0 "127.0.0.1:$HP_TLS" \
    "backend_ca = $P/root.pem" "backend_proxy_protocol = v2"
site_block "$T/chainfix.conf" raw 127.0.0.3:0 "127.0.0.1:$RAW" \
    "backend_tls = no" "backend_proxy_protocol = v2"
site_block "$T/chainfix.conf" none 127.0.0.4:0 "127.0.0.1:$HP_TLS" \
    "backend_ca = $P/root.pem"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
wait_log "$L" "self-test: done"
# The self-test's connection to the raw listener is not a session's.
rm -f "$T/raw.hex"

# get SITE: curl through chainfix's SITE; prints the body, then
# " LOCALADDR:LOCALPORT", the client's end.
get() {
	curl -sS --max-time 10 --cacert "$P/root.pem" \
	    --resolve "localhost:$(cfx_port "$1"):$(cfx_host "$1")" \
	    -w ' %{local_ip}:%{local_port}\n' "https://localhost:$(cfx_port "$1")/" \
	    2>"$T/curl.err"
}

for site in plain tls; do
	if [ "$site" = plain ]; then ssl=0; else ssl=1; fi
	host=$(cfx_host "$site")
	port=$(cfx_port "$site")
	out=$(get "$site") || fail "$site: no answer: $(cat "$T/curl.err")"
	mine=${out##* }
	want="src=$mine dst=$host:$port authority=localhost ssl=$ssl"
	[ "$(echo "$out" | head -n 1)" = "$want" ] ||
		fail "$site: HAProxy saw '$out', want '$want'"
	grep -q "session $mine up sni=localhost site=$site .* proxy_protocol=v2" "$L" ||
		fail "$site: the up line does not say proxy_protocol=v2"
done
ok "HAProxy (accept-proxy) sees the client's address and port, the address it reached and its SNI; plain, and before the TLS handshake"

# Without the key the same accept-proxy backend refuses the connection.
if get none >/dev/null; then
	fail "a connection without the header was accepted by accept-proxy"
fi
ok "a site without backend_proxy_protocol sends no header"

# Byte by byte: signature, v2 PROXY, TCP over IPv4, length, addresses,
# ports, the AUTHORITY TLV.
get raw >/dev/null 2>&1 || true
i=0
while [ ! -s "$T/raw.hex" ]; do
	[ "$i" -lt 100 ] || fail "the raw listener got nothing"
	sleep 0.1
	i=$((i + 1))
done
wait_log "$L" "up sni=localhost site=raw "
mine=$(sed -n 's/.*session \([0-9.]*\):\([0-9]*\) up sni=localhost site=raw .*/\1 \2/p' "$L")
[ -n "$mine" ] || fail "no up line for site raw"
read -r mip lport <<<"$mine"
hexip() { printf '%02x' ${1//./ }; }
hex4() { printf '%04x' "$1"; }
want=0d0a0d0a000d0a515549540a		# the signature
want=${want}2111			# v2 PROXY, TCP over IPv4
want=${want}$(hex4 $((12 + 3 + 9)))	# addresses, ports and the TLV
want=${want}$(hexip "$mip")$(hexip "$(cfx_host raw)")$(hex4 "$lport")$(hex4 "$(cfx_port raw)")
want=${want}020009$(printf localhost | od -An -tx1 | tr -d ' \n')
got=$(cat "$T/raw.hex")
[ "$got" = "$want" ] || fail "header bytes: got $got, want $want"
ok "the header, byte by byte: signature, v2/PROXY, TCP4, length, addresses, ports, AUTHORITY"
chainfix_stop_clean
pass
