#!/usr/bin/env bash
# bundle: bad inputs each give exit 1 and a clear line naming what is wrong,
# never a crash.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

mkpki "$T/pki"
P=$T/pki
mkdir "$T/empty" "$T/only-int1"
cp "$P/int1.pem" "$T/only-int1/"

# expect_error NAME PATTERN ARGS...: bundle must exit 1, print nothing on
# stdout, and say PATTERN on stderr.
expect_error() {
	local name=$1 pat=$2 rc=0
	shift 2
	"$CHAINFIX" bundle "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	[ "$rc" = 1 ] || fail "$name: exit $rc, expected 1"
	[ -s "$T/$name.out" ] && fail "$name: wrote to stdout"
	grep -Eq -- "$pat" "$T/$name.err" ||
		fail "$name: stderr lacks /$pat/: $(cat "$T/$name.err")"
	ok "$name: $(head -n 1 "$T/$name.err")"
}

expect_error missing-int2 "chainfix test int2.*http://pki.invalid/int2.cer" \
    --cert "$P/leaf.pem" --key "$P/leaf.key" --intermediates "$T/only-int1" \
    --roots "$P/root.pem"
expect_error key-mismatch "leaf2.key|match" \
    --cert "$P/leaf.pem" --key "$P/leaf2.key" --intermediates "$P/intermediates" \
    --roots "$P/root.pem"
expect_error no-such-file "nonexistent.pem" \
    --cert "$T/nonexistent.pem" --intermediates "$P/intermediates"
head -c 300 /dev/urandom >"$T/garbage.crt"
expect_error corrupt-cert "garbage.crt" \
    --cert "$T/garbage.crt" --intermediates "$P/intermediates"
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' >"$T/trunc.pem"
expect_error truncated-pem "trunc.pem" \
    --cert "$T/trunc.pem" --intermediates "$P/intermediates"
expect_error missing-dir "no-such-dir" \
    --cert "$P/leaf.pem" --key "$P/leaf.key" --intermediates "$T/no-such-dir"

rc=0
"$CHAINFIX" bundle --intermediates "$T/empty" >/dev/null 2>"$T/usage.err" || rc=$?
[ "$rc" = 2 ] || fail "no --cert: exit $rc, expected 2 (usage)"
ok "usage error: exit 2"
pass
