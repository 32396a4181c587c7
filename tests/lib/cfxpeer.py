#!/usr/bin/python3
"""cfxpeer.py: the peers of the proxy integration tests (stdlib only).

  cfxpeer.py backend [--port P] [--cert C --key K] [--name N]
      A threaded backend on 127.0.0.1:P (TLS when --cert is given); port 0,
      the default, takes one the system picks.  It prints "backend N
      listening on PORT" once it listens.  Each connection sends one command
      line:
        UP n      read n bytes, answer "<sha256 hex> n"
        DOWN n    send n random bytes, then "<sha256 hex>\\n"
        ECHO      echo everything until EOF
        WHO       answer the backend's --name
        PEER      answer the address:port the connection came from
        RESET n   send n bytes, then reset the connection (RST)
        RESETNOW n  the same, resetting as soon as the n bytes are
                  acknowledged (so they and the reset arrive together)
        EARLY n   answer at once (1 MiB, then "<sha256 hex>\\n"), shut down
                  the sending side (a FIN, no close_notify), then read an
                  upload of n bytes and print "EARLY upload <sha256 hex> n"
  cfxpeer.py backend ... --accept-delay S
      The same, but each connection waits S seconds before its TLS
      handshake (the proxy's backend handshake is in progress meanwhile).
  cfxpeer.py blackhole [--port P]
      A listener whose accept queue is full: connects to it hang in SYN_SENT
      (the proxy's backend TCP connect is in progress until its timeout).
      Port 0, the default, takes one the system picks; it prints
      "blackhole on PORT".
  cfxpeer.py client --port P [--host H] [--cafile F] [--servername N] CMD [ARG]
      A strict TLS client of H:P (H 127.0.0.1 by default; trusts --cafile
      alone, checks the host name):
        up N      upload N bytes, check the backend's hash
        down N    download N bytes, check the hash
        who       print the backend's name
        addrs     print this client's address:port and the one the
                  backend saw the connection come from
        cert      print the server certificate's commonName
        idle S    ECHO, stay silent S seconds, then check an echo (exit 3 if
                  the connection was closed meanwhile)
        waitclose ECHO, then wait (up to 120 s) for the server to close
        reset     ask for RESET and read until the connection ends
        hold S    like `up` of 1 MiB slowly spread over S seconds (reload and
                  drain tests: a transfer in flight)
      Half-close, on a TLS connection of its own (ssl.SSLObject over a raw
      socket, so that the socket can be shut down and still read); HOW is
      "fin" (shutdown(SHUT_WR) without close_notify, as scripts and
      Schannel do) or "notify" (close_notify, then the FIN):
        halfdown N HOW  send "DOWN N", half-close, then read the N bytes,
                        the hash and the end of the stream
        halfup N HOW    send "UP N" and N bytes, half-close, then read the
                        backend's answer and the end of the stream
        resetnow N      send "RESETNOW N", half-close, read to the end;
                        prints "resetnow got=<bytes> end=<how>"
        early N         send "EARLY N" and upload N bytes, holding back the
                        last piece until the backend's 1 MiB answer and its
                        end have arrived; then half-close (fin) and wait for
                        the end; prints the upload's hash
      Each prints how the stream from the proxy ended ("end=close_notify",
      "end=eof"); a reset is an error.
Exit status 0 means the check passed; messages go to stderr.
"""
import argparse
import fcntl
import hashlib
import os
import selectors
import socket
import socketserver
import ssl
import struct
import sys
import termios
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
            elif cmd == "PEER":
                sock.sendall(("%s:%d\n" % self.client_address[:2]).encode())
            elif cmd == "EARLY":
                n = int(words[1])
                h = hashlib.sha256()
                sent = 0
                while sent < 1024 * 1024:
                    b = os.urandom(CHUNK)
                    h.update(b)
                    sock.sendall(b)
                    sent += len(b)
                sock.sendall((h.hexdigest() + "\n").encode())
                # The plain socket's shutdown: a FIN, no close_notify.
                socket.socket.shutdown(sock, socket.SHUT_WR)
                h = hashlib.sha256()
                recv_exact(sock, n, h)
                say("backend %s: EARLY upload %s %d" %
                    (self.server.name, h.hexdigest(), n))
            elif cmd in ("RESET", "RESETNOW"):
                sock.sendall(os.urandom(int(words[1])))
                if cmd == "RESET":
                    time.sleep(0.2)
                else:
                    # An abortive close drops what the kernel has not
                    # sent yet (autocorking may hold the tail): wait
                    # until all of it is acknowledged, not longer (no
                    # sleep: loopback acknowledges within microseconds,
                    # before the proxy's worker has read it).
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline:
                        n = struct.unpack("i", fcntl.ioctl(
                            sock.fileno(), termios.TIOCOUTQ,
                            struct.pack("i", 0)))[0]
                        if n == 0:
                            break
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
            say("backend %s: %s" % (self.server.name, e), sys.stderr)
        finally:
            try:
                sock.close()
            except OSError:
                pass


