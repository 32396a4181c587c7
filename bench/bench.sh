#!/bin/bash
# bench/bench.sh: chainfix side by side with HAProxy, stunnel and the backend
# directly, in one run, on loopback, with the same client load.  A benchmark,
# not a test: it prints figures and asserts nothing about speed.  See
# bench/README.md for what each figure means.
#
#   sudo bench/bench.sh              # full run, about 3-4 minutes
#   sudo QUICK=1 bench/bench.sh      # about 1 minute
#
# Environment (defaults in brackets; QUICK=1 changes the starred ones):
#   CHAINFIX       chainfix binary [build REPO/build-bench, Release, if unset]
#   MKPKI          test PKI generator [$(dirname CHAINFIX)/tests/chainfix-mkpki]
#   TARGETS        which columns ["direct chainfix haproxy stunnel"]
#   ROUNDS*        times each rate test goes round the targets [2; quick 1]
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
	: "${CONN_SECS:=8}" "${KA_SECS:=8}" "${IDLE_K:=2000}" "${BULK_MB:=256}" "${ROUNDS:=2}"
fi
: "${CONN_CONC:=64}" "${KA_CONC:=64}" "${LOAD_PROCS:=1}" "${WORKERS:=2}"
: "${TARGETS:=direct chainfix haproxy stunnel}"

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs peers and raises limits)"

# --- peers ---------------------------------------------------------------
missing=""
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v stunnel4 >/dev/null 2>&1 || missing="$missing stunnel4"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v cc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
[ -f /usr/include/openssl/ssl.h ] || missing="$missing libssl-dev"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -n "$missing" ]; then
	[ "${NO_INSTALL:-0}" = 1 ] && die "missing:$missing"
	say "bench: installing$missing"
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# --- chainfix -------------------------------------------------------------
if [ -z "${CHAINFIX:-}" ]; then
	say "bench: building chainfix (Release) in $REPO/build-bench"
	cmake -S "$REPO" -B "$REPO/build-bench" -DCMAKE_BUILD_TYPE=Release \
	    -DCHAINFIX_SANITIZE=OFF >/dev/null
	cmake --build "$REPO/build-bench" -j"$(nproc)" \
	    --target chainfix chainfix-mkpki >/dev/null
	CHAINFIX=$REPO/build-bench/chainfix
fi
: "${MKPKI:=$(dirname "$CHAINFIX")/tests/chainfix-mkpki}"
[ -x "$CHAINFIX" ] || die "$CHAINFIX: not an executable"
[ -x "$MKPKI" ] || die "$MKPKI: not an executable (set MKPKI)"

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

# bg NAME CMD...: start CMD in the background (output in $T/NAME.log); $BG_PID.
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
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

