#!/bin/bash
# Bad input: plain HTTP and random bytes instead of a ClientHello, a client
# that disconnects mid-handshake, one that vanishes mid-transfer, a backend
# that resets mid-stream: each session ends with a logged reason and the
# daemon lives on to serve the next client.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" b 0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port b)

alive() {
	kill -0 "$CFX_PID" 2>/dev/null || fail "chainfix died after: $1"
	[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
	    fail "no service after: $1"
	ok "still serving after: $1"
}

raw() {	# MODE
	/usr/bin/python3 - "$PPORT" "$1" "$P/root.pem" <<'PY'
import os, socket, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(30)
if mode == "http":
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
elif mode == "random":
    # Random, but never the start of a record longer than what follows:
    # a first byte with the high bit set reads as an SSLv2 ClientHello
    # header of up to 32 KiB (1 in 512 of them has the hello type), and
    # 20..23 as a TLS record; the server would then rightly wait for the
    # rest until its handshake timeout.  0..15 is neither.
    data = bytearray(os.urandom(4096))
    data[0] &= 0x0F
    s.sendall(bytes(data))
elif mode == "halfhello":
    ctx = ssl.create_default_context(cafile=ca)
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outb.read()
    s.sendall(hello[: len(hello) // 2])
    s.close()
    sys.exit(0)
# The server must close (maybe after an alert), not hang.
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
PY
}

raw http || fail "plain HTTP client: $?"
wait_log "$T/chainfix.log" "client handshake failed: .*(http request|wrong version number)"
alive "plain HTTP instead of a ClientHello"

raw random || fail "random bytes client: $?"
i=0
while [ "$(grep -c "client handshake failed: ." "$T/chainfix.log")" -lt 2 ]; do
	[ "$i" -lt 200 ] || fail "no handshake failure logged for random bytes"
	sleep 0.05
	i=$((i + 1))
done
alive "random bytes instead of a ClientHello"

raw halfhello || fail "half ClientHello client: $?"
wait_log "$T/chainfix.log" "client went away during the handshake"
alive "a client gone mid-handshake"

# Python itself in the background (not the peer function): its PID to kill.
bg down /usr/bin/python3 "$PEER" client --port "$PPORT" --cafile "$P/root.pem" \
    down $((1024 * 1024 * 1024))
DOWN=$BG_PID
sleep 1
kill -9 "$DOWN"
wait "$DOWN" 2>/dev/null || true
# Its session line: megabytes out, then the client's end.
wait_log "$T/chainfix.log" "site=b .* out=[0-9]{6,} .*: client (closed|reset the connection|Connection reset by peer|Broken pipe)"
alive "a client gone mid-transfer"

peer client --port "$PPORT" --cafile "$P/root.pem" reset >"$T/reset.log" 2>&1 ||
    fail "reset client: $(cat "$T/reset.log")"
wait_log "$T/chainfix.log" "site=b .* out=100000 .*: backend reset the connection"
alive "a backend reset mid-stream"
chainfix_stop_clean
pass
