#!/bin/bash
# t_names_render: one certificate name is written one way everywhere.  A
# leaf whose subject holds a comma, a backslash and a non-ASCII character
# shows up in bundle, configtest, check (human and JSON), the daemon's log
# (its chain and its backend self-test), /chains and /metrics exactly as
# RFC 2253 renders it (openssl x509 -nameopt RFC2253, certinfo.h's rule):
# "CN=localhost,O=Caf\C3\A9\, R\\D".
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki

# O = "Café, R\D" (UTF-8), CN = localhost.
SUBJ=$(printf '/O=Caf\303\251, R\\\\D/CN=localhost')
openssl req -new -utf8 -key "$P/leaf.key" -subj "$SUBJ" -out "$T/odd.csr" \
    >"$T/openssl.log" 2>&1 || fail "openssl req"
printf 'subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n' \
    >"$T/odd.ext"
openssl x509 -req -in "$T/odd.csr" -CA "$P/int2.pem" -CAkey "$P/int2.key" \
    -CAcreateserial -days 300 -extfile "$T/odd.ext" -out "$T/odd.pem" \
    >>"$T/openssl.log" 2>&1 || fail "openssl x509"
cat "$T/odd.pem" "$P/int2.pem" "$P/int1.pem" >"$T/odd-full.pem"

WANT='CN=localhost,O=Caf\C3\A9\, R\\D'
ref=$(openssl x509 -in "$T/odd.pem" -noout -subject -nameopt RFC2253 |
    sed 's/^subject=//')
[ "$ref" = "$WANT" ] || fail "openssl renders the subject as '$ref', not '$WANT'"
ok "openssl -nameopt RFC2253 renders it as $WANT"

# has FILE WHAT: FILE holds $WANT, byte for byte.
has() {
	grep -Fq -- "$WANT" "$1" || {
		echo "--- $1:"; cat "$1"
		fail "$2: '$WANT' not in $1"
	}
	ok "$2"
}

# bundle
"$CHAINFIX" bundle --cert "$T/odd.pem" --key "$P/leaf.key" \
    --intermediates "$P/intermediates" --roots "$P/root.pem" \
    --out "$T/bundle.pem" 2>"$T/bundle.log" || fail "bundle failed"
grep -Fq -- "chain: 0 $WANT  notAfter" "$T/bundle.log" || {
	cat "$T/bundle.log"; fail "bundle: no 'chain: 0 $WANT' line"
}
ok "bundle"

# check, human and JSON
backend_s_server server "$T/odd.pem" "$P/leaf.key" "$P/int2.pem"
SPORT=$BG_PORT
"$CHAINFIX" check "localhost:$SPORT" --roots "$P/root.pem" \
    >"$T/check.out" 2>"$T/check.log" || true
grep -Fxq -- "     subject:   $WANT" "$T/check.out" || {
	cat "$T/check.out"; fail "check: no 'subject:   $WANT' line"
}
ok "check (human)"
"$CHAINFIX" check "localhost:$SPORT" --roots "$P/root.pem" --json \
    >"$T/check.json" 2>"$T/checkj.log" || true
/usr/bin/python3 - "$T/check.json" "$WANT" <<'PY' || fail "check --json"
import json, sys
j = json.load(open(sys.argv[1]))
got = j["chain"]["sent"][0]["subject"]
assert got == sys.argv[2], got
PY
ok "check (JSON)"

# configtest, and the daemon: its log, /chains and /metrics
py_backend backend --cert "$T/odd-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
printf 'admin_listen = 127.0.0.1:0\n\n' >>"$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<CONF
[odd]
listen = 127.0.0.1:0
cert = $T/odd.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
backend_sni = localhost
CONF
"$CHAINFIX" configtest -c "$T/chainfix.conf" >"$T/configtest.out" \
    2>"$T/configtest.log" || fail "configtest failed: $(cat "$T/configtest.log")"
has "$T/configtest.out" "configtest"

chainfix_start chainfix "$T/chainfix.conf"
ADMIN=$(cfx_admin_port)
has "$T/chainfix.log" "the daemon's chain log"
# The background self-test names the backend's certificate (the same one).
wait_log "$T/chainfix.log" "backend 127\.0\.0\.1:$BPORT: .*same certificate as served"
grep "same certificate as served" "$T/chainfix.log" >"$T/selftest.log"
has "$T/selftest.log" "the daemon's self-test log"

/usr/bin/python3 - "$ADMIN" "$WANT" <<'PY' || fail "/chains or /metrics"
import json, re, sys, urllib.request
port, want = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s" % port
j = json.load(urllib.request.urlopen(base + "/chains", timeout=30))
got = j["sites"][0]["chain"][0]["subject"]
assert got == want, ("/chains", got)
text = urllib.request.urlopen(base + "/metrics", timeout=30).read().decode()
# The exposition format escapes \ and " in label values: undo it.
labels = [re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)
          for v in re.findall(r'^chainfix_certificate_not_after_seconds\{site="odd",depth="0",subject="((?:[^"\\]|\\.)*)"\}',
                              text, re.M)]
assert labels == [want], ("/metrics", labels)
PY
ok "/chains and /metrics"
chainfix_stop_clean
pass
