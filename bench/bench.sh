#!/bin/bash
# bench/bench.sh: chainfix side by side with HAProxy, nginx (stream),
# stunnel and the backend directly, in one run, on loopback, with the same
# client load.  A benchmark, not a test: it prints figures and asserts
# nothing about speed.  See bench/README.md for what each figure means.
#
#   sudo bench/bench.sh              # full run: both PKI shapes, 3 rounds
#   sudo QUICK=1 bench/bench.sh      # one round of short tests
#
# It ends each PKI shape with the seven figures of issue 8 (proxy CPU per new
# connection, per GiB relayed and per keep-alive request, memory per idle
# bridged connection, new connections/s, bulk MiB/s, keep-alive req/s), each
# the median of the rounds, with chainfix / HAProxy beside its target.
#
# Environment (defaults in brackets; QUICK=1 changes the starred ones):
#   PKI            certificate shapes, each its own run ["ecdsa rsa"]:
#                  ecdsa = P-256 leaf + 1 intermediate (issue 8's shape),
#                  rsa = RSA-2048 leaf + 2 intermediates (the test PKI)
#   CHAINFIX       chainfix binary [build REPO/build-bench, Release, if unset]
#   MKPKI          test PKI generator [$(dirname CHAINFIX)/tests/chainfix-mkpki]
#   TLSLOAD        load generator [$(dirname CHAINFIX)/bench/tlsload]
#   TARGETS        which columns ["direct chainfix haproxy nginx stunnel"]
#   BASELINE       another chainfix binary: adds the column `baseline`,
#                  configured as chainfix is (compare two builds in one run)
#   ROUNDS*        times each rate test goes round the targets [3; quick 1]
#   CONN_SECS*     seconds of one new-connection test [8; quick 3]
#   KA_SECS*       seconds of one keep-alive test [8; quick 3]
#   CONN_CONC      concurrent clients, new connections [64]
#   KA_CONC        concurrent keep-alive connections [64]
#   LOAD_PROCS     load generator processes [1]
#   IDLE_K*        idle connections for the memory figure [2000; quick 500]
#   BULK_MB*       bulk download size in MiB [256; quick 64]
#   WORKERS        chainfix workers = HAProxy nbthread = nginx workers [2]
#   NO_INSTALL=1   do not apt-get install missing peers
#   KEEP=1         keep the work directory (configs, logs)

set -eu
export LC_ALL=C

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	: "${CONN_SECS:=3}" "${KA_SECS:=3}" "${IDLE_K:=500}" "${BULK_MB:=64}" "${ROUNDS:=1}"
else
	: "${CONN_SECS:=8}" "${KA_SECS:=8}" "${IDLE_K:=2000}" "${BULK_MB:=256}" "${ROUNDS:=3}"
fi
: "${CONN_CONC:=64}" "${KA_CONC:=64}" "${LOAD_PROCS:=1}" "${WORKERS:=2}"
: "${TARGETS:=direct chainfix haproxy nginx stunnel}"
if [ -n "${BASELINE:-}" ]; then
	[ -x "$BASELINE" ] || { printf 'bench: BASELINE: %s is not executable\n' "$BASELINE" >&2; exit 1; }
	case " $TARGETS " in
	*" baseline "*) ;;
	*) TARGETS="$TARGETS baseline" ;;
	esac
fi
: "${PKI:=ecdsa rsa}"

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs peers and raises limits)"
for shape in $PKI; do
	case $shape in
	ecdsa|rsa) ;;
	*) die "PKI: unknown shape '$shape' (ecdsa, rsa)" ;;
	esac
done

# --- peers ---------------------------------------------------------------
missing=""
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v stunnel4 >/dev/null 2>&1 || missing="$missing stunnel4"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
[ -f "$STREAM_MODULE" ] || missing="$missing libnginx-mod-stream"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -z "${CHAINFIX:-}" ]; then
	command -v cmake >/dev/null 2>&1 || missing="$missing cmake build-essential pkg-config"
	[ -f /usr/include/openssl/ssl.h ] || missing="$missing libssl-dev"
