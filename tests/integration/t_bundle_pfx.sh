#!/usr/bin/env bash
# bundle: a .pfx holding root, intermediate and leaf in shuffled order, with
# its password in a file; and the wrong password.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

mkpki "$T/pki"
P=$T/pki
printf 'secret\n' >"$T/pass"
printf 'wrong\n' >"$T/badpass"

"$CHAINFIX" bundle --cert "$P/leaf.pfx" --password-file "$T/pass" \
    --roots "$P/root.pem" >"$T/bundle.pem" 2>"$T/bundle.log" ||
	fail "bundle of the .pfx exited $?"
strict_verify "$P/root.pem" "$T/bundle.pem" "$P/leaf.pem" ||
	fail "the .pfx bundle does not verify against the root alone"
got=$(pem_subjects "$T/bundle.pem" | tr '\n' '|')
[ "$got" = "localhost|chainfix test int2|chainfix test int1|" ] ||
	fail "the .pfx bundle is '$got'"
ok "the .pfx's chain reordered, leaf first, root dropped"

rc=0
"$CHAINFIX" bundle --cert "$P/leaf.pfx" --password-file "$T/badpass" \
    --roots "$P/root.pem" >"$T/bad.pem" 2>"$T/bad.log" || rc=$?
[ "$rc" = 1 ] || fail "wrong password: exit $rc, expected 1"
grep -q "leaf.pfx" "$T/bad.log" || fail "the error does not name the file"
grep -qi "password" "$T/bad.log" || fail "the error does not say password"
[ -s "$T/bad.pem" ] && fail "something was written to stdout on error"
ok "wrong password: exit 1, one error naming the file"
pass
