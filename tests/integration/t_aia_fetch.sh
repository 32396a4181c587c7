#!/bin/bash
# AIA fetching: a leaf whose caIssuers URL points at a local HTTP server
# (python3 -m http.server on a port it picks itself), whose intermediate
# points at its own issuer there too (DER, then PKCS#7).  bundle --fetch
# completes the chain two levels up and keeps what it fetched in the cache;
# an ldap: URL is reported and skipped; without --fetch the message says how
# to fix it.  The daemon with aia_fetch = yes serves the full chain to a
# strict client.  With the server gone, the cache alone does.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
mkdir "$T/www"
bg www /usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$T/www"
WWW_PID=$BG_PID
bg_port www "Serving HTTP on 127.0.0.1 port "
WPORT=$BG_PORT
URL=http://127.0.0.1:$WPORT

# int2b: int2's key, issued by int1, naming int1's URL; the leaf under it
# names an ldap: URL first, then int2b's.
cat >"$T/ca.ext" <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = caIssuers;URI:$URL/int1.p7c
EOF
cat >"$T/leaf.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = caIssuers;URI:ldap://ldap.invalid/cn=int2?cACertificate, caIssuers;URI:$URL/int2.der
EOF
openssl req -new -key "$P/int2.key" -subj "/CN=chainfix test int2" -out "$T/int2.csr" 2>/dev/null
openssl x509 -req -in "$T/int2.csr" -CA "$P/int1.pem" -CAkey "$P/int1.key" \
    -CAcreateserial -CAserial "$T/serial" -days 30 -extfile "$T/ca.ext" \
    -out "$T/int2b.pem" 2>/dev/null || fail "cannot make int2b"
openssl req -new -key "$P/leaf.key" -subj "/CN=localhost" -out "$T/leaf.csr" 2>/dev/null
openssl x509 -req -in "$T/leaf.csr" -CA "$T/int2b.pem" -CAkey "$P/int2.key" \
    -CAserial "$T/serial" -days 30 -extfile "$T/leaf.ext" \
    -out "$T/leaf.pem" 2>/dev/null || fail "cannot make the leaf"
openssl x509 -in "$T/int2b.pem" -outform DER -out "$T/www/int2.der"
openssl crl2pkcs7 -nocrl -certfile "$P/int1.pem" -outform DER -out "$T/www/int1.p7c"

# Without --fetch: incomplete, the URL and the fix named.
if "$CHAINFIX" bundle --cert "$T/leaf.pem" --key "$P/leaf.key" --roots "$P/root.pem" \
    --public-intermediates no >/dev/null 2>"$T/nofetch.log"; then
	fail "the chain completed without fetching"
fi
grep -q "$URL/int2.der (aia_fetch = yes would fetch it)" "$T/nofetch.log" ||
    fail "no fetch hint: $(cat "$T/nofetch.log")"
ok "without --fetch: incomplete, the caIssuers URL and aia_fetch named"

"$CHAINFIX" bundle --cert "$T/leaf.pem" --key "$P/leaf.key" --roots "$P/root.pem" \
    --public-intermediates no --fetch --aia-cache "$T/cache" \
    >"$T/fetched.pem" 2>"$T/fetch.log" || fail "bundle --fetch failed: $(cat "$T/fetch.log")"
strict_verify "$P/root.pem" "$T/fetched.pem" "$T/leaf.pem" ||
    fail "the fetched chain does not verify against the root alone"
grep -q "caIssuers ldap://ldap.invalid/cn=int2?cACertificate skipped" "$T/fetch.log" ||
    fail "the ldap: URL was not reported: $(cat "$T/fetch.log")"
grep -q "chain: 1 CN=chainfix test int2 .*$URL/int2.der  (fetched from caIssuers)" "$T/fetch.log" ||
    fail "int2 not marked as fetched: $(cat "$T/fetch.log")"
grep -q "chain: 2 CN=chainfix test int1 .*$URL/int1.p7c  (fetched from caIssuers)" "$T/fetch.log" ||
    fail "int1 not marked as fetched: $(cat "$T/fetch.log")"
[ "$(find "$T/cache" -name '*.pem' | wc -l)" = 2 ] || fail "the cache holds $(ls "$T/cache")"
ok "bundle --fetch: two levels fetched (DER, PKCS#7), ldap: skipped, both kept in the cache"

# The daemon: aia_fetch = yes, a cache of its own.
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
global_conf "$T/chainfix.conf"
SITE_CERT=$T/leaf.pem SITE_INTERMEDIATES=none site_conf "$T/chainfix.conf" \
    web 0 "$BG_PORT"
printf 'public_intermediates = no\naia_fetch = yes\naia_cache = %s\n' \
    "$T/cache2" >>"$T/chainfix.conf"
chainfix_start chainfix "$T/chainfix.conf"
grep -q '"CN=chainfix test int1" was fetched from its caIssuers URL' "$T/chainfix.log" ||
    fail "the startup log does not say what was fetched"
openssl s_client -connect "127.0.0.1:$(cfx_port web)" -servername localhost \
    -verify_return_error -verify_hostname localhost -CAfile "$P/root.pem" \
    -no-CApath -no-CAstore </dev/null >"$T/s_client.log" 2>&1 ||
    fail "strict client failed: $(tail -5 "$T/s_client.log")"
grep -q "Verify return code: 0 (ok)" "$T/s_client.log" || fail "not verified"
[ "$(find "$T/cache2" -name '*.pem' | wc -l)" = 2 ] || fail "the daemon kept nothing"
ok "daemon: fetched at startup, kept, served to a strict client"
chainfix_stop_clean

# The server goes away: the cache alone completes the chain.
stop "$WWW_PID" || true
"$CHAINFIX" bundle --cert "$T/leaf.pem" --key "$P/leaf.key" --roots "$P/root.pem" \
    --public-intermediates no --aia-cache "$T/cache" >"$T/cached.pem" 2>"$T/cache.log" ||
    fail "bundle from the cache failed: $(cat "$T/cache.log")"
cmp -s "$T/cached.pem" "$T/fetched.pem" || fail "the cached chain differs"
grep -q "(AIA cache)" "$T/cache.log" || fail "not marked as from the cache"
ok "offline: the cache alone completes the same chain"
pass
