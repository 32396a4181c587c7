#!/usr/bin/python3
"""A small HTTPS responder that answers OPTIONS /Microsoft-Server-ActiveSync
the way Exchange does, for the `chainfix check --activesync` tests.

usage: exchange_responder.py PORT CERTFILE KEYFILE [--plain | --auth]

CERTFILE holds the leaf and its chain (PEM).  Listens on 127.0.0.1:PORT (0:
a port the system picks), says "listening on 127.0.0.1:<port>", and logs
one line per request ("REQUEST <conn> <method> <path>") on stdout.
--plain: answer 200 without the ActiveSync headers (a web server that is
not Exchange).  --auth: answer 401 with WWW-Authenticate, as Exchange does
when the request carries no credentials.  Standard library only.
"""
import http.server
import itertools
import socketserver
import ssl
import sys

VERSIONS = "2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1"
COMMANDS = ("Sync,SendMail,SmartForward,SmartReply,GetAttachment,"
            "GetHierarchy,CreateCollection,DeleteCollection,MoveCollection,"
            "FolderSync,FolderCreate,FolderDelete,FolderUpdate,MoveItems,"
            "GetItemEstimate,MeetingResponse,Search,Settings,Ping,"
            "ItemOperations,Provision,ResolveRecipients,ValidateCert,Find")
PLAIN = False
AUTH = False
CONN_IDS = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""

    def setup(self):
        super().setup()
        self.conn_id = next(CONN_IDS)

    def log_message(self, fmt, *args):
        pass

    def _log(self):
        print("REQUEST %d %s %s" % (self.conn_id, self.command, self.path),
              flush=True)

    def do_OPTIONS(self):
        self._log()
        if AUTH and "Authorization" not in self.headers:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mail"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        if self.path.split("?")[0].lower() == "/microsoft-server-activesync" \
                and not PLAIN:
            self.send_header("Allow", "OPTIONS,POST")
            self.send_header("Public", "OPTIONS,POST")
            self.send_header("MS-Server-ActiveSync", "15.1")
            self.send_header("MS-ASProtocolVersions", VERSIONS)
            self.send_header("MS-ASProtocolCommands", COMMANDS)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self._log()
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    context = None

    def finish_request(self, request, client_address):
        # The handshake runs in the connection's thread, so a client that
        # connects and never speaks cannot stall the others.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address):
        pass


def main():
    global PLAIN, AUTH
    args = [a for a in sys.argv[1:] if a not in ("--plain", "--auth")]
    PLAIN = "--plain" in sys.argv[1:]
    AUTH = "--auth" in sys.argv[1:]
    if len(args) != 3:
        sys.stderr.write(__doc__)
        return 2
    port, certfile, keyfile = int(args[0]), args[1], args[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    Server.context = ctx
    srv = Server(("127.0.0.1", port), Handler)
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
