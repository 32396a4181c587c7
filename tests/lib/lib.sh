# tests/lib/lib.sh: the integration tests' helper library.
#
# Source it first thing in a tests/integration/t_*.sh scenario:
#   . "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
# It gives each test a temporary directory ($T), a cleanup trap that stops
# every process started with `bg` (by PID), and keeps $T with its logs when
# the test fails.  CHAINFIX and MKPKI name the binaries (ctest sets both).

set -eu

: "${CHAINFIX_TEST_ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${CHAINFIX:?CHAINFIX must name the chainfix binary}"
: "${MKPKI:=$(dirname "$CHAINFIX")/tests/chainfix-mkpki}"
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/chainfix-$TEST_NAME.XXXXXX")
LIB_PIDS=""
LIB_FAILED=1

lib_cleanup() {
	local pid
	for pid in $LIB_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $LIB_PIDS; do
		# Give each a moment, then insist.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$LIB_FAILED" = 1 ]; then
		echo "--- $TEST_NAME failed; logs kept in $T"
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 40 lines)"
			tail -n 40 "$f"
		done
	else
		rm -rf "$T"
	fi
}
trap lib_cleanup EXIT
trap 'exit 1' INT TERM

# fail MESSAGE: end the test as failed.
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

# skip MESSAGE: end the test as skipped (ctest SKIP_RETURN_CODE 77).
skip() {
	echo "SKIP: $TEST_NAME: $*"
	LIB_FAILED=0
	exit 77
}

# pass: end the test as passed (call last).
pass() {
	echo "PASS: $TEST_NAME"
	LIB_FAILED=0
	exit 0
}

# ok MESSAGE: note a passed check.
ok() {
	echo "ok - $*"
}

# need CMD...: skip unless every command exists.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

# bg NAME CMD...: start CMD in the background, output in $T/NAME.log;
# sets $BG_PID and registers it for cleanup.
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	BG_PID=$!
	LIB_PIDS="$LIB_PIDS $BG_PID"
}

# stop PID [SIGNAL]: signal PID (default TERM) and wait for it; prints
# nothing, returns its exit status.
stop() {
	local pid=$1 sig=${2:-TERM} rc=0
	kill "-$sig" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# bg_port NAME PREFIX [SECONDS]: wait until $T/NAME.log, the log of the
# process just started with `bg`, has a line with PREFIX (an extended
# regex) followed by the port it listens on, and set $BG_PORT to that port.
# Peers bind port 0 and say which port they got: no port is guessed, so
# none can be taken by another test between a probe and the bind.
bg_port() {
	local name=$1 re=$2 secs=${3:-10} i=0 port
	while [ "$i" -lt $((secs * 20)) ]; do
		port=$(sed -En "s/^(.*[^0-9])?$re([0-9]+)([^0-9].*)?\r?\$/\\2/p" \
		    "$T/$name.log" 2>/dev/null | head -n 1)
		if [ -n "$port" ]; then
			BG_PORT=$port
			return 0
		fi
		kill -0 "$BG_PID" 2>/dev/null ||
		    fail "$name exited before listening (see $T/$name.log)"
		sleep 0.05
		i=$((i + 1))
	done
	fail "$name did not say which port it listens on after ${secs}s"
}

# closed_port: set $BG_PORT to a port of 127.0.0.1 that refuses
# connections: a socket bound there that never listens, held by a
# background process until cleanup so no other test can take the port.
closed_port() {
	LIB_NCLOSED=$((${LIB_NCLOSED:-0} + 1))
	bg "closed$LIB_NCLOSED" /usr/bin/python3 -c 'import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print("bound to", s.getsockname()[1], flush=True)
time.sleep(86400)'
	bg_port "closed$LIB_NCLOSED" "bound to "
}

# silent_backend NAME: a TCP server on 127.0.0.1 that accepts and holds
# every connection and never sends a byte (a backend hung in the
# handshake); sets $BG_PID and $BG_PORT.
silent_backend() {
	bg "$1" /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
print("silent on", s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])'
	bg_port "$1" "silent on "
}

