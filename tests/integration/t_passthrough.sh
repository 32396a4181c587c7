#!/usr/bin/env bash
# Passthrough sites: on the same address as a terminated site, a client
# whose SNI a passthrough site names (exactly, or by a one-label wildcard)
# gets its TLS relayed untouched to that site's backend, ClientHello
# included: client-certificate authentication (ActiveSync with certificates)
# then works end to end, which no re-encrypting site can do.  Other names,
# and no name, go to the terminated site.  A ClientHello sent in pieces is
# read whole before the site is picked.  On an address with passthrough
# sites only, an unknown name is refused.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
cat "$P/int2.pem" "$P/int1.pem" >"$T/ints.pem"

# A phone's client certificate (clientAuth), from the test root.
printf 'extendedKeyUsage = clientAuth\n' >"$T/client.ext"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/phone.key" \
    -subj "/CN=phone" -out "$T/phone.csr" >"$T/req.log" 2>&1 ||
	fail "cannot make a client key: $(cat "$T/req.log")"
openssl x509 -req -in "$T/phone.csr" -CA "$P/root.pem" -CAkey "$P/root.key" \
    -CAserial "$T/phone.srl" -CAcreateserial -days 2 -extfile "$T/client.ext" \
    -out "$T/phone.pem" >"$T/x509.log" 2>&1 ||
	fail "cannot sign the client certificate: $(cat "$T/x509.log")"

# Exchange asking for client certificates, with a certificate of its own
# (CN=other.test: not chainfix's CN=localhost).
s_server eas 127.0.0.1 -www -Verify 1 -CAfile "$P/root.pem" \
    -cert "$P/leaf2.pem" -key "$P/leaf2.key" -cert_chain "$T/ints.pem" \
    -naccept 100000
EAS=$BG_PORT
backend_s_server owa "$P/leaf.pem" "$P/leaf.key" "$T/ints.pem"
OWA=$BG_PORT

global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" mail 127.0.0.1:0 "$OWA"
cat >>"$T/chainfix.conf" <<EOF
[eas]
listen = 127.0.0.1:0
mode = passthrough
names = eas.example.com, *.sync.example.com
backend = 127.0.0.1:$EAS

[only]
listen = 127.0.0.2:0
mode = passthrough
names = eas.example.com
backend = 127.0.0.1:$EAS
EOF
# The same backend behind a terminated (re-encrypting) site.
site_block "$T/chainfix.conf" reencrypt 127.0.0.3:0 "127.0.0.1:$EAS" \
    "backend_ca = $P/root.pem" "backend_sni = other.test"
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log

# tls SITE SNI [ARGS...]: an HTTP request through chainfix's SITE with
# s_client, verifying against the test root; output in $T/out.
tls() {
	local site=$1 sni=$2
	shift 2
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -quiet \
	    -connect "$(cfx_host "$site"):$(cfx_port "$site")" \
	    -servername "$sni" -CAfile "$P/root.pem" -verify_return_error "$@" \
	    >"$T/out" 2>"$T/err"
}

tls mail eas.example.com -cert "$T/phone.pem" -key "$T/phone.key" ||
	fail "passthrough with a client certificate failed: $(tail -n 5 "$T/err")"
grep -q "Client certificate" "$T/out" && grep -q "Subject: CN *= *phone" "$T/out" ||
	fail "the backend did not see the phone's certificate: $(head -n 20 "$T/out")"
grep -q "^depth=0 CN *= *other.test" "$T/err" ||
	fail "the client did not talk to the backend's own TLS: $(grep depth=0 "$T/err")"
wait_log "$L" "up sni=eas.example.com site=eas backend=127\.0\.0\.1:$EAS .*tls=passthrough backend_tls=passthrough"
ok "SNI eas.example.com: TLS relayed untouched; the backend saw the phone's client certificate"

tls mail a.sync.example.com -cert "$T/phone.pem" -key "$T/phone.key" ||
	fail "wildcard name not passed through: $(tail -n 5 "$T/err")"