fi
if [ -n "$missing" ]; then
	[ "${NO_INSTALL:-0}" = 1 ] && die "missing:$missing"
	say "bench: installing$missing"
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# --- chainfix and the load generator ---------------------------------------
if [ -z "${CHAINFIX:-}" ]; then
	say "bench: building chainfix and tlsload (Release) in $REPO/build-bench"
	# The project's own build dependencies (libevent, libinih, cmocka...).
	[ "${NO_INSTALL:-0}" = 1 ] || bash "$REPO/scripts/deps.sh" >&2
	cmake -S "$REPO" -B "$REPO/build-bench" -DCMAKE_BUILD_TYPE=Release \
	    -DCHAINFIX_SANITIZE=OFF >/dev/null
	cmake --build "$REPO/build-bench" -j"$(nproc)" \
	    --target chainfix chainfix-mkpki tlsload >/dev/null
	CHAINFIX=$REPO/build-bench/chainfix
fi
: "${MKPKI:=$(dirname "$CHAINFIX")/tests/chainfix-mkpki}"
: "${TLSLOAD:=$(dirname "$CHAINFIX")/bench/tlsload}"
[ -x "$CHAINFIX" ] || die "$CHAINFIX: not an executable"
[ -x "$MKPKI" ] || die "$MKPKI: not an executable (set MKPKI)"
[ -x "$TLSLOAD" ] || die "$TLSLOAD: not an executable (set TLSLOAD; cmake --build ... --target tlsload)"

# --- work directory and cleanup ------------------------------------------
T=$(mktemp -d /tmp/chainfix-bench.XXXXXX)
PIDS=""