# hung_backends NAME COUNT: one process listening on COUNT ports of
# 127.0.0.1 that accepts and never sends a byte, like silent_backend, and
# logs to $T/NAME.log, in the order they happen (one log for all ports),
# "accepted PORT" for each connection and "closed PORT" when the peer hangs
# up; sets $HUNG_PORTS (in order) and $BG_PID.
hung_backends() {
	local name=$1 n=$2 i=0
	bg "$name" /usr/bin/python3 -c 'import socket, sys, threading
lock = threading.Lock()
def say(*words):
    with lock:
        print(*words, flush=True)
def hold(c, port):
    while c.recv(4096):
        pass
    say("closed", port)
def serve(s, port):
    while True:
        c = s.accept()[0]
        say("accepted", port)
        threading.Thread(target=hold, args=(c, port), daemon=True).start()
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    socks.append(s)
for s in socks:
    say("hung on", s.getsockname()[1])
for s in socks[1:]:
    threading.Thread(target=serve, args=(s, s.getsockname()[1]), daemon=True).start()
serve(socks[0], socks[0].getsockname()[1])' "$n"
	wait_log "$T/$name.log" "^hung on " 10
	while [ "$(grep -c '^hung on ' "$T/$name.log")" -lt "$n" ] && [ "$i" -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	HUNG_PORTS=$(sed -n 's/^hung on //p' "$T/$name.log" | tr '\n' ' ')
	[ "$(echo $HUNG_PORTS | wc -w)" = "$n" ] ||
		fail "$name did not say which ports it listens on"
}

# wait_port PORT [SECONDS]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 secs=${2:-10} i=0
	while [ "$i" -lt $((secs * 20)) ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	fail "nothing listens on 127.0.0.1:$port after ${secs}s"
}

# wait_log FILE PATTERN [SECONDS]: wait until FILE has a line matching the
# extended regex PATTERN.
wait_log() {
	local file=$1 pat=$2 secs=${3:-10} i=0
	while [ "$i" -lt $((secs * 20)) ]; do
		if grep -Eq -- "$pat" "$file" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	fail "no line matching '$pat' in $file after ${secs}s"
}

# mkpki DIR: generate the test PKI (see tests/unit/testpki.h) into DIR.
mkpki() {
	"$MKPKI" "$1" >"$T/mkpki.log" 2>&1 || fail "could not generate the test PKI"
}

# s_server NAME HOST ARGS...: `openssl s_server -accept HOST:0 ARGS` (HOST
# "[::1]" for IPv6); sets $BG_PID and $BG_PORT, the port it got.  Without
# -quiet, which would hide the "ACCEPT host:port" line that says the port.
s_server() {
	local name=$1 host=$2
	shift 2
	bg "$name" openssl s_server -accept "$host:0" "$@"
	bg_port "$name" "ACCEPT .*:"
}

# backend_s_server NAME CERT KEY [CHAIN]: an `openssl s_server` that
# answers HTTP requests (-www) on 127.0.0.1; sets $BG_PID and $BG_PORT.
backend_s_server() {
	local name=$1 cert=$2 key=$3 chain=${4:-}
	if [ -n "$chain" ]; then
		s_server "$name" 127.0.0.1 -www -cert "$cert" -key "$key" \
		    -cert_chain "$chain" -naccept 100000
	else
		s_server "$name" 127.0.0.1 -www -cert "$cert" -key "$key" \
		    -naccept 100000
	fi
}

# configtest_block SITE FILE: the lines of site SITE in configtest's output
# FILE, from its "site SITE:" header to the next site.
configtest_block() {
	awk -v s="site $1:" 'index($0, s) == 1 { on = 1; print; next }
	    /^site / { on = 0 } on' "$2"
}

# pem_subjects FILE: print the subject CN of each certificate in a PEM file,
# one per line, in order.
pem_subjects() {
	openssl crl2pkcs7 -nocrl -certfile "$1" 2>/dev/null |
	    openssl pkcs7 -print_certs -noout 2>/dev/null |
	    sed -n 's/^subject=.*CN *= *\(.*\)$/\1/p'
}

# pem_count FILE: how many certificates a PEM file holds.
pem_count() {
	grep -c -- '-----BEGIN CERTIFICATE-----' "$1" || true
}

# strict_verify ROOT BUNDLE LEAF: what a strict client does with a bundle:
# only ROOT trusted, only BUNDLE as intermediates.
strict_verify() {
	openssl verify -CAfile "$1" -untrusted "$2" "$3" >/dev/null 2>&1
}

# --- proxy tests (t_proxy_*.sh) ---------------------------------------

PEER="$CHAINFIX_TEST_ROOT/lib/cfxpeer.py"

# peer ARGS...: run tests/lib/cfxpeer.py with the system Python (stdlib only).
peer() {
	/usr/bin/python3 "$PEER" "$@"
}

# py_backend NAME [--cert C --key K]: a cfxpeer.py backend on a port of
# 127.0.0.1 it picks (TLS with --cert), named NAME; sets $BG_PID and
# $BG_PORT.
py_backend() {
	local name=$1
	shift
	bg "$name" /usr/bin/python3 "$PEER" backend --name "$name" "$@"
	bg_port "$name" "backend [^ ]+ listening on "
}

# https_health NAME: an Exchange health page for backend_check: an HTTPS
# server (the PKI in $P) on a port of 127.0.0.1 answering GET
# /owa/healthcheck.htm with the status code in $T/NAME.status (200 at
# first; 404 elsewhere); sets $BG_PORT.
https_health() {
	echo 200 >"$T/$1.status"
	bg "$1" /usr/bin/python3 -c 'import http.server, socketserver, ssl, sys
status, cert, key = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(open(status).read()) if self.path == "/owa/healthcheck.htm" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = S(("127.0.0.1", 0), H)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("listening on", s.server_address[1], flush=True)
s.serve_forever()' "$T/$1.status" "$P/leaf-full.pem" "$P/leaf.key"
	bg_port "$1" "listening on "
}

# chainfix_start NAME CONF [ARGS...]: run `chainfix -c CONF ARGS` in the
# background, output in $T/NAME.log, its listen report (--listen-report) in
# $T/NAME.listen; waits until it serves; sets $CFX_PID and $CFX_REPORT.
# Listen on port 0 and ask cfx_port/cfx_addr which port a site got.
chainfix_start() {
	local name=$1 conf=$2
	shift 2
	CFX_REPORT=$T/$name.listen
	rm -f "$CFX_REPORT"
	bg "$name" "$CHAINFIX" -c "$conf" --listen-report "$CFX_REPORT" "$@"
	CFX_PID=$BG_PID
	local i=0
	while ! grep -Eq "chainfix [^ ]+: serving [0-9]+ sites? on" "$T/$name.log" 2>/dev/null; do
		kill -0 "$CFX_PID" 2>/dev/null ||
		    fail "chainfix exited at startup (see $T/$name.log)"
		[ "$i" -lt 400 ] || fail "chainfix did not start"
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$CFX_REPORT" ] || fail "chainfix serves but wrote no $CFX_REPORT"
}

# cfx_addr SITE [KEY]: the HOST:PORT the chainfix started last bound for
# SITE's listen (KEY admin_listen with SITE global), from its listen report.
cfx_addr() {
	local addr
	addr=$(awk -v s="$1" -v k="${2:-listen}" '$1 == s && $2 == k {
	    print $3; exit }' "$CFX_REPORT")
	[ -n "$addr" ] || fail "no $1 ${2:-listen} in $CFX_REPORT"
	echo "$addr"
}

# cfx_port SITE: the port of SITE's listen (cfx_addr).
cfx_port() {
	local addr
	addr=$(cfx_addr "$1") || exit 1
	echo "${addr##*:}"
}

# cfx_host SITE: the host of SITE's listen, without brackets.
cfx_host() {
	local addr
	addr=$(cfx_addr "$1") || exit 1
	addr=${addr%:*}
	addr=${addr#[}
	echo "${addr%]}"
}

# cfx_admin_port: the port of the admin endpoint (admin_listen).
cfx_admin_port() {
	local addr
	addr=$(cfx_addr global admin_listen) || exit 1
	echo "${addr##*:}"
}

# cfx_client SITE ARGS...: `cfxpeer.py client ARGS` against SITE's listen.
cfx_client() {
	local site=$1 host port
	shift
	host=$(cfx_host "$site") || exit 1
	port=$(cfx_port "$site") || exit 1
	peer client --host "$host" --port "$port" "$@"
}

# chainfix_stop_clean [NAME]: SIGTERM the chainfix started last and require
# exit status 0 (under ASan also: no leak report in its log).
chainfix_stop_clean() {
	local name=${1:-chainfix} rc=0
	stop "$CFX_PID" TERM || rc=$?
	[ "$rc" = 0 ] || fail "chainfix exited with status $rc (see $T/$name.log)"
	if grep -Eq "$LIB_SANITIZER_RE" "$T/$name.log"; then
		fail "sanitizer report in $T/$name.log"
	fi
}

# A sanitizer's report in a log (ASan, LeakSanitizer, UBSan, TSan).
LIB_SANITIZER_RE="ERROR: (Leak|Address)Sanitizer|runtime error:|WARNING: ThreadSanitizer"

# global_conf FILE: append a [global] section for tests to FILE.
global_conf() {
	cat >>"$1" <<EOG
[global]
workers = 2
allow_root = yes
log_level = ${CFX_LOG_LEVEL:-info}
shutdown_timeout = ${CFX_SHUTDOWN_TIMEOUT:-10}

EOG
}

# site_block FILE NAME LISTEN BACKEND [LINE...]: append a test site to
# FILE: the leaf-only certificate of the PKI in $P ($SITE_CERT instead, if
# set) with its intermediates directory ($SITE_INTERMEDIATES instead, if
# set; "none": no directory), listening on LISTEN (a host:port; a port
# alone is on 127.0.0.1), in front of BACKEND (host:port), then each LINE
# ("key = value") as given.  More keys of that site may follow.  Sites with
# the same LISTEN share it and are chosen by SNI, port 0 included: give each
# site of its own a loopback address of its own (127.0.0.2:0,
# 127.0.0.3:0...), cfx_client and cfx_addr find it.
site_block() {
	local file=$1 name=$2 listen=$3 backend=$4 line
	shift 4
	case $listen in
	*:*) ;;
	*) listen=127.0.0.1:$listen ;;
	esac
	cat >>"$file" <<EOS
[$name]
listen = $listen
cert = ${SITE_CERT:-$P/leaf.pem}
key = $P/leaf.key
roots = $P/root.pem
backend = $backend
EOS
	if [ "${SITE_INTERMEDIATES:-}" != none ]; then
		echo "intermediates = ${SITE_INTERMEDIATES:-$P/intermediates}" >>"$file"
	fi
	for line in "$@"; do
		echo "$line" >>"$file"
	done
}

