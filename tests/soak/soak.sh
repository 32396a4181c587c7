#!/usr/bin/env bash
# tests/soak/soak.sh: a long run, not part of CI (it takes ~12 minutes and
# ~1 GiB of memory across its processes).
#
#   bash tests/soak/soak.sh [BUILD_DIR]        (as root: it raises ulimit -n)
#
# IDLE (10000) TLS connections through chainfix held idle for DURATION
# (600) seconds while a steady trickle of new connections (one full request
# every TRICKLE_MS, 200 ms) comes and goes; every INTERVAL (30) seconds one
# line with chainfix's RSS, open descriptors and counted connections.  Then
# the idle clients leave, and RSS and descriptors must come back to their
# baseline (taken after a warm-up, before the load): descriptors exactly,
# RSS within RSS_SLACK_KB (8192) -- freed memory that glibc keeps in its
# arenas for the next sessions is not a leak, growth beyond that is -- plus
# what the TLS 1.2 session cache has filled (/metrics
# chainfix_tls_session_cache_bytes: live sessions, kept an hour, at most
# 20,000 of them).
# TLS12 (0) more idle clients speak TLS 1.2 with session ids (each leaves a
# session in chainfix's cache); ROUNDS (1) > 1 brings the idle clients
# back that many times in all (without the trickle, for INTERVAL seconds
# each) and reports RSS after each round: what stays after the first must
# be reused by the next, not grow.
# Peers: nginx as the TLS backend (keep-alive, one request per connection),
# bench/tlsload.c for the idle clients (TLS 1.3), tests/soak/tls12idle.py
# for the TLS 1.2 ones, curl for the trickle.
# Figures: tests/soak/README.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
CHAINFIX=${CHAINFIX:-$BUILD/chainfix}
MKPKI=${MKPKI:-$BUILD/tests/chainfix-mkpki}
IDLE=${IDLE:-10000}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-30}
TRICKLE_MS=${TRICKLE_MS:-200}
TLS12=${TLS12:-0}
ROUNDS=${ROUNDS:-1}
RSS_SLACK_KB=${RSS_SLACK_KB:-8192}
NOFILE=${NOFILE:-65536}	# wanted; the hard limit may allow less

die() { echo "soak: $*" >&2; exit 1; }
for c in nginx curl cc openssl python3; do
	command -v "$c" >/dev/null || die "$c is needed"
done
[ -x "$CHAINFIX" ] || die "no chainfix binary at $CHAINFIX (build first)"
# Each proxied connection costs chainfix two descriptors: raise the limit
# as far as allowed, and hold only as many idle connections as fit beside
# the trickle (max_connections auto is (limit - 128) / 2).
ulimit -Hn "$NOFILE" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
FIT=$(( (NOFILE - 128) / 2 - 64 - TLS12 ))
if [ "$IDLE" -gt "$FIT" ]; then
	echo "soak: the open files limit is $NOFILE (raising it needs CAP_SYS_RESOURCE):"
	echo "soak: $((IDLE + TLS12)) proxied connections need $(((IDLE + TLS12) * 2 + 128)); holding $((FIT + TLS12)) instead"
	IDLE=$FIT
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/chainfix-soak.XXXXXX")
PIDS=""
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	echo "soak: logs in $T"
}
trap cleanup EXIT
bgrun() {	# NAME CMD...: in the background, output in $T/NAME.log
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	LAST=$!
}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() {	# SECONDS CMD...: until CMD succeeds
	local secs=$1 i=0
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$i" -lt $((secs * 10)) ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}

cc -O2 -o "$T/tlsload" "$ROOT/bench/tlsload.c" -lssl -lcrypto || die "cannot build tlsload"
"$MKPKI" "$T/pki" >/dev/null || die "mkpki failed"
P=$T/pki
BPORT=$(free_port)
PPORT=$(free_port)
APORT=$(free_port)
mkdir -p "$T/nginx-tmp"
cat >"$T/nginx.conf" <<EOF
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $((IDLE + 5000)); }
http {
	client_body_temp_path $T/nginx-tmp/body;
	proxy_temp_path $T/nginx-tmp/proxy;
	fastcgi_temp_path $T/nginx-tmp/fastcgi;
	uwsgi_temp_path $T/nginx-tmp/uwsgi;
	scgi_temp_path $T/nginx-tmp/scgi;
	access_log off;
	keepalive_timeout $((DURATION + 600))s;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$BPORT ssl;
		ssl_certificate $P/leaf-full.pem;
		ssl_certificate_key $P/leaf.key;
		location = / { return 200 "ok\\n"; }
	}
}
EOF
bgrun nginx nginx -p "$T" -c "$T/nginx.conf" -g 'daemon off;'
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" || die "nginx did not start"

cat >"$T/chainfix.conf" <<EOF
[global]
allow_root = yes
log_level = warning
admin_listen = 127.0.0.1:$APORT

[soak]
listen = 127.0.0.1:$PPORT
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
idle_timeout = $((DURATION + 600))
EOF
bgrun chainfix "$CHAINFIX" -c "$T/chainfix.conf"
CFX=$LAST
wait_for 20 curl -fsS "http://127.0.0.1:$APORT/healthz" || die "chainfix did not start (see $T/chainfix.log)"

