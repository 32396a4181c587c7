#!/bin/bash
# Strict clients that trust only the root (openssl s_client, curl, Python's
# ssl, gnutls-cli) fail against a backend that serves its leaf alone, and
# succeed through chainfix configured with that same leaf-only certificate
# plus a directory of intermediates.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl curl gnutls-cli /usr/bin/python3

mkpki "$T/pki"
P=$T/pki

# The broken server: leaf only, no intermediates.
backend_s_server backend "$P/leaf.pem" "$P/leaf.key"
BPORT=$BG_PORT

# chainfix verifies that backend: it knows the intermediates as CA entries.
cat "$P/root.pem" "$P/int1.pem" "$P/int2.pem" >"$T/backend-ca.pem"
global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[web]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $T/backend-ca.pem
EOF
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port web)
grep -q "serving 3 certificates" "$T/chainfix.log" ||
    fail "chainfix does not announce the 3-certificate chain"

s_client() {
	openssl s_client -connect "127.0.0.1:$1" -servername localhost \
	    -verify_return_error -verify_hostname localhost \
	    -CAfile "$P/root.pem" -no-CApath -no-CAstore </dev/null
}
curl_get() {
	curl -sS --max-time 30 --cacert "$P/root.pem" --capath /nonexistent \
	    --resolve "localhost:$1:127.0.0.1" "https://localhost:$1/"
}
py_get() {
	/usr/bin/python3 - "$1" "$P/root.pem" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
if b"200 ok" not in data.lower():
    sys.exit("no HTTP 200 in the answer")
PY
}
gnutls_get() {
	gnutls-cli --x509cafile "$P/root.pem" --sni-hostname localhost \
	    --verify-hostname localhost -p "$1" 127.0.0.1 </dev/null
}

# 1. Against the leaf-only backend directly, every strict client fails.
s_client "$BPORT" >"$T/direct-s_client.log" 2>&1 &&
    fail "openssl s_client accepted the leaf-only backend"
grep -q "unable to get local issuer certificate" "$T/direct-s_client.log" ||
    fail "s_client failed for another reason than the missing issuer"
ok "s_client refuses the leaf-only backend"
curl_get "$BPORT" >"$T/direct-curl.log" 2>&1 &&
    fail "curl accepted the leaf-only backend"
ok "curl refuses the leaf-only backend"
py_get "$BPORT" >"$T/direct-py.log" 2>&1 &&
    fail "Python ssl accepted the leaf-only backend"
grep -q "CERTIFICATE_VERIFY_FAILED" "$T/direct-py.log" ||
    fail "Python failed for another reason (see $T/direct-py.log)"
ok "python refuses the leaf-only backend"
gnutls_get "$BPORT" >"$T/direct-gnutls.log" 2>&1 &&
    fail "gnutls-cli accepted the leaf-only backend"
ok "gnutls-cli refuses the leaf-only backend"

# 2. Through chainfix, every one of them succeeds.
s_client "$PPORT" >"$T/proxy-s_client.log" 2>&1 ||
    fail "openssl s_client failed through chainfix"
grep -q "Verify return code: 0 (ok)" "$T/proxy-s_client.log" ||
    fail "s_client did not verify through chainfix"
ok "s_client verifies through chainfix"
curl_get "$PPORT" >"$T/proxy-curl.log" 2>&1 ||
    fail "curl failed through chainfix"
grep -q "s_server" "$T/proxy-curl.log" ||
    fail "curl did not get the backend's page"
ok "curl gets the backend's page through chainfix"
py_get "$PPORT" >"$T/proxy-py.log" 2>&1 ||
    fail "Python ssl failed through chainfix"
ok "python verifies through chainfix"
gnutls_get "$PPORT" >"$T/proxy-gnutls.log" 2>&1 ||
    fail "gnutls-cli failed through chainfix"
grep -q "Handshake was completed" "$T/proxy-gnutls.log" ||
    fail "gnutls-cli did not complete the handshake"
ok "gnutls-cli verifies through chainfix"

# One summary line per session, with the site and the backend.
wait_log "$T/chainfix.log" "session 127\.0\.0\.1:[0-9]+ sni=localhost site=web backend=127\.0\.0\.1:$BPORT "
chainfix_stop_clean
pass
