#!/usr/bin/env bash
# bundle: a leaf-only certificate plus a directory holding the right
# intermediates, an expired twin, a same-name decoy, a cross-sign, a DER file,
# a PKCS#7 file and a non-certificate gives leaf, int2, int1, which a strict
# client accepts with the root alone.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

mkpki "$T/pki"
P=$T/pki

# Proof the check can fail: the leaf alone does not verify.
if strict_verify "$P/root.pem" "$P/leaf.pem" "$P/leaf.pem"; then
	fail "leaf alone verified: the test PKI is wrong"
fi

"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
    --intermediates "$P/intermediates" --roots "$P/root.pem" \
    >"$T/bundle.pem" 2>"$T/bundle.log" || fail "bundle exited $?"
strict_verify "$P/root.pem" "$T/bundle.pem" "$P/leaf.pem" ||
	fail "the bundle does not verify against the root alone"
ok "bundle verifies with -CAfile root.pem only"

got=$(pem_subjects "$T/bundle.pem" | tr '\n' '|')
[ "$got" = "localhost|chainfix test int2|chainfix test int1|" ] ||
	fail "bundle order is '$got'"
ok "leaf first, then each issuer in order, root left out"

# The valid int1 was chosen, not its expired twin, decoy or cross-sign.
openssl crl2pkcs7 -nocrl -certfile "$T/bundle.pem" |
    openssl pkcs7 -print_certs | awk '/BEGIN/,/END/' >"$T/certs.pem"
csplit -s -z -f "$T/c" "$T/certs.pem" '/-----BEGIN CERTIFICATE-----/' '{*}'
[ "$(openssl x509 -in "$T/c02" -noout -fingerprint -sha256)" = \
  "$(openssl x509 -in "$P/int1.pem" -noout -fingerprint -sha256)" ] ||
	fail "int1 in the bundle is not the valid int1"
ok "the valid int1 was chosen over its expired twin, the decoy and the cross-sign"

grep -q "README.txt" "$T/bundle.log" ||
	fail "no warning naming the non-certificate file README.txt"
ok "the non-certificate file was skipped with a warning naming it"

# --send-root appends the root.
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
    --intermediates "$P/intermediates" --roots "$P/root.pem" --send-root \
    >"$T/withroot.pem" 2>/dev/null || fail "bundle --send-root failed"
[ "$(pem_count "$T/withroot.pem")" = 4 ] || fail "--send-root did not add the root"
[ "$(pem_subjects "$T/withroot.pem" | tail -n 1)" = "chainfix test root" ] ||
	fail "--send-root: the root is not last"
ok "--send-root sends the root last"

# --out writes atomically with mode 0644 and the same content.
umask 077
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
    --intermediates "$P/intermediates" --roots "$P/root.pem" \
    --out "$T/out.pem" 2>/dev/null || fail "bundle --out failed"
[ "$(stat -c %a "$T/out.pem")" = 644 ] || fail "--out mode is $(stat -c %a "$T/out.pem")"
cmp -s "$T/out.pem" "$T/bundle.pem" || fail "--out differs from stdout"
[ -z "$(ls "$T" | grep '^out.pem\.')" ] || fail "temporary file left behind"
ok "--out: mode 0644, same bundle, no temporary left"
pass
