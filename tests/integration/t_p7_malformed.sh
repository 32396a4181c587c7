#!/bin/bash
# A PKCS#7 signed-data without its content (the ContentInfo's optional
# content left out) used to dereference NULL in every loader.  Now: bundle
# with it as --cert fails with a line naming the file, bundle and configtest
# skip it in an intermediates directory with a warning, and the daemon
# reloads (SIGHUP) with it in the directory and keeps serving.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3 openssl

mkpki "$T/pki"
P=$T/pki
# SEQUENCE { OID pkcs7-signedData } and nothing else.
printf '\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02' >"$T/empty.p7b"
openssl pkcs7 -inform DER -in "$T/empty.p7b" -out "$T/empty-pem.p7b" 2>/dev/null ||
    fail "openssl cannot convert the malformed PKCS#7 to PEM"

# bundle --cert: refused with one line naming the file.
for f in empty.p7b empty-pem.p7b; do
	rc=0
	"$CHAINFIX" bundle --cert "$T/$f" --roots "$P/root.pem" \
	    >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || fail "bundle --cert $f: exit $rc, expected 1 ($(cat "$T/err"))"
	grep -q "$f: PKCS#7 signed-data without its content" "$T/err" ||
	    fail "bundle --cert $f: $(cat "$T/err")"
	ok "bundle --cert $f: $(cat "$T/err")"
done

# bundle with it among the intermediates: skipped, the chain still builds.
mkdir "$T/inter"
cp "$P"/intermediates/* "$T/inter/"
cp "$T/empty.p7b" "$T/inter/"
cp "$T/empty-pem.p7b" "$T/inter/"
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
    --intermediates "$T/inter" --roots "$P/root.pem" >"$T/bundle.pem" \
    2>"$T/bundle.err" || fail "bundle with a malformed PKCS#7 in the directory: $(cat "$T/bundle.err")"
grep -q "inter/empty.p7b: PKCS#7 signed-data without its content; skipped" "$T/bundle.err" ||
    fail "no warning naming empty.p7b: $(cat "$T/bundle.err")"
strict_verify "$P/root.pem" "$T/bundle.pem" "$P/leaf.pem" || fail "the bundle does not verify"
ok "bundle skips the malformed PKCS#7 in the directory"

# configtest and the daemon.
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
SITE_INTERMEDIATES=$T/inter site_conf "$T/chainfix.conf" p7 0 "$BPORT"
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/configtest.out" 2>&1 ||
    fail "configtest: $(cat "$T/configtest.out")"
grep -q "empty.p7b: PKCS#7 signed-data without its content; skipped" "$T/configtest.out" ||
    fail "configtest did not name the file: $(cat "$T/configtest.out")"
ok "configtest skips it"

mkdir "$T/inter2"
cp "$P"/intermediates/* "$T/inter2/"
: >"$T/chainfix.conf"
global_conf "$T/chainfix.conf"
SITE_INTERMEDIATES=$T/inter2 site_conf "$T/chainfix.conf" p7 0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
cp "$T/empty.p7b" "$T/inter2/"
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 2"
kill -0 "$CFX_PID" || fail "the daemon died on SIGHUP"
grep -q "inter2/empty.p7b: PKCS#7 signed-data without its content; skipped" "$T/chainfix.log" ||
    fail "the reload did not name the file"
[ "$(cfx_client p7 --cafile "$P/root.pem" who)" = backend ] ||
    fail "no service after the reload"
ok "the daemon reloads with it in the directory and serves"
chainfix_stop_clean
pass
