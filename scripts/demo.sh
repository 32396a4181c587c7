#!/usr/bin/env bash
# scripts/demo.sh: see chainfix fix a broken chain, on this machine alone.
#
# 1. installs the dependencies and builds chainfix;
# 2. generates a demo PKI: a root, an intermediate, and a server certificate
#    for "localhost" handed over WITHOUT its intermediate (the usual mistake);
# 3. starts a TLS backend (openssl s_server) that serves that leaf alone, and
#    shows a strict client failing against it;
# 4. starts chainfix in front of it, given the same leaf-only certificate and
#    a directory holding the intermediate, and shows the same strict client
#    succeeding through it;
# 5. leaves both running until Ctrl-C, printing the curl line to try.
#
# DEMO_DIR (default /tmp/chainfix-demo) holds the PKI, config and logs.
# DEMO_ONESHOT=1 stops after step 4 (used by the test suite).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
	bash scripts/deps.sh
	cmake -S . -B build >/dev/null
	cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target chainfix
fi
CHAINFIX=${CHAINFIX:-$top/build/chainfix}
D=${DEMO_DIR:-/tmp/chainfix-demo}
rm -rf "$D"
mkdir -p "$D/intermediates"
cd "$D"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: nothing listens on port $1; see $D/*.log" >&2
	exit 1
}

say "Generating a demo PKI in $D"
ca_ext() {
	printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'
}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout root.key -out root.pem -days 365 -subj "/CN=chainfix demo root" \
    -addext basicConstraints=critical,CA:true \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout int.key -out int.csr -subj "/CN=chainfix demo intermediate" 2>/dev/null
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key \
    -CAcreateserial -CAserial root.srl \
    -days 365 -extfile <(ca_ext) -out intermediates/demo-intermediate.pem 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout leaf.key -out leaf.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in leaf.csr -CA intermediates/demo-intermediate.pem \
    -CAkey int.key -CAcreateserial -CAserial int.srl -days 365 -out leaf.pem -extfile <(printf \
    'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nauthorityKeyIdentifier=keyid\n') 2>/dev/null
# chainfix verifies the backend; it trusts the demo root and intermediate.
cat root.pem intermediates/demo-intermediate.pem > backend-ca.pem
echo "root.pem (trusted by the client), leaf.pem + leaf.key (leaf only),"
echo "intermediates/demo-intermediate.pem (what the server forgot to send)"

say "Starting a backend that serves the leaf alone (the broken server)"
bport=$(free_port)
openssl s_server -quiet -www -accept "127.0.0.1:$bport" -cert leaf.pem \
    -key leaf.key >backend.log 2>&1 &
pids+=($!)
wait_port "$bport"
echo "backend: https://localhost:$bport/"

strict() {	# a strict client: trusts the demo root only, no AIA fetching
	curl -sS --max-time 5 --cacert root.pem -o /dev/null -w '%{http_code}' \
	    "https://localhost:$1/"
}
say "A strict client against the backend directly"
if out=$(strict "$bport" 2>&1); then
	echo "unexpected: the strict client accepted the broken server ($out)"
	exit 1
fi
echo "curl: $out"
echo "=> fails: the server sends no intermediate, the client cannot build the chain."

say "Starting chainfix in front of it (same leaf-only certificate)"
port=$(free_port)
cat > chainfix.conf <<CONF
[global]
workers = 2
log_level = info
allow_root = yes

[demo]
listen = 127.0.0.1:$port
cert = $D/leaf.pem
key = $D/leaf.key
intermediates = $D/intermediates
roots = $D/root.pem
backend = localhost:$bport
backend_verify = yes
backend_ca = $D/backend-ca.pem
CONF
"$CHAINFIX" configtest -c chainfix.conf
"$CHAINFIX" -c chainfix.conf >chainfix.log 2>&1 &
pids+=($!)
wait_port "$port"

say "The same strict client through chainfix"
code=$(strict "$port")
echo "curl: HTTP $code"
openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -verify_return_error -verify_hostname localhost -CAfile root.pem \
    </dev/null 2>/dev/null | grep -E '^ *[0-9] s:|Verify return code' |
    awk '{ k = $0; sub(/^ +/, "", k) } !seen[k]++'	# TLS 1.3 tickets repeat it
echo "=> succeeds: chainfix sent leaf + intermediate, built from $D/intermediates."

if [ "${DEMO_ONESHOT:-0}" = 1 ]; then
	exit 0
fi
say "chainfix is running; try it yourself, then press Ctrl-C"
echo "  curl --cacert $D/root.pem https://localhost:$port/"
echo "  openssl s_client -connect 127.0.0.1:$port -servername localhost -CAfile $D/root.pem -verify_return_error </dev/null"
echo "  (logs: $D/chainfix.log)"
wait "${pids[1]}"
