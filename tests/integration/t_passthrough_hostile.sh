#!/usr/bin/env bash
# What a client sends first on an address with a passthrough site is read
# before any TLS library sees it: garbage, a ClientHello cut short and left
# hanging, records that lie about their length, a client that goes away,
# many of them at once.  Each ends its own session (a timeout, a refusal,
# or the terminated site's handshake failing), and real clients are served
# meanwhile.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
cat "$P/int2.pem" "$P/int1.pem" >"$T/ints.pem"
backend_s_server eas "$P/leaf2.pem" "$P/leaf2.key" "$T/ints.pem"
EAS=$BG_PORT
py_backend owa --cert "$P/leaf-full.pem" --key "$P/leaf.key"
OWA=$BG_PORT

global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" mail 127.0.0.1:0 "$OWA"
echo "handshake_timeout = 2" >>"$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
[eas]
listen = 127.0.0.1:0
mode = passthrough
names = eas.example.com
backend = 127.0.0.1:$EAS
EOF
chainfix_start chainfix "$T/chainfix.conf"
L=$T/chainfix.log
HOST=$(cfx_host mail)
PORT=$(cfx_port mail)

# Hostile first bytes, each on its own connection, all open at once.
/usr/bin/python3 - "$HOST" "$PORT" >"$T/hostile.log" 2>&1 <<'PY' || fail "the hostile client: $(cat "$T/hostile.log")"
import os, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32)
cases = {
    "garbage": os.urandom(200),
    "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "cut": hello[:40],                       # then silence
    "header": b"\x16\x03\x01",               # then silence
    "huge": b"\x16\x03\x01\xff\xff",          # a record past 2^14
    "zero": b"\x16\x03\x01\x00\x00",
    "lying": b"\x16\x03\x01\x00\x08\x01\x00\x40\x00" + b"\x03\x03\x00\x00",
    "eof": b"",
}
socks = {}
for name, data in cases.items():
    for i in range(20):
        s = socket.create_connection((host, port))
        if data:
            s.sendall(data)
        if name == "eof":
            s.shutdown(socket.SHUT_WR)
        socks[(name, i)] = s
print("sent", len(socks), flush=True)
# Every one of them is closed by chainfix: none hangs past the timeout.
deadline = time.monotonic() + 60
for key, s in socks.items():
    s.settimeout(max(1, deadline - time.monotonic()))
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        sys.exit("%s %d: still open after 60 s" % key)
print("all closed", flush=True)
PY
ok "garbage, HTTP, a cut ClientHello, lying records, EOF (160 connections): each closed"
grep -q "reason=handshake_timeout" "$L" || fail "the silent ones did not time out"
grep -Eq "reason=handshake_(failed|eof)" "$L" || fail "no handshake failure logged"

# Real clients are served meanwhile, both ways.
printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -quiet \
    -connect "$HOST:$PORT" -servername eas.example.com -CAfile "$P/root.pem" \
    -verify_return_error >"$T/eas.out" 2>"$T/eas.err" ||
	fail "a passthrough client failed: $(tail -n 3 "$T/eas.err")"
grep -q "^depth=0 CN *= *other.test" "$T/eas.err" || fail "not passed through"
[ "$(cfx_client mail --cafile "$P/root.pem" who)" = owa ] ||
	fail "a terminated client failed"
ok "real clients still served, passthrough and terminated"
chainfix_stop_clean
pass