cleanup() {
	local pid
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $PIDS; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then
		say "bench: work directory kept: $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# bg NAME CMD...: start CMD in the background (output in $S/NAME.log); $BG_PID.
bg() {
	local name=$1
	shift
	"$@" >"$S/$name.log" 2>&1 &
	BG_PID=$!
	PIDS="$PIDS $BG_PID"
}

# stop_pid PID: TERM, wait up to 5 s, then KILL; forget it.
stop_pid() {
	local pid=$1 p rest=""
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in $PIDS; do
		[ "$p" = "$pid" ] || rest="$rest $p"
	done
	PIDS=$rest
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

wait_port() {
	local port=$1 i=0
	while [ "$i" -lt 200 ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# tree PID: PID and all its descendants.
tree() {
	local p c
	for p in "$@"; do
		[ -d "/proc/$p" ] || continue
		echo "$p"
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
			tree "$c"
		done
	done
}

# mem PID: "RSS_KB PSS_KB" summed over PID and its descendants.
mem() {
	local p rss=0 pss=0 r s
	for p in $(tree "$1"); do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		rss=$((rss + ${r:-0}))
		pss=$((pss + ${s:-0}))
	done
	echo "$rss $pss"
}

# cpu PID: utime+stime in clock ticks over PID and its descendants (a
# process's figures include its threads, those that ended too).
cpu() {
	local p t=0 v
	for p in $(tree "$1"); do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

# median "V1 V2 ...": the median (the mean of the middle two for an even
# count); nothing for an empty list.
median() {
	echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR == 0) exit;
		if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ulimit -n "$(ulimit -Hn)"
HZ=$(getconf CLK_TCK)

# --- PKI ------------------------------------------------------------------
# Each shape writes leaf.pem, leaf.key, leaf-full.pem (leaf then its
# intermediates), intermediates/ and root.pem into DIR; the leaf is for
# localhost and 127.0.0.1.

pki_rsa() {
	"$MKPKI" "$1" >"$S/mkpki.log" 2>&1 || die "chainfix-mkpki failed"
}

pki_ecdsa() {
	local d=$1
	mkdir -p "$d/intermediates"
	(
		cd "$d"
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out root.key
		openssl req -x509 -new -key root.key -sha256 -days 3650 \
		    -subj "/CN=chainfix bench root" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out int.key
		openssl req -new -key int.key -subj "/CN=chainfix bench intermediate" \
		    -out int.csr
		printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" \
		    "keyUsage=critical,keyCertSign,cRLSign" \
		    "subjectKeyIdentifier=hash" \
		    "authorityKeyIdentifier=keyid" >int.ext
		openssl x509 -req -in int.csr -CA root.pem -CAkey root.key \
		    -CAcreateserial -days 3650 -sha256 -extfile int.ext \
		    -out intermediates/int.pem
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out leaf.key
		openssl req -new -key leaf.key -subj "/CN=localhost" -out leaf.csr
		printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		    "keyUsage=critical,digitalSignature" \
		    "extendedKeyUsage=serverAuth" \
		    "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		    "subjectKeyIdentifier=hash" \
		    "authorityKeyIdentifier=keyid" >leaf.ext
		openssl x509 -req -in leaf.csr -CA intermediates/int.pem \
		    -CAkey int.key -CAcreateserial -days 3650 -sha256 \
		    -extfile leaf.ext -out leaf.pem
		cat leaf.pem intermediates/int.pem >leaf-full.pem
	) >"$S/pki.log" 2>&1 || die "could not make the ECDSA PKI (see $S/pki.log)"
}

pki_describe() {
	case $1 in
	ecdsa) echo "ECDSA P-256 leaf + 1 intermediate to the client; the same chain from the backend, verified against the root" ;;
	rsa) echo "RSA-2048 leaf + 2 intermediates to the client; the same chain from the backend, verified against the root" ;;
	esac
}

# --- the backend: nginx serving / and /bulk over TLS -----------------------

start_backend() {
	mkdir -p "$S/www" "$S/nginx-tmp"
	truncate -s "${BULK_MB}M" "$S/www/bulk"
	BPORT=$(free_port)
	cat >"$S/nginx.conf" <<EOF
user root;
worker_processes $WORKERS;
pid $S/nginx.pid;
error_log $S/nginx-error.log warn;
worker_rlimit_nofile 40000;
events { worker_connections 20000; }
http {
	default_type text/plain;
	client_body_temp_path $S/nginx-tmp/body;
	proxy_temp_path $S/nginx-tmp/proxy;
	fastcgi_temp_path $S/nginx-tmp/fastcgi;
	uwsgi_temp_path $S/nginx-tmp/uwsgi;
	scgi_temp_path $S/nginx-tmp/scgi;
	keepalive_timeout 600s;
	keepalive_requests 100000000;
	# nginx 1.22's default is TLS 1.0 to 1.2 (1.3 joined its default
	# list in 1.23.4): without this line every proxy's backend leg was
	# TLS 1.2.
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_session_cache shared:BENCH:20m;
	ssl_session_timeout 1h;
	# "r" or ".", then the version: each proxy's backend leg shows in
	# the row "backend TLS 1.3".
	log_format reuse '\$ssl_session_reused \$ssl_protocol';
	server {
		listen 127.0.0.1:$BPORT ssl;
		ssl_certificate $P/leaf-full.pem;
		ssl_certificate_key $P/leaf.key;
		access_log $S/access.log reuse;
		location = / { return 200 "hello from the backend\\n"; }
		location = /bulk { root $S/www; access_log off; }
	}
}
EOF
	bg nginx nginx -p "$S" -c "$S/nginx.conf" -g 'daemon off;'
	NGINX_PID=$BG_PID
	wait_port "$BPORT" || die "nginx did not start (see $S/nginx.log, $S/nginx-error.log)"
}

# --- targets ----------------------------------------------------------------
# start_TARGET: start it; sets TPID (the process to measure) and TPORT.

start_direct() {
	TPID=$NGINX_PID
	TPORT=$BPORT
}

start_chainfix() {
	start_chainfix_bin chainfix "$CHAINFIX"
}

# The column `baseline`: another chainfix binary (BASELINE), configured
# alike, to compare two builds in one run.
start_baseline() {
	start_chainfix_bin baseline "$BASELINE"
}

# start_chainfix_bin NAME BINARY
start_chainfix_bin() {
	local name=$1 bin=$2
	TPORT=$(free_port)
	APORT=$(free_port)
	cat >"$S/$name.conf" <<EOF
[global]
workers = $WORKERS
allow_root = yes
log_level = warning
admin_listen = 127.0.0.1:$APORT

[bench]
listen = 127.0.0.1:$TPORT
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_tls = yes
backend_verify = yes
backend_ca = $P/root.pem
backend_sni = localhost
EOF
	bg "$name" "$bin" -c "$S/$name.conf"
	TPID=$BG_PID
}

start_haproxy() {
	TPORT=$(free_port)
	cat "$P/leaf-full.pem" "$P/leaf.key" >"$S/haproxy.pem"
	cat >"$S/haproxy.cfg" <<EOF
global
	nbthread $WORKERS
	maxconn $(( ($(ulimit -n) - 200) / 2 ))

defaults
	mode tcp
	timeout connect 10s
	timeout client 10m
	timeout server 10m

frontend fe
	bind 127.0.0.1:$TPORT ssl crt $S/haproxy.pem
	default_backend be

backend be
	server s1 127.0.0.1:$BPORT ssl verify required ca-file $P/root.pem sni str(localhost) verifyhost localhost
EOF
	bg haproxy haproxy -db -f "$S/haproxy.cfg"
	TPID=$BG_PID
}

start_nginx() {
	# nginx's stream module: TLS to the client, a verified TLS connection
	# to the backend, sessions toward it reused; no HTTP parsing.
	TPORT=$(free_port)
	mkdir -p "$S/stream"
	cat >"$S/stream.conf" <<EOF
load_module $STREAM_MODULE;
user root;
worker_processes $WORKERS;
pid $S/stream.pid;
error_log $S/stream-error.log warn;
worker_rlimit_nofile 40000;
events { worker_connections 20000; }
stream {
	server {
		listen 127.0.0.1:$TPORT ssl;
		ssl_certificate $P/leaf-full.pem;
		ssl_certificate_key $P/leaf.key;
		# nginx 1.22's default is TLSv1 to TLSv1.2 on both legs (1.3
		# joined it in 1.23.4): both lines make it TLS 1.3 as for
		# every other column.
		ssl_protocols TLSv1.2 TLSv1.3;
		proxy_pass 127.0.0.1:$BPORT;
		proxy_ssl on;
		proxy_ssl_verify on;
		# The default depth, 1, refuses the rsa shape's 3-deep chain.
		proxy_ssl_verify_depth 4;
		proxy_ssl_trusted_certificate $P/root.pem;
		proxy_ssl_name localhost;
		proxy_ssl_server_name on;
		proxy_ssl_session_reuse on;
		# Without these two lines both legs were TLS 1.2: a TLS 1.2
		# resumption has no key exchange (one ECDHE and the TLS 1.3
		# key schedule fewer than every other proxy).
		proxy_ssl_protocols TLSv1.2 TLSv1.3;
		proxy_timeout 10m;
	}
}
EOF
	bg nginx-stream nginx -p "$S/stream" -c "$S/stream.conf" -g 'daemon off;'
	TPID=$BG_PID
}

start_stunnel() {
	# stunnel has no server-and-client service: the honest equivalent of
	# re-encryption is two services in one process, TLS server -> plain
	# loopback hop -> TLS client that verifies the backend.
	TPORT=$(free_port)
	local mid
	mid=$(free_port)
	cat >"$S/stunnel.conf" <<EOF
foreground = yes
pid = $S/stunnel.pid
debug = warning
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1

[in]
accept = 127.0.0.1:$TPORT
cert = $P/leaf-full.pem
key = $P/leaf.key
connect = 127.0.0.1:$mid

[out]
client = yes
accept = 127.0.0.1:$mid
connect = 127.0.0.1:$BPORT
sni = localhost
CAfile = $P/root.pem
verifyChain = yes
checkHost = localhost
EOF
	bg stunnel stunnel4 "$S/stunnel.conf"
	TPID=$BG_PID
}

# metric NAME: a chainfix /metrics value, summed over its series (the
# {site} counters).
metric() {
	curl -s "http://127.0.0.1:$CFX_APORT/metrics" 2>/dev/null |
	    awk -v m="$1" '{ n = $1; sub(/\{.*/, "", n) }
	    n == m { t += $2; found = 1 } END { if (found) print t }'
}

# add KEY TARGET VALUE: R[KEY,TARGET] += VALUE (integers).
add() { R[$1,$2]=$(( ${R[$1,$2]:-0} + ${3:-0} )); }
# runs KEY TARGET VALUE: append VALUE to the list of each round's figures.
runs() { R[$1,$2]="${R[$1,$2]:+${R[$1,$2]} }$3"; }

# --- one PKI shape, all targets ---------------------------------------------
run_shape() {
	local shape=$1 t round before after ok err dropped lpid c0 c1 l0 l1 m0 m1 h0 h1 b rate mibs
	S=$T/$shape
	mkdir -p "$S"
	P=$S/pki
	"pki_$shape" "$P"
	start_backend
	unset R TPIDS TPORTS
	declare -gA R TPIDS TPORTS
	CFX_APORT=0

	echo
	echo "=== PKI $shape"
	echo "TLS:       $(pki_describe "$shape"); TLS 1.3 on both legs"

	# All targets run at once, each on its own port (an idle proxy costs
	# no CPU), so that every measurement below can go round the targets in
	# turn: on a shared machine, noise then hits every column alike.
	say "bench: $shape: targets: $TARGETS (work directory $S)"
	for t in $TARGETS; do
		"start_$t"
		if ! wait_port "$TPORT"; then
			say "bench: $t did not start (see $S/$t.log)"
			R[status,$t]="did not start (see $t.log)"
			continue
		fi
		TPIDS[$t]=$TPID
		TPORTS[$t]=$TPORT
		[ "$t" = chainfix ] && CFX_APORT=$APORT
		# Sanity: a strict client that trusts only the root gets a 200.
		if ! curl -sf --cacert "$P/root.pem" --resolve "localhost:$TPORT:127.0.0.1" \
		    -o /dev/null "https://localhost:$TPORT/"; then
			R[status,$t]="a strict curl (only the root trusted) failed"
		fi
		# The version the client leg negotiates, for the row "client
		# TLS" (a peer's defaults may stop below TLS 1.3).
		R[client_tls,$t]=$(timeout 5 openssl s_client -connect "127.0.0.1:$TPORT" \
		    -servername localhost </dev/null 2>/dev/null |
		    sed -n 's/^\(New\|Reused\), \(TLSv[0-9.]*\),.*/\2/p' | head -1)
		# Warm up: lazy initialisation belongs to the baseline.
		"$TLSLOAD" -p "$TPORT" -m conn -c 8 -d 1 >"$S/$t-warm.out" 2>&1 || true
	done
	RUN=""
	for t in $TARGETS; do
		[ -n "${TPIDS[$t]:-}" ] && RUN="$RUN $t"
	done
	echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average before: other work on this machine)"
	sleep 1

	# Memory per idle connection (first, on fresh processes).
	for t in $RUN; do
		say "bench: $shape: idle memory: $t"
		before=$(mem "${TPIDS[$t]}")
		"$TLSLOAD" -p "${TPORTS[$t]}" -m idle -c "$IDLE_K" -H 600 \
		    >"$S/$t-idle.out" 2>"$S/$t-idle.err" &
		lpid=$!
		PIDS="$PIDS $lpid"
		for _ in $(seq 1200); do
			grep -q '^ready' "$S/$t-idle.out" && break
			kill -0 "$lpid" 2>/dev/null || break
			sleep 0.05
		done
		if grep -q '^ready' "$S/$t-idle.out"; then
			sleep 2
			after=$(mem "${TPIDS[$t]}")
			ok=$(sed -n 's/^ready ok=\([0-9]*\).*/\1/p' "$S/$t-idle.out")
			err=$(sed -n 's/^ready ok=[0-9]* err=\([0-9]*\).*/\1/p' "$S/$t-idle.out")
			if [ "${ok:-0}" -gt 0 ]; then
				R[rss,$t]=$(awk -v a="${after% *}" -v b="${before% *}" -v k="$ok" 'BEGIN {printf "%.1f", (a - b) / k}')
				R[pss,$t]=$(awk -v a="${after#* }" -v b="${before#* }" -v k="$ok" 'BEGIN {printf "%.1f", (a - b) / k}')
			fi
			R[idle_ok,$t]="$ok/$IDLE_K"
			[ "${err:-0}" = 0 ] || R[idle_ok,$t]="$ok/$IDLE_K ($err failed)"
			R[rss_abs,$t]="${before% *}->${after% *}"
		else
			R[idle_ok,$t]="not ready"
		fi
		stop_pid "$lpid"
		dropped=$(sed -n 's/^closed dropped=//p' "$S/$t-idle.out")
		[ "${dropped:-0}" = 0 ] || R[idle_ok,$t]="${R[idle_ok,$t]}, $dropped dropped"
		sleep 1
	done

	for round in $(seq "$ROUNDS"); do
		# New TLS connections per second.
		for t in $RUN; do
			say "bench: $shape: round $round: new connections: $t"
			l0=$(wc -l <"$S/access.log" 2>/dev/null || echo 0)
			c0=$(cpu "${TPIDS[$t]}")
			if [ "$t" = chainfix ]; then
				m0=$(metric chainfix_backend_resumed_total)
				h0=$(metric chainfix_handshakes_total)
			fi
			"$TLSLOAD" -p "${TPORTS[$t]}" -m conn -c "$CONN_CONC" -d "$CONN_SECS" \
			    -j "$LOAD_PROCS" >"$S/$t-conn$round.out" 2>"$S/$t-conn$round.err" || true
			c1=$(cpu "${TPIDS[$t]}")
			sleep 0.5
			l1=$(wc -l <"$S/access.log" 2>/dev/null || echo 0)
			ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$S/$t-conn$round.out")
			rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$S/$t-conn$round.out")
			[ -n "$rate" ] && runs conn_runs "$t" "$(fmt "$rate" %.0f)"
			if [ "${ok:-0}" -gt 0 ]; then
				runs cpu_runs "$t" "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v k="$ok" 'BEGIN {printf "%.1f", c * 1e6 / hz / k}')"
			fi
			add conn_err "$t" "$(sed -n 's/.* err=\([0-9]*\).*/\1/p' "$S/$t-conn$round.out")"
			# Backend resumption as the backend sees it: nginx logs
			# "r" for a request on a resumed TLS session.
			if [ "$l1" -gt "$l0" ]; then
				add bk_req "$t" $((l1 - l0))
				add bk_res "$t" "$(sed -n "$((l0 + 1)),${l1}p" "$S/access.log" | grep -c '^r' || true)"
				add bk_13 "$t" "$(sed -n "$((l0 + 1)),${l1}p" "$S/access.log" | grep -c ' TLSv1\.3$' || true)"
			fi
			if [ "$t" = chainfix ]; then
				m1=$(metric chainfix_backend_resumed_total)
				h1=$(metric chainfix_handshakes_total)
				add cfx_hs "$t" $((${h1:-0} - ${h0:-0}))
				add cfx_res "$t" $((${m1:-0} - ${m0:-0}))
			fi
		done
		# Keep-alive requests per second.
		for t in $RUN; do
			say "bench: $shape: round $round: keep-alive: $t"
			c0=$(cpu "${TPIDS[$t]}")
			"$TLSLOAD" -p "${TPORTS[$t]}" -m ka -c "$KA_CONC" -d "$KA_SECS" \
			    -j "$LOAD_PROCS" >"$S/$t-ka$round.out" 2>"$S/$t-ka$round.err" || true
			c1=$(cpu "${TPIDS[$t]}")
			ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$S/$t-ka$round.out")
			rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$S/$t-ka$round.out")
			[ -n "$rate" ] && runs ka_runs "$t" "$(fmt "$rate" %.0f)"
			if [ "${ok:-0}" -gt 0 ]; then
				runs kacpu_runs "$t" "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v k="$ok" 'BEGIN {printf "%.2f", c * 1e6 / hz / k}')"
			fi
			add ka_err "$t" "$(sed -n 's/.* err=\([0-9]*\).*/\1/p' "$S/$t-ka$round.out")"
		done
		# Bulk download.
		for t in $RUN; do
			say "bench: $shape: round $round: bulk: $t"
			c0=$(cpu "${TPIDS[$t]}")
			b=$(curl -s --cacert "$P/root.pem" \
			    --resolve "localhost:${TPORTS[$t]}:127.0.0.1" -o /dev/null \
			    -w '%{http_code} %{size_download} %{speed_download}' \
			    "https://localhost:${TPORTS[$t]}/bulk" 2>/dev/null || true)
			c1=$(cpu "${TPIDS[$t]}")
			if [ "${b%% *}" = 200 ] &&
			    [ "$(echo "$b" | cut -d' ' -f2)" = $((BULK_MB * 1048576)) ]; then
				mibs=$(awk -v s="${b##* }" 'BEGIN {printf "%.1f", s / 1048576}')
				runs bulk_runs "$t" "$(fmt "$mibs" %.0f)"
				runs bulkcpu_runs "$t" "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v m="$BULK_MB" 'BEGIN {printf "%.3f", c / hz / (m / 1024)}')"
			else
				R[bulk_err,$t]="failed ($b)"
			fi
		done
	done
	echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (load average after)"

	# Medians of the rounds.
	for t in $RUN; do
		R[conn,$t]=$(median "${R[conn_runs,$t]:-}")
		R[cpu,$t]=$(median "${R[cpu_runs,$t]:-}")
		R[ka,$t]=$(median "${R[ka_runs,$t]:-}")
		R[kacpu,$t]=$(median "${R[kacpu_runs,$t]:-}")
		R[bulk,$t]=$(median "${R[bulk_runs,$t]:-}")
		R[bulkcpu,$t]=$(median "${R[bulkcpu_runs,$t]:-}")
		if [ "${R[bk_req,$t]:-0}" -gt 0 ]; then
			R[resumed,$t]=$(awk -v r="${R[bk_res,$t]}" -v n="${R[bk_req,$t]}" 'BEGIN {printf "%.0f%%", 100 * r / n}')
			R[tls13,$t]=$(awk -v r="${R[bk_13,$t]}" -v n="${R[bk_req,$t]}" 'BEGIN {printf "%.0f%%", 100 * r / n}')
		fi
		if [ "$t" = chainfix ] && [ -n "${R[cfx_hs,$t]:-}" ]; then
			R[cfx_metrics,$t]="chainfix /metrics during the new-connection tests: ${R[cfx_hs,$t]} client handshakes, ${R[cfx_res,$t]} backend handshakes resumed"
		fi
	done

	print_details
	print_summary
	for t in $RUN; do
		[ "$t" = direct ] || stop_pid "${TPIDS[$t]}"
	done
	stop_pid "$NGINX_PID"
}

# --- tables -----------------------------------------------------------------
# cell KEY TARGET FORMAT: value and its ratio to chainfix's.
cell() {
	local k=$1 t=$2 f=$3 v c
	v=${R[$k,$t]:-}
	c=${R[$k,chainfix]:-}
	if [ -z "$v" ]; then
		printf '%-20s' "-"
		return
	fi
	if [ "$t" = chainfix ] || [ -z "$c" ]; then
		printf '%-20s' "$(fmt "$v" "$f")"
	else
		printf '%-20s' "$(fmt "$v" "$f") $(awk -v v="$v" -v c="$c" 'BEGIN { if (c > 0) printf "(x%.2f)", v / c; else print "" }')"
	fi
}

row() {
	local label=$1 k=$2 f=$3 t
	printf '%-32s' "$label"
	for t in $TARGETS; do
		cell "$k" "$t" "$f"
	done
	echo
}

rowraw() {
	local label=$1 k=$2 t
	printf '%-32s' "$label"
	for t in $TARGETS; do
		printf '%-20s' "${R[$k,$t]:--}"
	done
	echo
}

colname() {
	case $1 in
	nginx) echo "nginx stream" ;;
	*) echo "$1" ;;
	esac
}

