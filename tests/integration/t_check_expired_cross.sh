#!/bin/bash
# chainfix check against a server whose chain reaches a trusted root only
# through an expired cross-sign (the Let's Encrypt / DST Root CA X3 case).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki

# int1's name and key, signed by the old root, expired: made with `openssl
# ca`, the CLI tool that takes explicit dates.
mkdir -p "$T/ca" "$T/dir"
: >"$T/ca/index.txt"
echo 1000 >"$T/ca/serial"
cat >"$T/ca/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
database = $T/ca/index.txt
serial = $T/ca/serial
new_certs_dir = $T/ca
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl req -new -key "$P/int1.key" -subj "/CN=chainfix test int1" \
    -out "$T/ca/int1.csr" >"$T/ca.log" 2>&1 || fail "openssl req"
openssl ca -batch -config "$T/ca/ca.cnf" -cert "$P/root-old.pem" \
    -keyfile "$P/root-old.key" -in "$T/ca/int1.csr" -notext \
    -startdate 20200101000000Z -enddate 20210101000000Z -extensions ext \
    -out "$T/int1-cross-expired.pem" >>"$T/ca.log" 2>&1 || fail "openssl ca"

check_cat "$T/chain.pem" "$P/int2.pem" "$T/int1-cross-expired.pem"
check_cat "$T/roots.pem" "$P/root-old.pem" "$P/root.pem"
cp "$P/int1.pem" "$T/dir/"
check_serve server "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$T/roots.pem" --json --intermediates "$T/dir"
expect_rc 2 "only an expired cross-sign leads to a root"
jcheck "$T/json.out" 'codes == ["expired_cross_sign"] and probs["expired_cross_sign"]["severity"] == "critical"' "expired_cross_sign"
jcheck "$T/json.out" '"CN=chainfix test old root" in probs["expired_cross_sign"]["message"] and "2021-01-01" in probs["expired_cross_sign"]["message"]' "the cross-sign and its date named"
jcheck "$T/json.out" 'j["chain"]["path"][-1]["subject"] == "CN=chainfix test old root"' "path through the old root"
jcheck "$T/json.out" 'j["fix"]["complete"] and j["fix"]["trusted"] and j["fix"]["count"] == 3' "the directory fixes it"
json_field "$T/json.out" 'j["fix"]["bundle"]' >"$T/bundle.pem"
openssl verify -CAfile "$P/root.pem" -untrusted "$T/bundle.pem" "$P/leaf.pem" >"$T/verify.log" 2>&1 ||
    fail "the suggested bundle does not verify: $(cat "$T/verify.log")"
ok "the suggested bundle verifies against the current root"

# Without the valid twin known, it is an expired intermediate.
run_check plain "localhost:$PORT" --roots "$T/roots.pem" --json
expect_rc 2 "critical without --intermediates"
jcheck "$T/plain.out" 'codes == ["intermediate_expired"]' "intermediate_expired"

# A client holding int1 itself as an anchor (as modern stores hold ISRG
# Root X1) never needs the cross-sign: it is dead weight, a warning.
check_cat "$T/modern.pem" "$P/root.pem" "$P/int1.pem"
run_check modern "localhost:$PORT" --roots "$T/modern.pem" --json
expect_rc 1 "unneeded expired cross-sign"
jcheck "$T/modern.out" 'codes == ["extra_certificates"] and "expired on 2021-01-01" in probs["extra_certificates"]["message"] and j["chain"]["verified"]' "named as extra, chain verifies"
pass
