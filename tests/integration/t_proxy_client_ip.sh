#!/usr/bin/env bash
# The line logged when a session's backend leg is up joins the backend's
# logs to the client: the client's address and port, its SNI, the site, the
# backend and its address, the local address and port chainfix connected
# from (what IIS logs as c-ip and the client port), and the protocol of each
# leg.  Checked against what the backend itself saw, for a TLS 1.3 client,
# a TLS 1.0 client on a site with min_protocol = TLSv1, and a plain backend.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend tlsb --cert "$P/leaf-full.pem" --key "$P/leaf.key"
TLSB=$BG_PORT
py_backend plain
PLAIN=$BG_PORT
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" owa 127.0.0.1:0 "$TLSB"
site_block "$T/chainfix.conf" old 127.0.0.2:0 "127.0.0.1:$TLSB" \
    "backend_ca = $P/root.pem" "min_protocol = TLSv1" "ciphers = DEFAULT:@SECLEVEL=0"
site_block "$T/chainfix.conf" plain 127.0.0.3:0 "127.0.0.1:$PLAIN" "backend_tls = no"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log

# check SITE CLIENT_TLS BACKEND_TLS BACKEND_PORT: one session, its "up"
# line against what the client and the backend saw.
check() {
	local site=$1 ctls=$2 btls=$3 bport=$4 mine seen line
	read -r mine seen <<<"$(cfx_client "$site" --cafile "$P/root.pem" addrs)"
	[ -n "$seen" ] || fail "$site: no answer"
	wait_log "$L" "session $mine up "
	line=$(grep "session $mine up " "$L")
	echo "$line" | grep -q "up sni=localhost site=$site backend=127.0.0.1:$bport addr=127.0.0.1:$bport local=$seen tls=$ctls backend_tls=$btls" ||
		fail "$site: the up line does not match (client $mine, backend saw $seen): $line"
}

check owa TLSv1.3 TLSv1.3 "$TLSB"
ok "TLS 1.3 client: client address and port, SNI, site, backend, local address and port as the backend saw it"

# A TLS 1.0 client (an old phone) with min_protocol = TLSv1.
read -r mine seen <<<"$(/usr/bin/python3 - "$(cfx_host old)" "$(cfx_port old)" \
    "$P/root.pem" <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(sys.argv[3])
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
raw = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"PEER\n")
ans = b""
while not ans.endswith(b"\n"):
    ans += s.recv(100)
print("%s:%d %s" % (s.getsockname()[:2] + (ans.decode().strip(),)))
PY
)"
[ -n "$seen" ] || fail "the TLS 1.0 client got no answer"
wait_log "$L" "session $mine up "
grep "session $mine up " "$L" | grep -q "site=old .* local=$seen tls=TLSv1 backend_tls=TLSv1.3" ||
	fail "TLS 1.0 session: $(grep "session $mine up " "$L")"
ok "TLS 1.0 client: the session log names TLSv1"

check plain TLSv1.3 no "$PLAIN"
ok "plain backend: backend_tls=no, local address and port as the backend saw it"
chainfix_stop_clean
pass