grep -q "Subject: CN *= *phone" "$T/out" || fail "wildcard: no client certificate seen"
ok "*.sync.example.com covers a.sync.example.com"

for sni in localhost b.a.sync.example.com; do
	tls mail "$sni" || fail "SNI $sni not served by the terminated site: $(tail -n 5 "$T/err")"
	grep -q "^depth=0 CN *= *localhost" "$T/err" ||
		fail "SNI $sni: not chainfix's certificate"
done
printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -quiet -noservername \
    -connect "$(cfx_host mail):$(cfx_port mail)" -CAfile "$P/root.pem" \
    -verify_return_error >"$T/out" 2>"$T/err" || fail "no SNI: not served"
grep -q "^depth=0 CN *= *localhost" "$T/err" || fail "no SNI: not the terminated site"
ok "other names (a wildcard covers one label only) and no name: the terminated site"

# A ClientHello in three pieces, 300 ms apart: read whole, then routed.
/usr/bin/python3 - "$(cfx_host mail)" "$(cfx_port mail)" "$P/root.pem" \
    "$T/phone.pem" "$T/phone.key" >"$T/pieces.out" 2>&1 <<'PY' ||
import socket, ssl, sys, time
host, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inb, outb, server_hostname="eas.example.com")
s = socket.create_connection((host, port), timeout=20)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
first = True
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        data = outb.read()
        if first:
            first = False
            for part in (data[:3], data[3:60], data[60:]):
                s.sendall(part)
                time.sleep(0.3)
        elif data:
            s.sendall(data)
        b = s.recv(65536)
        if not b:
            sys.exit("closed during the handshake")
        inb.write(b)
s.sendall(outb.read())
print(obj.getpeercert()["subject"])
PY
	fail "a ClientHello in pieces: $(cat "$T/pieces.out")"
grep -q "other.test" "$T/pieces.out" ||
	fail "a ClientHello in pieces did not reach the passthrough backend: $(cat "$T/pieces.out")"
ok "a ClientHello sent in three pieces is read whole and passed through"

# Why certificate authentication cannot be re-encrypted: the same backend
# behind a terminated site never gets the phone's certificate.
if tls reencrypt localhost -cert "$T/phone.pem" -key "$T/phone.key" &&
    grep -q "Subject: CN *= *phone" "$T/out"; then
	fail "a re-encrypting site passed a client certificate on"
fi
# (TLS 1.3: the backend's alert comes once chainfix's handshake is done.)
wait_log "$L" "site=reencrypt .*reason=backend_(error|unreachable): .*certificate required"
ok "re-encrypting in front of the same backend: it refuses (no client certificate reaches it)"

# Passthrough only: an unknown name is refused, and logged.
if tls only mail.example.com; then
	fail "an unknown name on a passthrough-only address was served"
fi
wait_log "$L" "site=- .*reason=handshake_failed: no site for SNI \"mail\.example\.com\""
ok "passthrough-only address: an unknown name is refused"
chainfix_stop_clean

# configtest: a passthrough site has no chain to print; its backend is
# checked for answering TLS, not verified (the client does that).
"$CHAINFIX" configtest -c "$T/chainfix.conf" >"$T/ct.out" 2>"$T/ct.err" ||
	fail "configtest failed: $(grep -E 'ERROR|fix' "$T/ct.out")"
configtest_block eas "$T/ct.out" >"$T/eas.txt"
grep -q "^  passthrough for eas.example.com, \*.sync.example.com\$" "$T/eas.txt" &&
	grep -q "self-test: site eas: backend 127.0.0.1:$EAS: reachable (127.0.0.1:$EAS, TLSv1.3), passthrough: its certificate (CN=other.test) is the client's to check" "$T/eas.txt" ||
	fail "configtest's passthrough block: $(cat "$T/eas.txt")"
grep -q "CN=" "$T/eas.txt" | grep -qv "self-test" && fail "a chain printed for a passthrough site"
ok "configtest: passthrough sites listed with their names, backends checked for TLS"
pass