# site_conf FILE NAME LISTEN BACKEND_PORT: the usual test site, in front
# of a backend on 127.0.0.1:BACKEND_PORT verified against the test root.
site_conf() {
	site_block "$1" "$2" "$3" "127.0.0.1:$4" "backend_ca = $P/root.pem"
}

# --- session resumption tests -------------------------------------------

# session_client: start tests/lib/fleetclient.py (a strict TLS client that
# keeps its sessions between connections, trusting $P/root.pem) and open
# its command FIFO on fd 7; results go to $T/client.log.
session_client() {
	mkfifo "$T/commands"
	bg client /usr/bin/python3 "$CHAINFIX_TEST_ROOT/lib/fleetclient.py" \
	    --cafile "$P/root.pem" --commands "$T/commands"
	exec 7>"$T/commands"
}

# sconn TAG PORT VERSION [FROM]: one connection with TLS VERSION (1.2 or
# 1.3), offering the session saved as FROM; prints the client's line
# "TAG reused=0|1 backend=NAME" (or "TAG error=...").
sconn() {
	echo "conn $*" >&7
	wait_log "$T/client.log" "^$1 " 60
	grep "^$1 " "$T/client.log" | tail -1
}

# sreused WANT TAG PORT VERSION FROM WHAT: sconn TAG PORT VERSION FROM, and
# fail with WHAT unless the session was reused (WANT 1) or not (WANT 0).
sreused() {
	local r
	r=$(sconn "$2" "$3" "$4" "$5")
	case "$r" in *"reused=$1 "*) ;; *) fail "TLS $4: $6: $r" ;; esac
}

