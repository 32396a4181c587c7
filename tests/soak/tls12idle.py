#!/usr/bin/env python3
"""tls12idle.py PORT CAFILE N HOLD: N idle TLS 1.2 clients for tests/soak/soak.sh.

Each connects to 127.0.0.1:PORT (SNI localhost, verified against CAFILE),
offering session ids but no tickets (as an old client does), makes one
request and holds its connection idle.  Prints "ready ok=N err=E" once all
are up, then waits HOLD seconds or until SIGTERM, closes them all and
prints "closed".  Unlike bench/tlsload.c (TLS 1.3), these make chainfix
keep a session each in its TLS 1.2 session cache (src/sesscache.c).
"""
import signal
import socket
import ssl
import sys
import time


def main():
    port, cafile, n, hold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_TICKET
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    conns, ok, err = [], 0, 0
    for _ in range(n):
        try:
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                server_hostname="localhost")
            t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            if t.recv(4096).startswith(b"HTTP/1.1 200"):
                ok += 1
            else:
                err += 1
            conns.append(t)
        except (OSError, ssl.SSLError):
            err += 1
    print("ready ok=%d err=%d" % (ok, err), flush=True)
    end = time.monotonic() + hold
    while not stop and time.monotonic() < end:
        time.sleep(0.5)
    for t in conns:
        t.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
