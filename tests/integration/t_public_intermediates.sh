#!/bin/bash
# Public intermediates: a leaf-only certificate and no intermediates
# directory at all.  With a corpus of the test's own (public_intermediates =
# FILE) bundle, configtest and the daemon complete the chain and say which
# certificates came from it; without the corpus the chain is incomplete.
# Then the shipped corpus on real public certificates: a public
# intermediate stands in for the leaf (no test can hold a real leaf of a
# public CA: that needs the CA's key), and its issuer comes from the corpus,
# ending at a root of the shipped Android 4.4 store.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
DATA=${CHAINFIX_DATADIR:-$CHAINFIX_TEST_ROOT/../data}

# The test's own corpus: an expired twin first, the intermediates, a root.
cat "$P/int1-expired.pem" "$P/int2.pem" "$P/int1.pem" "$P/root-old.pem" >"$T/corpus.pem"

# bundle: no --intermediates, the leaf alone.
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" --roots "$P/root.pem" \
    --public-intermediates "$T/corpus.pem" >"$T/bundle.pem" 2>"$T/bundle.log" ||
    fail "bundle with the corpus failed: $(cat "$T/bundle.log")"
strict_verify "$P/root.pem" "$T/bundle.pem" "$P/leaf.pem" ||
    fail "the bundle does not verify against the root alone"
[ "$(pem_subjects "$T/bundle.pem" | tr '\n' '|')" = "localhost|chainfix test int2|chainfix test int1|" ] ||
    fail "bundle is $(pem_subjects "$T/bundle.pem" | tr '\n' '|')"
grep -q "chain: 1 CN=chainfix test int2 .*corpus.pem  (public intermediate)" "$T/bundle.log" ||
    fail "bundle does not mark the public intermediate: $(cat "$T/bundle.log")"
grep -q '"CN=chainfix test int1" is a public intermediate' "$T/bundle.log" ||
    fail "bundle does not say where int1 came from"
ok "bundle: leaf alone + the corpus = a chain a strict client accepts"
grep -q "^reach: Android 4.4: no" "$T/bundle.log" || fail "no reach lines: $(cat "$T/bundle.log")"
if grep -q "verifies on none of Android" "$T/bundle.log"; then
	fail "an Android warning for a chain to a root of our own"
fi
ok "reach shown; no Android warning for a private root"

if "$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" --roots "$P/root.pem" \
    --public-intermediates no >/dev/null 2>"$T/no.log"; then
	fail "bundle completed the chain without the corpus"
fi
grep -q 'no issuer "CN=chainfix test int2"' "$T/no.log" || fail "no: $(cat "$T/no.log")"
# The shipped corpus does not hold the test PKI: said so.
if "$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" --roots "$P/root.pem" \
    >/dev/null 2>"$T/shipped.log"; then
	fail "the shipped corpus completed a test chain"
fi
grep -q "not among the 1238 public intermediates either" "$T/shipped.log" ||
    fail "shipped: $(cat "$T/shipped.log")"
ok "without the corpus, or with one that lacks the issuer: incomplete, said so"

# configtest and the daemon: public_intermediates = FILE, no directory.
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
global_conf "$T/chainfix.conf"
SITE_INTERMEDIATES=none site_conf "$T/chainfix.conf" web 0 "$BG_PORT"
echo "public_intermediates = $T/corpus.pem" >>"$T/chainfix.conf"
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/configtest.out" 2>&1 ||
    fail "configtest failed: $(cat "$T/configtest.out")"
grep -q "1 CN=chainfix test int2 .*(public intermediate)" "$T/configtest.out" ||
    fail "configtest does not mark the public intermediate: $(cat "$T/configtest.out")"
grep -q "configuration OK" "$T/configtest.out" || fail "configtest not OK"
ok "configtest: the chain, the public intermediates marked"
chainfix_start chainfix "$T/chainfix.conf"
grep -q '"CN=chainfix test int2" is a public intermediate' "$T/chainfix.log" ||
    fail "the startup log does not say where int2 came from"
