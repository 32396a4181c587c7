#!/usr/bin/python3
"""cfxpeer.py: the peers of the proxy integration tests (stdlib only).

  cfxpeer.py backend --port P [--cert C --key K] [--name N]
      A threaded backend on 127.0.0.1:P (TLS when --cert is given).  Each
      connection sends one command line:
        UP n      read n bytes, answer "<sha256 hex> n"
        DOWN n    send n random bytes, then "<sha256 hex>\\n"
        ECHO      echo everything until EOF
        WHO       answer the backend's --name
        RESET n   send n bytes, then reset the connection (RST)
  cfxpeer.py client --port P [--cafile F] [--servername N] CMD [ARG]
      A strict TLS client (trusts --cafile alone, checks the host name):
        up N      upload N bytes, check the backend's hash
        down N    download N bytes, check the hash
        who       print the backend's name
        cert      print the server certificate's commonName
        idle S    ECHO, stay silent S seconds, then check an echo (exit 3 if
                  the connection was closed meanwhile)
        waitclose ECHO, then wait (up to 120 s) for the server to close
        reset     ask for RESET and read until the connection ends
        hold S    like `up` of 1 MiB slowly spread over S seconds (reload and
                  drain tests: a transfer in flight)
Exit status 0 means the check passed; messages go to stderr.
"""
import argparse
import hashlib
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

CHUNK = 64 * 1024


def readline(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            raise EOFError("connection closed before end of line")
        buf += c
    return buf.decode().strip()


def recv_exact(sock, n, h=None):
    got = 0
    while got < n:
        b = sock.recv(min(CHUNK, n - got))
        if not b:
            raise EOFError("connection closed after %d of %d bytes" % (got, n))
        if h is not None:
            h.update(b)
        got += len(b)
    return got


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        try:
            if self.server.ctx is not None:
                sock = self.server.ctx.wrap_socket(sock, server_side=True)
            line = readline(sock)
            words = line.split()
            cmd = words[0] if words else ""
            if cmd == "UP":
                h = hashlib.sha256()
                n = recv_exact(sock, int(words[1]), h)
                sock.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
            elif cmd == "DOWN":
                n = int(words[1])
                h = hashlib.sha256()
                sent = 0
                while sent < n:
                    b = os.urandom(min(CHUNK, n - sent))
                    h.update(b)
                    sock.sendall(b)
                    sent += len(b)
                sock.sendall((h.hexdigest() + "\n").encode())
            elif cmd == "ECHO":
                while True:
                    b = sock.recv(CHUNK)
                    if not b:
                        break
                    sock.sendall(b)
            elif cmd == "WHO":
                sock.sendall((self.server.name + "\n").encode())
            elif cmd == "RESET":
                sock.sendall(os.urandom(int(words[1])))
                time.sleep(0.2)
                # Linger 0: close() sends a RST (and no close_notify).
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                sock.close()
                return
            # Wait for the client to finish before closing.
            try:
                while sock.recv(CHUNK):
                    pass
            except (OSError, ssl.SSLError):
                pass
        except (OSError, EOFError, ssl.SSLError, ValueError) as e:
            print("backend %s: %s" % (self.server.name, e), file=sys.stderr,
                  flush=True)
        finally:
            try:
                sock.close()
            except OSError:
                pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def backend(args):
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.name = args.name
    srv.ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.ctx = ctx
    print("backend %s listening on %d" % (args.name, args.port), flush=True)
    srv.serve_forever()


def connect(args):
    ctx = ssl.create_default_context(cafile=args.cafile)
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=120)
    return ctx.wrap_socket(raw, server_hostname=args.servername)


def client(args):
    s = connect(args)
    cmd = args.cmd
    if cmd == "up":
        n = int(args.arg)
        s.sendall(("UP %d\n" % n).encode())
        h = hashlib.sha256()
        sent = 0
        while sent < n:
            b = os.urandom(min(CHUNK, n - sent))
            h.update(b)
            s.sendall(b)
            sent += len(b)
        answer = readline(s)
        if answer != "%s %d" % (h.hexdigest(), n):
            sys.exit("upload: backend saw %s, sent %s %d" %
                     (answer, h.hexdigest(), n))
        print("up %d ok %s" % (n, h.hexdigest()))
    elif cmd == "down":
        n = int(args.arg)
        s.sendall(("DOWN %d\n" % n).encode())
        h = hashlib.sha256()
        recv_exact(s, n, h)
        answer = readline(s)
        if answer != h.hexdigest():
            sys.exit("download: got %s, backend sent %s" %
                     (h.hexdigest(), answer))
        print("down %d ok %s" % (n, answer))
    elif cmd == "who":
        s.sendall(b"WHO\n")
        print(readline(s))
    elif cmd == "cert":
        cert = s.getpeercert()
        for rdn in cert["subject"]:
            for k, v in rdn:
                if k == "commonName":
                    print(v)
    elif cmd == "idle":
        s.sendall(b"ECHO\n")
        s.sendall(b"hello\n")
        if readline(s) != "hello":
            sys.exit("idle: no echo before the pause")
        time.sleep(float(args.arg))
        try:
            s.sendall(b"ping\n")
            if readline(s) != "ping":
                sys.exit("idle: wrong echo after the pause")
        except (OSError, EOFError, ssl.SSLError) as e:
            print("idle: closed during the pause: %s" % e, file=sys.stderr)
            sys.exit(3)
        print("idle %s ok" % args.arg)
    elif cmd == "waitclose":
        s.sendall(b"ECHO\n")
        start = time.monotonic()
        try:
            while s.recv(CHUNK):
                pass
        except (OSError, ssl.SSLError):
            pass
        print("closed after %.1fs" % (time.monotonic() - start))
    elif cmd == "reset":
        s.sendall(b"RESET 100000\n")
        got = 0
        try:
            while True:
                b = s.recv(CHUNK)
                if not b:
                    break
                got += len(b)
        except (OSError, ssl.SSLError):
            pass
        print("reset: got %d bytes" % got)
    elif cmd == "hold":
        # A transfer spread over S seconds: 1 MiB in 64 pieces.
        secs = float(args.arg)
        n = 64 * 16384
        s.sendall(("UP %d\n" % n).encode())
        h = hashlib.sha256()
        for _ in range(64):
            b = os.urandom(16384)
            h.update(b)
            s.sendall(b)
            time.sleep(secs / 64)
        answer = readline(s)
        if answer != "%s %d" % (h.hexdigest(), n):
            sys.exit("hold: backend saw %s" % answer)
        print("hold ok")
    else:
        sys.exit("unknown command " + cmd)
    s.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("backend")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--cert")
    b.add_argument("--key")
    b.add_argument("--name", default="backend")
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--cafile")
    c.add_argument("--servername", default="localhost")
    c.add_argument("cmd")
    c.add_argument("arg", nargs="?")
    args = ap.parse_args()
    try:
        if args.mode == "backend":
            backend(args)
        else:
            client(args)
    except (OSError, EOFError, ssl.SSLError) as e:
        sys.exit("%s: %s" % (args.mode, e))


if __name__ == "__main__":
    main()
