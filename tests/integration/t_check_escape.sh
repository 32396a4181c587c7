#!/bin/bash
# Strings the peer controls (certificate names, HTTP headers) reach the
# report escaped: printable ASCII only in the human report, valid JSON.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl /usr/bin/python3
check_pki

# A leaf whose name holds a quote, a backslash, control bytes, a terminal
# escape sequence and UTF-8.
SUBJ=$(printf '/CN=evil"quote\\\\back\001ctl\033[31mred/O=\303\234n\303\257code')
openssl req -new -utf8 -key "$P/leaf.key" -subj "$SUBJ" -out "$T/evil.csr" \
    >"$T/openssl.log" 2>&1 || fail "openssl req"
printf 'subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n' >"$T/evil.ext"
openssl x509 -req -in "$T/evil.csr" -CA "$P/int2.pem" -CAkey "$P/int2.key" \
    -CAcreateserial -days 300 -extfile "$T/evil.ext" -out "$T/evil.pem" \
    >>"$T/openssl.log" 2>&1 || fail "openssl x509"
cat "$P/int2.pem" "$P/int1.pem" >"$T/chain.pem"
cat "$T/evil.pem" "$T/chain.pem" >"$T/evil-full.pem"

# An HTTPS server answering with control bytes in its status line and
# headers.
cat >"$T/evilhttp.py" <<'PY'
import socket, ssl, sys, threading
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
print("listening on", srv.getsockname()[1], flush=True)
srv.listen(16)
def serve(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(4096)
            if not b:
                return
            data += b
        s.sendall(b"HTTP/1.1 200 OK\x1b[2J\"\\\r\n"
                  b"MS-ASProtocolVersions: 14.1,\x1b]0;pwned\x07\xff\"16.1\r\n"
                  b"Content-Length: 0\r\n\r\n")
        s.close()
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
bg evilhttp /usr/bin/python3 "$T/evilhttp.py" 0 "$T/evil-full.pem" "$P/leaf.key"
bg_port evilhttp "listening on "
PORT=$BG_PORT

run_check json "localhost:$PORT" --roots "$P/root.pem" --activesync --json
expect_rc 0 "a strange name is not a problem in itself"
jcheck "$T/json.out" 'all(32 <= ord(ch) < 127 for ch in json.dumps(j, ensure_ascii=False))' "JSON is plain ASCII"
jcheck "$T/json.out" 'j["chain"]["sent"][0]["subject"] == "O=\\C3\\9Cn\\C3\\AFcode,CN=evil\\\"quote\\\\back\\01ctl\\1B[31mred"' "subject escaped (RFC 2253)"
jcheck "$T/json.out" 'j["activesync"]["protocol_versions"] == "14.1,\\x1b]0;pwned\\x07\\xff\"16.1" and j["activesync"]["status"] == 200' "header escaped"
jcheck "$T/json.out" 'j["activesync"]["status_line"] == "HTTP/1.1 200 OK\\x1b[2J\"\\"' "status line escaped"

run_check human "localhost:$PORT" --roots "$P/root.pem" --activesync
expect_rc 0 "human report"
if LC_ALL=C grep -n '[^ -~]' "$T/human.out" >"$T/bad-bytes.log"; then
	fail "unescaped bytes in the human report: $(cat -v "$T/bad-bytes.log")"
fi
ok "human report is printable ASCII"
grep_out "$T/human.out" 'MS-ASProtocolVersions: 14\.1,\\x1b\]0;pwned\\x07\\xff"16\.1$' "header shown escaped"
pass