# cpu PID: utime+stime in clock ticks over PID and its descendants.
cpu() {
	local p t=0 v
	for p in $(tree "$1"); do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

ulimit -n "$(ulimit -Hn)"

# --- load generator -------------------------------------------------------
cc -O2 -o "$T/tlsload" "$BENCH_DIR/tlsload.c" -lssl -lcrypto ||
    die "could not build bench/tlsload.c"
TLSLOAD=$T/tlsload

# --- PKI, backend content --------------------------------------------------
"$MKPKI" "$T/pki" >"$T/mkpki.log" 2>&1 || die "chainfix-mkpki failed"
P=$T/pki
cat "$P/leaf-full.pem" "$P/leaf.key" >"$T/haproxy.pem"
mkdir -p "$T/www" "$T/nginx-tmp"
truncate -s "${BULK_MB}M" "$T/www/bulk"

BPORT=$(free_port)
cat >"$T/nginx.conf" <<EOF
user root;
worker_processes $WORKERS;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
worker_rlimit_nofile 40000;
events { worker_connections 20000; }
http {
	default_type text/plain;
	client_body_temp_path $T/nginx-tmp/body;
	proxy_temp_path $T/nginx-tmp/proxy;
	fastcgi_temp_path $T/nginx-tmp/fastcgi;
	uwsgi_temp_path $T/nginx-tmp/uwsgi;
	scgi_temp_path $T/nginx-tmp/scgi;
	keepalive_timeout 600s;
	keepalive_requests 100000000;
	ssl_session_cache shared:BENCH:20m;
	ssl_session_timeout 1h;
	log_format reuse '\$ssl_session_reused';
	server {
		listen 127.0.0.1:$BPORT ssl;
		ssl_certificate $P/leaf-full.pem;
		ssl_certificate_key $P/leaf.key;
		access_log $T/access.log reuse;
		location = / { return 200 "hello from the backend\\n"; }
		location = /bulk { root $T/www; access_log off; }
	}
}
EOF
bg nginx nginx -p "$T" -c "$T/nginx.conf" -g 'daemon off;'
NGINX_PID=$BG_PID
wait_port "$BPORT" || die "nginx did not start (see $T/nginx.log, $T/nginx-error.log)"

# --- machine info -----------------------------------------------------------
{
	echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine:   $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
	echo "system:    Debian $(cat /etc/debian_version 2>/dev/null), Linux $(uname -r)"
	echo "openssl:   $(openssl version)"
	echo "chainfix:  $("$CHAINFIX" --version 2>&1 | head -1) ($CHAINFIX)"
	echo "haproxy:   $(haproxy -v 2>&1 | head -1)"
	echo "stunnel:   $(stunnel4 -version 2>&1 | grep -m1 '^stunnel')"
	echo "nginx:     $(nginx -v 2>&1) (the common backend, $WORKERS workers)"
	echo "load:      tlsload (bench/tlsload.c), $LOAD_PROCS process(es); curl $(curl --version | head -1 | cut -d' ' -f2)"
	echo "settings:  ROUNDS=$ROUNDS CONN_SECS=$CONN_SECS CONN_CONC=$CONN_CONC KA_SECS=$KA_SECS KA_CONC=$KA_CONC IDLE_K=$IDLE_K BULK_MB=$BULK_MB WORKERS=$WORKERS"
	echo "TLS:       RSA-2048 leaf + 2 intermediates to the client; same chain from the backend, verified against the test root"
}

# --- targets ----------------------------------------------------------------
# start_TARGET: start it; sets TPID (the process to measure) and TPORT.

start_direct() {
	TPID=$NGINX_PID
	TPORT=$BPORT
}

start_chainfix() {
	TPORT=$(free_port)
	APORT=$(free_port)
	cat >"$T/chainfix.conf" <<EOF
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
	bg chainfix "$CHAINFIX" -c "$T/chainfix.conf"
	TPID=$BG_PID
}

start_haproxy() {
	TPORT=$(free_port)
	cat >"$T/haproxy.cfg" <<EOF
global
	nbthread $WORKERS
	maxconn $(( ($(ulimit -n) - 200) / 2 ))

defaults
	mode tcp
	timeout connect 10s
	timeout client 10m
	timeout server 10m

frontend fe
	bind 127.0.0.1:$TPORT ssl crt $T/haproxy.pem
	default_backend be

backend be
	server s1 127.0.0.1:$BPORT ssl verify required ca-file $P/root.pem sni str(localhost) verifyhost localhost
EOF
	bg haproxy haproxy -db -f "$T/haproxy.cfg"
	TPID=$BG_PID
}

start_stunnel() {
	# stunnel has no server-and-client service: the honest equivalent of
	# re-encryption is two services in one process, TLS server -> plain
	# loopback hop -> TLS client that verifies the backend.
	TPORT=$(free_port)
	local mid
	mid=$(free_port)
	cat >"$T/stunnel.conf" <<EOF
foreground = yes
pid = $T/stunnel.pid
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
	bg stunnel stunnel4 "$T/stunnel.conf"
	TPID=$BG_PID
}

# metric NAME: a chainfix /metrics value.
# metric NAME: its value, summed over its series (the {site} counters).
metric() {
	curl -s "http://127.0.0.1:$APORT/metrics" 2>/dev/null |
	    awk -v m="$1" '{ n = $1; sub(/\{.*/, "", n) }
	    n == m { t += $2; found = 1 } END { if (found) print t }'
}

declare -A R
HZ=$(getconf CLK_TCK)

# add KEY TARGET VALUE: R[KEY,TARGET] += VALUE (integers).
add() { R[$1,$2]=$(( ${R[$1,$2]:-0} + ${3:-0} )); }
# best KEY TARGET VALUE: R[KEY,TARGET] = max(R[KEY,TARGET], VALUE).
best() {
	if [ -z "${R[$1,$2]:-}" ] || awk -v a="$3" -v b="${R[$1,$2]}" 'BEGIN {exit !(a > b)}'; then
		R[$1,$2]=$3
	fi
}
# runs KEY TARGET VALUE: append VALUE to the list of each round's figures.
runs() { R[$1,$2]="${R[$1,$2]:+${R[$1,$2]} }$3"; }

# All targets run at once, each on its own port (an idle proxy costs no
# CPU), so that every measurement below can go round the targets in turn:
# on a shared machine, noise then hits every column alike.
say "bench: targets: $TARGETS (work directory $T)"
declare -A TPIDS TPORTS
for t in $TARGETS; do
	"start_$t"
	if ! wait_port "$TPORT"; then
		say "bench: $t did not start (see $T/$t.log)"
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
	# Warm up: lazy initialisation belongs to the baseline, not the figure.
	"$TLSLOAD" -p "$TPORT" -m conn -c 8 -d 1 >"$T/$t-warm.out" 2>&1 || true
done
RUN=""
for t in $TARGETS; do
	[ -n "${TPIDS[$t]:-}" ] && RUN="$RUN $t"
done
APORT=${CFX_APORT:-0}
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average before the run: other work on this machine)"
sleep 1