request() {
	curl -fsS --max-time 20 --cacert "$P/root.pem" \
	    --resolve "localhost:$PPORT:127.0.0.1" "https://localhost:$PPORT/"
}
rss() { awk '/^VmRSS/ {print $2}' "/proc/$CFX/status"; }
fds() { ls "/proc/$CFX/fd" | wc -l; }
metric() {	# NAME: its value on /metrics
	curl -fsS "http://127.0.0.1:$APORT/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
open_conns() { metric chainfix_connections_open; }
cache_kb() { echo $(( $(metric chainfix_tls_session_cache_bytes) / 1024 )); }
report() {	# LABEL
	printf '%-10s %7ss  rss %8s KB  fds %6s  open %6s  session cache %5s KB  trickle ok %s fail %s\n' \
	    "$1" "$SECONDS" "$(rss)" "$(fds)" "$(open_conns)" "$(cache_kb)" \
	    "$(grep -c '^ok' "$T/trickle.log" 2>/dev/null || true)" \
	    "$(grep -vc '^ok' "$T/trickle.log" 2>/dev/null || true)"
}

# Warm up (the first sessions allocate what every later one reuses).
for _ in $(seq 1 50); do request >/dev/null || die "warm-up request failed"; done
sleep 2
BASE_RSS=$(rss)
BASE_CACHE=$(cache_kb)
BASE_FDS=$(fds)
SECONDS=0
echo "soak: chainfix $("$CHAINFIX" --version 2>&1 | head -n 1), $IDLE idle connections (TLS 1.3) and $TLS12 (TLS 1.2), ${DURATION}s, a request every ${TRICKLE_MS}ms"
: >"$T/trickle.log"
report baseline

idle_up() {	# HOLD: the idle clients, connected, held up to HOLD seconds
	IDLE_PIDS=""
	bgrun idle "$T/tlsload" -m idle -a 127.0.0.1 -p "$PPORT" -s localhost \
	    -C "$P/root.pem" -c "$IDLE" -H "$1"
	IDLE_PIDS=$LAST
	wait_for 600 grep -q '^ready' "$T/idle.log" ||
	    die "the idle clients did not all connect (see $T/idle.log)"
	echo "soak: TLS 1.3: $(grep '^ready' "$T/idle.log") after ${SECONDS}s"
	if [ "$TLS12" -gt 0 ]; then
		bgrun idle12 python3 "$ROOT/tests/soak/tls12idle.py" "$PPORT" \
		    "$P/root.pem" "$TLS12" "$1"
		IDLE_PIDS="$IDLE_PIDS $LAST"
		wait_for 600 grep -q '^ready' "$T/idle12.log" ||
		    die "the TLS 1.2 clients did not all connect (see $T/idle12.log)"
		echo "soak: TLS 1.2: $(grep '^ready' "$T/idle12.log") after ${SECONDS}s"
	fi
}
idle_down() {	# the idle clients leave; back to the baseline's descriptors
	local p i=0
	for p in $IDLE_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $IDLE_PIDS; do
		wait "$p" 2>/dev/null || true
		PIDS=$(echo " $PIDS " | sed "s/ $p / /")
	done
	echo "soak: idle clients: $(cat "$T/idle.log" "$T/idle12.log" 2>/dev/null |
	    grep '^closed' | tr '\n' ' ')"
	until [ "$(fds)" -le "$BASE_FDS" ] && [ "$(open_conns)" = 0 ]; do
		[ "$i" -lt 120 ] || break
		sleep 1
		i=$((i + 1))
	done
	# chainfix returns freed memory on its 10 s status tick.
	sleep 15
}

idle_up $((DURATION + 300))
report loaded

( end=$((SECONDS + DURATION))
  while [ "$SECONDS" -lt "$end" ]; do
	if request >/dev/null 2>>"$T/trickle.err"; then echo ok; else echo fail; fi
	sleep "$(awk -v ms="$TRICKLE_MS" 'BEGIN {print ms / 1000}')"
  done >>"$T/trickle.log" ) &
TRICKLE=$!
PIDS="$PIDS $TRICKLE"
next=$((SECONDS + INTERVAL))
while kill -0 "$TRICKLE" 2>/dev/null; do
	if [ "$SECONDS" -ge "$next" ]; then
		report running
		next=$((next + INTERVAL))
	fi
	sleep 1
done
report end-load

idle_down
report after
# The same crowd again: what stayed is reused, not added to.
round=2
while [ "$round" -le "$ROUNDS" ]; do
	idle_up $((INTERVAL + 300))
	report "loaded-$round"
	sleep "$INTERVAL"
	idle_down
	report "after-$round"
	round=$((round + 1))
done
# Back to the baseline: descriptors exactly, RSS within the slack.
fails=$(grep -vc '^ok' "$T/trickle.log" || true)
rc=0
[ "$(fds)" -eq "$BASE_FDS" ] || { echo "soak: FAIL: $(fds) descriptors, baseline $BASE_FDS"; rc=1; }
CACHE=$(( $(cache_kb) - BASE_CACHE ))
[ "$(rss)" -le $((BASE_RSS + RSS_SLACK_KB + CACHE)) ] ||
    { echo "soak: FAIL: RSS $(rss) KB, baseline $BASE_RSS KB (+$RSS_SLACK_KB allowed, +$CACHE KB session cache)"; rc=1; }
[ "$fails" = 0 ] || { echo "soak: FAIL: $fails trickle requests failed (see $T/trickle.err)"; rc=1; }
kill -0 "$CFX" || { echo "soak: FAIL: chainfix died"; rc=1; }
[ "$rc" = 0 ] && echo "soak: PASS: descriptors and RSS back to baseline, every trickle request served"
exit "$rc"
