# shellcheck shell=bash
# tests/lib/expiry_lib.sh: helpers of the expiry watch tests
# (t_expiry_*.sh).  Source it after lib.sh, with the test PKI in $P.

# int1_twin OUT OPENSSL_CA_DATE_OPTIONS...: a certificate with int1's
# subject, key and key identifier, issued by the test root, valid as the
# options say (-days N, or -startdate/-enddate YYYYMMDDHHMMSSZ for exact
# times): an int1 that expires when the test wants, or its renewal.
int1_twin() {
	local out=$1 ca=$T/twin-ca ski
	shift
	if [ ! -d "$ca" ]; then
		mkdir -p "$ca/new"
		: >"$ca/index.txt"
		echo 1000 >"$ca/serial"
		# Copy int1's key identifier: int2's authorityKeyIdentifier
		# must keep naming the twin, however mkpki computed it.
		ski=$(openssl x509 -in "$P/int1.pem" -noout -ext subjectKeyIdentifier |
		    sed -n '2s/^ *//p')
		[ -n "$ski" ] || fail "int1.pem has no subjectKeyIdentifier"
		cat >"$ca/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
dir = $ca
database = $ca/index.txt
new_certs_dir = $ca/new
serial = $ca/serial
certificate = $P/root.pem
private_key = $P/root.key
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
x509_extensions = v3_int
[policy_any]
commonName = supplied
[v3_int]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = $ski
authorityKeyIdentifier = keyid:always
EOF
		openssl req -new -key "$P/int1.key" -subj "/CN=chainfix test int1" \
		    -out "$ca/int1.csr" >>"$T/openssl.log" 2>&1 ||
		    fail "cannot make a request for int1 (see $T/openssl.log)"
	fi
	openssl ca -batch -config "$ca/ca.cnf" -in "$ca/int1.csr" -notext \
	    -out "$out" "$@" >>"$T/openssl.log" 2>&1 ||
	    fail "openssl ca failed (see $T/openssl.log)"
}

# utc_stamp SECONDS_FROM_NOW: YYYYMMDDHHMMSSZ, for openssl ca.
utc_stamp() {
	date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ
}

# not_after FILE: a certificate's notAfter as a Unix time.
not_after() {
	date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}

# scrape ADMIN_PORT NAME: GET /metrics into $T/NAME.prom.
scrape() {
	/usr/bin/python3 - "$1" "$T/$2.prom" <<'PY' || fail "GET /metrics failed"
import sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=30)
assert r.status == 200, r.status
open(sys.argv[2], "wb").write(r.read())
PY
}

# val NAME SERIES: the value of SERIES (exact, labels included) in
# $T/NAME.prom, or MISSING.
val() {
	awk -v s="$2 " 'index($0, s) == 1 { print $NF; found = 1 }
	    END { if (!found) print "MISSING" }' "$T/$1.prom"
}

# cert_series FAMILY SITE DEPTH SUBJECT: the series name of one certificate.
cert_series() {
	printf '%s{site="%s",depth="%s",subject="%s"}' "$1" "$2" "$3" "$4"
}

# expect_val NAME SERIES VALUE: fail unless SERIES is VALUE in NAME.prom.
expect_val() {
	local v
	v=$(val "$1" "$2")
	[ "$v" = "$3" ] || fail "$2 is $v, expected $3"
}

# count_lines FILE PATTERN: lines of FILE matching the extended regex.
count_lines() {
	grep -Ec -- "$2" "$1" || true
}