SAY_LOCK = threading.Lock()


def say(line, f=sys.stdout):
    """Write line and its newline with one write(2), under a lock: the
    backend's handler threads report at the same time, and the tests read
    the log (stdout and stderr in one file) a whole line at a time."""
    with SAY_LOCK:
        f.flush()
        os.write(f.fileno(), (line + "\n").encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    accept_delay = 0.0

    def process_request(self, request, client_address):
        if self.accept_delay:
            # In the connection's own thread: the others go on.
            def later():
                time.sleep(self.accept_delay)
                self.process_request_thread(request, client_address)
            threading.Thread(target=later, daemon=True).start()
            return
        super().process_request(request, client_address)


def backend(args):
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.name = args.name
    srv.accept_delay = args.accept_delay
    srv.ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.ctx = ctx
    print("backend %s listening on %d" % (args.name, srv.server_address[1]),
          flush=True)
    srv.serve_forever()


def blackhole(args):
    """Fill the accept queue of a listener that never accepts."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    print("blackhole on %d" % port, flush=True)
    while True:
        time.sleep(3600)


class HalfClient:
    """A TLS client that can half-close: an SSLObject over a raw socket."""

    def __init__(self, args):
        ctx = ssl.create_default_context(cafile=args.cafile)
        self.sock = socket.create_connection((args.host, args.port),
                                             timeout=120)
        self.inb = ssl.MemoryBIO()
        self.outb = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inb, self.outb,
                                server_hostname=args.servername)
        self.got = bytearray()
        self.end = None         # "close_notify" or "eof"
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush_blocking()
                self._recv_blocking()
        self._flush_blocking()
        self.sock.setblocking(False)

    def _flush_blocking(self):
        data = self.outb.read()
        if data:
            self.sock.sendall(data)

    def _recv_blocking(self):
        b = self.sock.recv(CHUNK)
        if not b:
            raise EOFError("closed during the handshake")
        self.inb.write(b)

    def _decrypt(self):
        while self.end is None:
            try:
                b = self.obj.read(CHUNK)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                self.end = "close_notify"
                return
            if not b:
                self.end = "close_notify"
                return
            self.got += b

    def run(self, data, how, hold=0, until=None):
        """Send data (hold back its last `hold` bytes until `until(self)`
        is true), half-close with how, and read until the end."""
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        pos = 0
        wire = bytearray()
        closed = False
        notified = False
        deadline = time.monotonic() + 120
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("no end after 120 s")
            limit = len(data) - hold
            if hold and until is not None and until(self):
                hold = 0
                limit = len(data)
            while pos < limit and len(wire) < 4 * CHUNK:
                n = min(CHUNK, limit - pos)
                self.obj.write(data[pos:pos + n])
                pos += n
                wire += self.outb.read()
            if pos == len(data) and not wire and not closed:
                if how == "notify" and not notified:
                    notified = True
                    try:
                        self.obj.unwrap()
                    except ssl.SSLWantReadError:
                        pass
                    wire += self.outb.read()
                if not wire:
                    self.sock.shutdown(socket.SHUT_WR)
                    closed = True
            events = selectors.EVENT_READ
            if wire:
                events |= selectors.EVENT_WRITE
            sel.modify(self.sock, events)
            for _, mask in sel.select(1.0):
                if mask & selectors.EVENT_WRITE and wire:
                    try:
                        n = self.sock.send(wire)
                        del wire[:n]
                    except BlockingIOError:
                        pass
                if mask & selectors.EVENT_READ:
                    try:
                        b = self.sock.recv(CHUNK)
                    except BlockingIOError:
                        continue
                    if not b:
                        if self.end is None:
                            self.end = "eof"
                        if closed:
                            return
                        continue
                    self.inb.write(b)
                    self._decrypt()
            if self.end is not None and closed:
                # Drain to the socket's end: a reset shows up here.
                self.sock.setblocking(True)
                while self.sock.recv(CHUNK):
                    pass
                return


def halfclose(args):
    how = args.how or "fin"
    if how not in ("fin", "notify"):
        sys.exit("HOW is fin or notify")
    c = HalfClient(args)
    n = int(args.arg)
    if args.cmd == "halfdown":
        c.run(("DOWN %d\n" % n).encode(), how)
        body, line = bytes(c.got[:n]), bytes(c.got[n:])
        if len(body) != n or line != \
                (hashlib.sha256(body).hexdigest() + "\n").encode():
            sys.exit("halfdown: got %d of %d bytes (end=%s)" %
                     (len(c.got), n, c.end))
        print("halfdown %d ok end=%s" % (n, c.end))
    elif args.cmd == "resetnow":
        c.run(("RESETNOW %d\n" % n).encode(), how)
        print("resetnow got=%d end=%s" % (len(c.got), c.end))
    elif args.cmd == "halfup":
        body = os.urandom(n)
        c.run(("UP %d\n" % n).encode() + body, how)
        want = "%s %d\n" % (hashlib.sha256(body).hexdigest(), n)
        if bytes(c.got) != want.encode():
            sys.exit("halfup: backend answered %r (end=%s)" %
                     (bytes(c.got), c.end))
        print("halfup %d ok end=%s" % (n, c.end))
    else:
        body = os.urandom(n)
        answer = 1024 * 1024
        c.run(("EARLY %d\n" % n).encode() + body, how, hold=CHUNK,
              until=lambda cl: cl.end is not None)
        got = bytes(c.got)
        data, line = got[:answer], got[answer:]
        if len(data) != answer or line != \
                (hashlib.sha256(data).hexdigest() + "\n").encode():
            sys.exit("early: got %d bytes of the answer (end=%s)" %
                     (len(got), c.end))
        print("early %d ok end=%s upload %s" %
              (n, c.end, hashlib.sha256(body).hexdigest()))


def connect(args):
    ctx = ssl.create_default_context(cafile=args.cafile)
    raw = socket.create_connection((args.host, args.port), timeout=120)
    return ctx.wrap_socket(raw, server_hostname=args.servername)


def client(args):
    if args.cmd in ("halfdown", "halfup", "early", "resetnow"):
        halfclose(args)
        return
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
    elif cmd == "addrs":
        s.sendall(b"PEER\n")
        print("%s:%d %s" % (s.getsockname()[:2] + (readline(s),)))
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
    b.add_argument("--port", type=int, default=0)
    b.add_argument("--cert")
    b.add_argument("--key")
    b.add_argument("--name", default="backend")
    b.add_argument("--accept-delay", type=float, default=0.0)
    bh = sub.add_parser("blackhole")
    bh.add_argument("--port", type=int, default=0)
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--cafile")
    c.add_argument("--servername", default="localhost")
    c.add_argument("cmd")
    c.add_argument("arg", nargs="?")
    c.add_argument("how", nargs="?")
    args = ap.parse_args()
    try:
        if args.mode == "backend":
            backend(args)
        elif args.mode == "blackhole":
            blackhole(args)
        else:
            client(args)
    except (OSError, EOFError, ssl.SSLError) as e:
        sys.exit("%s: %s" % (args.mode, e))


if __name__ == "__main__":
    main()