print_details() {
	local t
	echo
	printf '%-32s' "(medians of $ROUNDS round(s))"
	for t in $TARGETS; do printf '%-20s' "$(colname "$t")"; done
	echo
	row "new TLS conn/s (full hs)" conn "%.0f"
	rowraw "  each round" conn_runs
	rowraw "  errors" conn_err
	row "  proxy CPU us per conn" cpu "%.0f"
	rowraw "  each round" cpu_runs
	rowraw "  client TLS" client_tls
	rowraw "  backend TLS resumed" resumed
	rowraw "  backend TLS 1.3" tls13
	row "keep-alive req/s" ka "%.0f"
	rowraw "  each round" ka_runs
	rowraw "  errors" ka_err
	row "  proxy CPU us per req" kacpu "%.1f"
	rowraw "  each round" kacpu_runs
	row "bulk MiB/s (${BULK_MB} MiB)" bulk "%.0f"
	rowraw "  each round" bulk_runs
	row "  proxy CPU s per GiB" bulkcpu "%.2f"
	rowraw "  each round" bulkcpu_runs
	row "idle KiB/conn (RSS)" rss "%.1f"
	row "idle KiB/conn (PSS)" pss "%.1f"
	rowraw "  idle conns held" idle_ok
	rowraw "  RSS KiB before->after" rss_abs
	echo
	echo "(xN.NN) = that column divided by chainfix's figure.  'direct' is the"
	echo "backend (nginx) itself: its CPU and memory figures are nginx"
	echo "terminating TLS.  'proxy CPU' is user+system time of the proxy's"
	echo "processes only (not the backend's or the client's)."
	for t in $TARGETS; do
		if [ -n "${R[status,$t]:-}" ]; then echo "NOTE: $t: ${R[status,$t]}"; fi
		if [ -n "${R[bulk_err,$t]:-}" ]; then echo "NOTE: $t: bulk ${R[bulk_err,$t]}"; fi
		if [ -n "${R[cfx_metrics,$t]:-}" ]; then echo "NOTE: ${R[cfx_metrics,$t]}"; fi
	done
}