# 4. memory per idle connection (first, on fresh processes)
for t in $RUN; do
	say "bench: idle memory: $t"
	before=$(mem "${TPIDS[$t]}")
	"$TLSLOAD" -p "${TPORTS[$t]}" -m idle -c "$IDLE_K" -H 600 \
	    >"$T/$t-idle.out" 2>"$T/$t-idle.err" &
	lpid=$!
	PIDS="$PIDS $lpid"
	for _ in $(seq 1200); do
		grep -q '^ready' "$T/$t-idle.out" && break
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -q '^ready' "$T/$t-idle.out"; then
		sleep 2
		after=$(mem "${TPIDS[$t]}")
		ok=$(sed -n 's/^ready ok=\([0-9]*\).*/\1/p' "$T/$t-idle.out")
		err=$(sed -n 's/^ready ok=[0-9]* err=\([0-9]*\).*/\1/p' "$T/$t-idle.out")
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
	dropped=$(sed -n 's/^closed dropped=//p' "$T/$t-idle.out")
	[ "${dropped:-0}" = 0 ] || R[idle_ok,$t]="${R[idle_ok,$t]}, $dropped dropped"
	sleep 1
done

for round in $(seq "$ROUNDS"); do
	# 1. new TLS connections per second
	for t in $RUN; do
		say "bench: round $round: new connections: $t"
		l0=$(wc -l <"$T/access.log" 2>/dev/null || echo 0)
		c0=$(cpu "${TPIDS[$t]}")
		if [ "$t" = chainfix ]; then
			m0=$(metric chainfix_backend_resumed_total)
			h0=$(metric chainfix_handshakes_total)
		fi
		"$TLSLOAD" -p "${TPORTS[$t]}" -m conn -c "$CONN_CONC" -d "$CONN_SECS" \
		    -j "$LOAD_PROCS" >"$T/$t-conn$round.out" 2>"$T/$t-conn$round.err" || true
		c1=$(cpu "${TPIDS[$t]}")
		sleep 0.5
		l1=$(wc -l <"$T/access.log" 2>/dev/null || echo 0)
		ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$T/$t-conn$round.out")
		rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$T/$t-conn$round.out")
		if [ -n "$rate" ]; then
			best conn "$t" "$rate"
			runs conn_runs "$t" "$(fmt "$rate" %.0f)"
		fi
		add conn_err "$t" "$(sed -n 's/.* err=\([0-9]*\).*/\1/p' "$T/$t-conn$round.out")"
		add conn_ok "$t" "${ok:-0}"
		add conn_cpu "$t" $((c1 - c0))
		# Backend resumption as the backend sees it: nginx logs "r"
		# for a request on a resumed TLS session, "." otherwise.
		if [ "$l1" -gt "$l0" ]; then
			add bk_req "$t" $((l1 - l0))
			add bk_res "$t" "$(sed -n "$((l0 + 1)),${l1}p" "$T/access.log" | grep -c '^r' || true)"
		fi
		if [ "$t" = chainfix ]; then
			m1=$(metric chainfix_backend_resumed_total)
			h1=$(metric chainfix_handshakes_total)
			add cfx_hs "$t" $((h1 - h0))
			add cfx_res "$t" $((m1 - m0))
		fi
	done
	# 2. keep-alive requests per second
	for t in $RUN; do
		say "bench: round $round: keep-alive: $t"
		c0=$(cpu "${TPIDS[$t]}")
		"$TLSLOAD" -p "${TPORTS[$t]}" -m ka -c "$KA_CONC" -d "$KA_SECS" \
		    -j "$LOAD_PROCS" >"$T/$t-ka$round.out" 2>"$T/$t-ka$round.err" || true
		c1=$(cpu "${TPIDS[$t]}")
		ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$T/$t-ka$round.out")
		rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$T/$t-ka$round.out")
		if [ -n "$rate" ]; then
			best ka "$t" "$rate"
			runs ka_runs "$t" "$(fmt "$rate" %.0f)"
		fi
		add ka_err "$t" "$(sed -n 's/.* err=\([0-9]*\).*/\1/p' "$T/$t-ka$round.out")"
		add ka_ok "$t" "${ok:-0}"
		add ka_cpu "$t" $((c1 - c0))
	done
	# 3. bulk download
	for t in $RUN; do
		say "bench: round $round: bulk: $t"
		c0=$(cpu "${TPIDS[$t]}")
		b=$(curl -s --cacert "$P/root.pem" \
		    --resolve "localhost:${TPORTS[$t]}:127.0.0.1" -o /dev/null \
		    -w '%{http_code} %{size_download} %{speed_download}' \
		    "https://localhost:${TPORTS[$t]}/bulk" 2>/dev/null || true)
		c1=$(cpu "${TPIDS[$t]}")
		if [ "${b%% *}" = 200 ] &&
		    [ "$(echo "$b" | cut -d' ' -f2)" = $((BULK_MB * 1048576)) ]; then
			mibs=$(awk -v s="${b##* }" 'BEGIN {printf "%.1f", s / 1048576}')
			best bulk "$t" "$mibs"
			runs bulk_runs "$t" "$(fmt "$mibs" %.0f)"
			add bulk_cpu "$t" $((c1 - c0))
			add bulk_mb "$t" "$BULK_MB"
		else
			R[bulk_err,$t]="failed ($b)"
		fi
	done