# tls_and_plain_sites FILE: two cfxpeer.py backends, "tlsb" (TLS) and
# "plainb" (plain TCP), and two sites in FILE in front of them: "tls"
# (verified against the test root) on 127.0.0.1:0 and "plain" (backend_tls
# = no) on 127.0.0.2:0; reach them with cfx_client tls / cfx_client plain
# once chainfix runs.  Needs the PKI in $P.
tls_and_plain_sites() {
	local file=$1 b_tls b_plain
	py_backend tlsb --cert "$P/leaf-full.pem" --key "$P/leaf.key"
	b_tls=$BG_PORT
	py_backend plainb
	b_plain=$BG_PORT
	site_conf "$file" tls 127.0.0.1:0 "$b_tls"
	site_block "$file" plain 127.0.0.2:0 "127.0.0.1:$b_plain" \
	    "backend_tls = no"
}

# haproxy_start CFG_IN: HAProxy (as background child "haproxy") on the
# configuration CFG_IN, whose @HPORT@ is the port it listens on; sets HPORT.
# HAProxy does not say which port a bind on port 0 got: try ports until it
# binds one (a port taken meanwhile is only the next try, never a clash).
haproxy_start() {
	local try i
	HPORT=
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		try=$((20000 + RANDOM % 30000))
		sed "s/@HPORT@/$try/" "$1" >"$T/haproxy.cfg"
		haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy-check.log" 2>&1 ||
		    fail "haproxy rejects its configuration: $(cat "$T/haproxy-check.log")"
		bg haproxy haproxy -db -f "$T/haproxy.cfg"
		i=0
		while kill -0 "$BG_PID" 2>/dev/null &&
		    ! (exec 3<>"/dev/tcp/127.0.0.1/$try") 2>/dev/null; do
			[ "$i" -lt 200 ] || fail "haproxy did not start"
			sleep 0.05
			i=$((i + 1))
		done
		if kill -0 "$BG_PID" 2>/dev/null; then
			HPORT=$try
			return
		fi
		grep -qi "cannot bind" "$T/haproxy.log" ||
		    fail "haproxy exited: $(cat "$T/haproxy.log")"
	done
	fail "haproxy found no free port in 10 tries"
}