# summary LABEL KEY FORMAT DIRECTION TARGET: one of the seven figures, with
# chainfix / HAProxy against the target (DIRECTION le: lower is better, the
# ratio must be <= TARGET; ge: higher is better, >= TARGET).
summary() {
	local label=$1 k=$2 f=$3 dir=$4 goal=$5 t v c h ratio verdict
	printf '%-40s' "$label"
	for t in $TARGETS; do
		v=${R[$k,$t]:-}
		if [ -n "$v" ]; then printf '%-13s' "$(fmt "$v" "$f")"; else printf '%-13s' "-"; fi
	done
	c=${R[$k,chainfix]:-}
	h=${R[$k,haproxy]:-}
	if [ -n "$c" ] && [ -n "$h" ] && awk -v h="$h" 'BEGIN {exit !(h > 0)}'; then
		ratio=$(awk -v c="$c" -v h="$h" 'BEGIN {printf "%.2f", c / h}')
		if awk -v r="$ratio" -v g="$goal" -v d="$dir" 'BEGIN {exit !(d == "le" ? r <= g : r >= g)}'; then
			verdict=met
		else
			verdict=MISSED
		fi
		printf '%-9s %s %-5s %s\n' "$ratio" "$([ "$dir" = le ] && echo '<=' || echo '>=')" "$goal" "$verdict"
	else
		echo "-"
	fi
}

