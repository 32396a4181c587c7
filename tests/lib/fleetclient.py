#!/usr/bin/python3
"""fleetclient.py: a TLS client that keeps its sessions, for the fleet tests.

  fleetclient.py --cafile ROOT --commands FIFO

Reads one command per line from FIFO (a test writes them as it goes, so the
sessions live across the test's other steps) and prints one result line
per command on stdout:

  conn TAG PORT VERSION [FROM]
      Connect to 127.0.0.1:PORT with TLS VERSION (1.2 or 1.3), SNI
      localhost, offering the session saved as FROM if given; send WHO to
      the backend and read its name (so the TLS 1.3 tickets in front of it
      are read too); close cleanly; save the session as TAG.
      Prints "TAG reused=0|1 backend=NAME" or "TAG error=..."
  quit
"""
import argparse
import socket
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--commands", required=True)
    args = ap.parse_args()

    # A session can only be offered on the context that made it.
    ctxs = {}
    for v, ver in (("1.2", ssl.TLSVersion.TLSv1_2),
                   ("1.3", ssl.TLSVersion.TLSv1_3)):
        c = ssl.create_default_context(cafile=args.cafile)
        c.minimum_version = ver
        c.maximum_version = ver
        ctxs[v] = c
    sessions = {}

    with open(args.commands) as cmds:
        for line in cmds:
            w = line.split()
            if not w:
                continue
            if w[0] == "quit":
                break
            tag, port, ver = w[1], int(w[2]), w[3]
            try:
                sess = sessions[w[4]] if len(w) > 4 else None
                raw = socket.create_connection(("127.0.0.1", port),
                                               timeout=30)
                s = ctxs[ver].wrap_socket(raw, server_hostname="localhost",
                                          session=sess)
                s.sendall(b"WHO\n")
                name = b""
                while not name.endswith(b"\n"):
                    b = s.recv(1)
                    if not b:
                        raise EOFError("closed before the backend's name")
                    name += b
                reused = s.session_reused
                sessions[tag] = s.session
                # close_notify first: OpenSSL keeps a session resumable
                # only if the connection was shut down, not just dropped.
                s.settimeout(5)
                try:
                    s.unwrap()
                except (OSError, ssl.SSLError):
                    pass
                s.close()
                print("%s reused=%d backend=%s" %
                      (tag, int(reused), name.decode().strip()), flush=True)
            except (OSError, EOFError, ssl.SSLError, KeyError) as e:
                print("%s error=%s" % (tag, e), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