openssl s_client -connect "127.0.0.1:$(cfx_port web)" -servername localhost \
    -verify_return_error -verify_hostname localhost -CAfile "$P/root.pem" \
    -no-CApath -no-CAstore </dev/null >"$T/s_client.log" 2>&1 ||
    fail "strict client failed: $(tail -5 "$T/s_client.log")"
grep -q "Verify return code: 0 (ok)" "$T/s_client.log" || fail "not verified"
ok "the daemon serves the full chain to a strict client; its log names the corpus"
chainfix_stop_clean

# The shipped corpus, real certificates: Amazon's "Server CA 1B" (issued by
# Amazon Root CA 1, which the corpus has cross-signed by Starfield's root).
openssl crl2pkcs7 -nocrl -certfile "$DATA/int-bundle.crt" |
    openssl pkcs7 -print_certs >"$T/corpus.txt"
awk '/^subject=.*OU = Server CA 1B, CN = Amazon$/ { on = 1 }
    on { print } on && /END CERTIFICATE/ { exit }' "$T/corpus.txt" |
    sed -n '/BEGIN/,/END/p' >"$T/amazon-1b.pem"
[ "$(pem_count "$T/amazon-1b.pem")" = 1 ] || skip "no Amazon Server CA 1B in $DATA/int-bundle.crt"
openssl x509 -checkend 0 -noout -in "$T/amazon-1b.pem" >/dev/null ||
    skip "Amazon Server CA 1B has expired: pick another certificate"
KITKAT=$DATA/trusted_roots/kitkat.pem
"$CHAINFIX" bundle --cert "$T/amazon-1b.pem" --roots "$KITKAT" \
    >"$T/amazon.bundle" 2>"$T/amazon.log" ||
    fail "bundle of a real public intermediate failed: $(cat "$T/amazon.log")"
grep -q "chain: 1 .*int-bundle.crt  (public intermediate)" "$T/amazon.log" ||
    fail "the issuer did not come from the shipped corpus: $(cat "$T/amazon.log")"
openssl verify -CAfile "$KITKAT" -untrusted "$T/amazon.bundle" "$T/amazon-1b.pem" \
    >"$T/verify.log" 2>&1 || fail "the real chain does not verify: $(cat "$T/verify.log")"
grep -q "reach: Android 4.4: yes" "$T/amazon.log" || fail "reach: $(grep reach "$T/amazon.log")"
ok "shipped corpus: a real public intermediate gets its issuer, verified against the Android 4.4 roots"
if "$CHAINFIX" bundle --cert "$T/amazon-1b.pem" --roots "$KITKAT" \
    --public-intermediates no >/dev/null 2>&1; then
	fail "the real chain completed without the corpus"
fi
ok "shipped corpus: without it, the same chain is incomplete"

# Where the system store trusts Amazon Root CA 1 itself, the chain ends
# there and no old Android verifies it; legacy_roots = android finds the
# cross-sign by Starfield in the corpus: the chain those devices verify.
"$CHAINFIX" bundle --cert "$T/amazon-1b.pem" --roots system --legacy-roots android \
    --legacy-out "$T/amazon-legacy.pem" >"$T/amazon-system.pem" 2>"$T/legacy.log" ||
    fail "bundle --legacy-roots android failed: $(cat "$T/legacy.log")"
if [ "$(pem_count "$T/amazon-system.pem")" != 1 ]; then
	ok "(the system store does not trust Amazon Root CA 1 itself: legacy part not applicable)"
	pass
fi
grep -q "the chain verifies on none of Android 2.2, 2.3, 3.x, 4.0 and 4.4" "$T/legacy.log" ||
    fail "no warning for a chain no Android verifies: $(cat "$T/legacy.log")"
grep -q "legacy: 1 CN=Amazon Root CA 1.*int-bundle.crt  (public intermediate)" "$T/legacy.log" ||
    fail "the legacy chain does not take the cross-sign from the corpus: $(cat "$T/legacy.log")"
openssl verify -CAfile "$DATA/trusted_roots/gingerbread.pem" -untrusted "$T/amazon-legacy.pem" \
    "$T/amazon-1b.pem" >/dev/null 2>&1 || fail "the legacy chain does not verify on Android 2.3's roots"
ok "real certificates: the legacy chain (cross-sign from the corpus) verifies on Android 2.3's roots"
pass
