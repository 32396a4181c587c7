#!/bin/bash
# chainfix check on leaf problems: expired, not yet valid (critical), and a
# SHA-1 signature (int2 is an EC CA: ecdsa-with-SHA1) on an RSA-1024 key
# (warnings).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"

# `openssl ca` signs with int2 and explicit dates.
mkdir -p "$T/ca"
: >"$T/ca/index.txt"
echo 2000 >"$T/ca/serial"
cat >"$T/ca/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
database = $T/ca/index.txt
serial = $T/ca/serial
new_certs_dir = $T/ca
policy = p
unique_subject = no
[p]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
# leaf_cert OUT KEY MD START END
leaf_cert() {
	openssl req -new -key "$2" -subj "/CN=localhost" -out "$T/ca/$1.csr" \
	    >>"$T/ca.log" 2>&1 || fail "openssl req"
	openssl ca -batch -config "$T/ca/ca.cnf" -cert "$P/int2.pem" \
	    -keyfile "$P/int2.key" -in "$T/ca/$1.csr" -notext -md "$3" \
	    -startdate "$4" -enddate "$5" -extensions ext -out "$T/$1.pem" \
	    >>"$T/ca.log" 2>&1 || fail "openssl ca ($1)"
}
# serve_weak NAME CERT KEY: s_server at security level 0, which a weak
# certificate needs to be served at all.
serve_weak() {
	s_server "$1" 127.0.0.1 -www -cert "$2" -key "$3" \
	    -cert_chain "$T/chain.pem" -cipher 'DEFAULT:@SECLEVEL=0' \
	    -naccept 100000
	PORT=$BG_PORT
}

leaf_cert expired "$P/leaf.key" sha256 20200101000000Z 20210101000000Z
check_serve expired "$T/expired.pem" "$P/leaf.key" "$T/chain.pem"
run_check expired "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "expired leaf"
jcheck "$T/expired.out" 'codes == ["leaf_expired"] and "2021-01-01" in probs["leaf_expired"]["message"]' "leaf_expired with its date"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

leaf_cert future "$P/leaf.key" sha256 20990101000000Z 21000101000000Z
check_serve future "$T/future.pem" "$P/leaf.key" "$T/chain.pem"
run_check future "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "leaf not yet valid"
jcheck "$T/future.out" 'codes[0] == "leaf_not_yet_valid" and "2099-01-01" in probs["leaf_not_yet_valid"]["message"]' "leaf_not_yet_valid with its date"
jcheck "$T/future.out" '"leaf_expired" not in codes and "incomplete" not in codes' "nothing else critical"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

# A leaf that outlives its issuers (CAs are supposed to cap it).
leaf_cert long "$P/leaf.key" sha256 "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" "$(date -u -d '+800 days' +%Y%m%d%H%M%SZ)"
check_serve long "$T/long.pem" "$P/leaf.key" "$T/chain.pem"
run_check long "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "issuers expiring before the leaf"
jcheck "$T/long.out" 'codes == ["intermediate_expires_before_leaf"] * 3' "int2, int1 and the root each named"
jcheck "$T/long.out" 'all("before the leaf" in p["message"] for p in j["problems"]) and "root" in j["problems"][2]["message"]' "messages"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

openssl genrsa -out "$T/weak.key" 1024 >>"$T/ca.log" 2>&1 || fail "openssl genrsa"
leaf_cert weak "$T/weak.key" sha1 "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" "$(date -u -d '+200 days' +%Y%m%d%H%M%SZ)"
serve_weak weak "$T/weak.pem" "$T/weak.key"
run_check weak "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "SHA-1 and RSA-1024 are warnings"
jcheck "$T/weak.out" 'sorted(codes) == ["weak_key", "weak_signature"]' "weak_signature and weak_key"
jcheck "$T/weak.out" '"ecdsa-with-SHA1" in probs["weak_signature"]["message"] and "RSA 1024 bits" in probs["weak_key"]["message"]' "named"
jcheck "$T/weak.out" 'j["chain"]["sent"][0]["key_bits"] == 1024 and j["chain"]["sent"][0]["signature_algorithm"] == "ecdsa-with-SHA1"' "per-certificate details"
pass
