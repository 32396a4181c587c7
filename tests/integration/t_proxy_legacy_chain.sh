#!/bin/bash
# A chain per client: the intermediates directory holds int1 and its
# cross-sign by an older root; with legacy_roots = that old root, clients
# that do not offer TLS 1.3 get the chain to the old root, the others the
# usual one.  Each strict client verifies with its own root alone, and never
# with the other's: the chain is chosen per handshake.  configtest, the
# startup log and /chains show both chains.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

mkdir "$T/intermediates"
cp "$P/int1.pem" "$P/int2.pem" "$P/int1-cross.pem" "$T/intermediates/"
global_conf "$T/chainfix.conf"
printf 'admin_listen = 127.0.0.1:0\n\n' >>"$T/chainfix.conf"
SITE_INTERMEDIATES=$T/intermediates site_conf "$T/chainfix.conf" web 0 "$BPORT"
echo "legacy_roots = $P/root-old.pem" >>"$T/chainfix.conf"

# configtest: both chains, each to its root.
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/configtest.out" 2>&1 ||
    fail "configtest failed: $(cat "$T/configtest.out")"
grep -q "legacy chain (clients without TLS 1.3), to legacy_roots $P/root-old.pem:" \
    "$T/configtest.out" || fail "configtest shows no legacy chain: $(cat "$T/configtest.out")"
grep -q "int1-cross.pem" "$T/configtest.out" || fail "the legacy chain lacks the cross-sign"
grep -q "CN=chainfix test old root .*(root, not sent)" "$T/configtest.out" ||
    fail "the legacy chain does not end at the old root"
ok "configtest shows the preferred and the legacy chain"

chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port web)
ADMIN=$(cfx_admin_port)
grep -q "site web: legacy chain (clients without TLS 1.3)" "$T/chainfix.log" ||
    fail "the startup log shows no legacy chain"
ok "the startup log shows the legacy chain"

# sclient VERSION ROOT: a strict client speaking only VERSION, trusting ROOT.
sclient() {
	openssl s_client -connect "127.0.0.1:$PPORT" -servername localhost "-$1" \
	    -verify_return_error -verify_hostname localhost -CAfile "$2" \
	    -no-CApath -no-CAstore -showcerts </dev/null >"$T/s_client.log" 2>&1
}
sclient tls1_2 "$P/root-old.pem" || fail "TLS 1.2 client trusting the old root: $(tail -5 "$T/s_client.log")"
grep -q "i:CN *= *chainfix test old root" "$T/s_client.log" ||
    fail "TLS 1.2 client did not get the cross-signed int1"
ok "a TLS 1.2 client that trusts only the old root verifies (legacy chain)"
sclient tls1_3 "$P/root.pem" || fail "TLS 1.3 client trusting the root: $(tail -5 "$T/s_client.log")"
grep -q "i:CN *= *chainfix test old root" "$T/s_client.log" &&
    fail "a TLS 1.3 client got the legacy chain"
ok "a TLS 1.3 client that trusts only the root verifies (preferred chain)"
if sclient tls1_3 "$P/root-old.pem"; then
	fail "a TLS 1.3 client verified with the old root: it got the legacy chain"
fi
if sclient tls1_2 "$P/root.pem"; then
	fail "a TLS 1.2 client verified with the new root: it got the preferred chain"
fi
ok "each client gets one chain: the other root does not verify it"

# The same through a real request, the way old Python clients connect.
/usr/bin/python3 - "$PPORT" "$P/root-old.pem" <<'PY' || fail "Python TLS 1.2 with the old root failed"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"WHO\n")
        assert s.recv(100).strip() == b"backend"
PY
ok "Python's ssl, TLS 1.2, old root only: through to the backend"

/usr/bin/python3 - "$ADMIN" <<'PY' || fail "/chains does not show the legacy chain"
import json, sys, urllib.request
d = json.load(urllib.request.urlopen("http://127.0.0.1:%s/chains" % sys.argv[1], timeout=30))
s = d["sites"][0]
assert "old root" not in s["chain"][2]["issuer"], s["chain"]
l = s["legacy"]["chain"]
assert "old root" in l[2]["issuer"] and l[3]["served"] is False, l
PY
ok "/chains shows both chains"
# Old clients counted: the TLS 1.2 handshakes above (s_client twice,
# Python once) got the legacy chain.
/usr/bin/python3 - "$ADMIN" <<'PY' || fail "legacy chain not counted"
import sys, urllib.request
m = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=30).read().decode()
v = [l.split()[1] for l in m.splitlines() if l.startswith("chainfix_legacy_chain_served_total ")]
assert v and int(v[0]) >= 3, v
PY
ok "chainfix_legacy_chain_served_total counts the old clients"
chainfix_stop_clean

# legacy_roots = android: the test PKI is in no Android store.
sed -i "s|^legacy_roots = .*|legacy_roots = android|" "$T/chainfix.conf"
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/android.out" 2>&1 ||
    fail "configtest with legacy_roots = android failed: $(cat "$T/android.out")"
grep -q "no valid chain to legacy_roots (android)" "$T/android.out" ||
    fail "no warning for a chain that reaches no Android store: $(cat "$T/android.out")"
grep -q "legacy chain" "$T/android.out" && fail "a legacy chain without a path"
ok "legacy_roots = android: no path from the test PKI, said so, one chain"
pass