done
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (load average after the run)"

# Derived figures.
for t in $RUN; do
	if [ "${R[conn_ok,$t]:-0}" -gt 0 ]; then
		R[cpu,$t]=$(awk -v c="${R[conn_cpu,$t]}" -v hz="$HZ" -v k="${R[conn_ok,$t]}" 'BEGIN {printf "%.3f", c * 1000 / hz / k}')
	fi
	if [ "${R[ka_ok,$t]:-0}" -gt 0 ]; then
		R[kacpu,$t]=$(awk -v c="${R[ka_cpu,$t]}" -v hz="$HZ" -v k="${R[ka_ok,$t]}" 'BEGIN {printf "%.1f", c * 1e6 / hz / k}')
	fi
	if [ "${R[bulk_mb,$t]:-0}" -gt 0 ]; then
		R[bulkcpu,$t]=$(awk -v c="${R[bulk_cpu,$t]}" -v hz="$HZ" -v k="${R[bulk_mb,$t]}" 'BEGIN {printf "%.2f", c * 1000 / hz / k}')
	fi
	if [ "${R[bk_req,$t]:-0}" -gt 0 ]; then
		R[resumed,$t]=$(awk -v r="${R[bk_res,$t]}" -v n="${R[bk_req,$t]}" 'BEGIN {printf "%.0f%%", 100 * r / n}')
	fi
	if [ "$t" = chainfix ] && [ -n "${R[cfx_hs,$t]:-}" ]; then
		R[cfx_metrics,$t]="chainfix /metrics during the new-connection tests: ${R[cfx_hs,$t]} client handshakes, ${R[cfx_res,$t]} backend handshakes resumed"
	fi
done

# --- table -----------------------------------------------------------------
# cell KEY TARGET FORMAT [lower]: value and its ratio to chainfix.
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
	printf '%-30s' "$label"
	for t in $TARGETS; do
		cell "$k" "$t" "$f"
	done
	echo
}

rowraw() {
	local label=$1 k=$2 t
	printf '%-30s' "$label"
	for t in $TARGETS; do
		printf '%-20s' "${R[$k,$t]:--}"
	done
	echo
}

echo
printf '%-30s' ""
for t in $TARGETS; do printf '%-20s' "$t"; done
echo
row "new TLS conn/s (full hs)" conn "%.0f"
rowraw "  each round" conn_runs
rowraw "  errors" conn_err
row "  proxy CPU ms per conn" cpu "%.3f"
rowraw "  backend TLS resumed" resumed
row "keep-alive req/s" ka "%.0f"
rowraw "  each round" ka_runs
rowraw "  errors" ka_err
row "  proxy CPU us per req" kacpu "%.1f"
row "bulk MiB/s (${BULK_MB} MiB)" bulk "%.0f"
rowraw "  each round" bulk_runs
row "  proxy CPU ms per MiB" bulkcpu "%.2f"
row "idle KiB/conn (RSS)" rss "%.1f"
row "idle KiB/conn (PSS)" pss "%.1f"
rowraw "  idle conns held" idle_ok
rowraw "  RSS KiB before->after" rss_abs
echo
echo "(xN.NN) = that column divided by chainfix's figure.  Higher is better"
echo "for rates and MiB/s, lower for CPU and KiB.  Rates are the best of the"
echo "rounds.  'direct' is the backend (nginx) itself: its CPU and memory"
echo "figures are nginx terminating TLS.  'proxy CPU' is user+system time of"
echo "the proxy's processes only (not the backend's or the client's)."
for t in $TARGETS; do
	if [ -n "${R[status,$t]:-}" ]; then echo "NOTE: $t: ${R[status,$t]}"; fi
	if [ -n "${R[bulk_err,$t]:-}" ]; then echo "NOTE: $t: bulk ${R[bulk_err,$t]}"; fi
	if [ -n "${R[cfx_metrics,$t]:-}" ]; then echo "NOTE: ${R[cfx_metrics,$t]}"; fi
done
exit 0