print_summary() {
	local t
	echo
	echo "The seven figures (PKI $PKI_NOW, medians of $ROUNDS round(s)); chainfix / HAProxy against issue 8's targets:"
	printf '%-40s' ""
	for t in $TARGETS; do printf '%-13s' "$(colname "$t")"; done
	printf '%-9s %s\n' "cfx/hap" "target"
	summary "proxy CPU per new connection (us)" cpu "%.0f" le 0.75
	summary "proxy CPU per GiB relayed (s)" bulkcpu "%.2f" le 0.80
	summary "proxy CPU per keep-alive request (us)" kacpu "%.1f" le 0.80
	summary "memory per idle bridged conn (KiB)" rss "%.1f" le 0.75
	summary "new connections/s" conn "%.0f" ge 1.0
	summary "bulk MiB/s (${BULK_MB} MiB downloads)" bulk "%.0f" ge 1.0
	summary "keep-alive req/s" ka "%.0f" ge 1.0
}

# --- machine info -----------------------------------------------------------
{
	echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine:   $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
	echo "system:    Debian $(cat /etc/debian_version 2>/dev/null), Linux $(uname -r)"
	echo "openssl:   $(openssl version)"
	echo "chainfix:  $("$CHAINFIX" --version 2>&1 | head -1) ($CHAINFIX)"
	if [ -n "${BASELINE:-}" ]; then
		echo "baseline:  $("$BASELINE" --version 2>&1 | head -1) ($BASELINE)"
	fi
	echo "haproxy:   $(haproxy -v 2>&1 | head -1)"
	echo "nginx:     $(nginx -v 2>&1) (the common backend, and the stream column; $WORKERS workers)"
	echo "stunnel:   $(stunnel4 -version 2>&1 | grep -m1 '^stunnel')"
	echo "load:      tlsload (bench/tlsload.c), $LOAD_PROCS process(es); curl $(curl --version | head -1 | cut -d' ' -f2)"
	echo "settings:  PKI=\"$PKI\" ROUNDS=$ROUNDS CONN_SECS=$CONN_SECS CONN_CONC=$CONN_CONC KA_SECS=$KA_SECS KA_CONC=$KA_CONC IDLE_K=$IDLE_K BULK_MB=$BULK_MB WORKERS=$WORKERS"
}

for PKI_NOW in $PKI; do
	run_shape "$PKI_NOW"
done
exit 0
