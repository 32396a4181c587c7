#!/usr/bin/env bash
# configtest: prints every site's chain and "configuration OK"; a broken
# configuration reports all of its errors and exits 1.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

mkpki "$T/pki"
P=$T/pki
printf 'secret\n' >"$T/pass"
# configtest binds nothing; its backend self-test connects to the backends
# (one that nothing answers would be an error: t_configtest_fixes.sh).
need openssl
backend_s_server backend "$P/leaf.pem" "$P/leaf.key"
B1=$BG_PORT
B2=$B1 B3=$B1

cat >"$T/good.conf" <<CONF
[global]
workers = 1
log_level = info
expiry_warning_days = 30

[mail]
listen = 127.0.0.1:8443
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$B1
backend_verify = no

[other]
listen = 127.0.0.1:8443
cert = $P/leaf.pfx
password_file = $T/pass
roots = $P/root.pem
backend = 127.0.0.1:$B2, 127.0.0.1:$B3
backend_verify = no
CONF
"$CHAINFIX" configtest -c "$T/good.conf" >"$T/good.out" 2>"$T/good.err" ||
	fail "configtest of a good config exited $?: $(cat "$T/good.err")"
tail -n 1 "$T/good.out" | grep -qx "configuration OK" ||
	fail "configtest did not end with 'configuration OK'"
grep -q "^site mail" "$T/good.out" || fail "site mail not printed"
grep -q "^site other" "$T/good.out" || fail "site other not printed"
grep -Eq "^ +0 .*localhost.*leaf.pem" "$T/good.out" ||
	fail "mail's leaf line (depth 0, subject, source) missing"
grep -Eq "^ +2 .*chainfix test int1.*intermediates" "$T/good.out" ||
	fail "mail's int1 line (from the intermediates dir) missing"
grep -Eq "^ +3 .*chainfix test root.*not sent" "$T/good.out" ||
	fail "the root is not shown as not sent"
ok "good config: every chain printed, configuration OK"

cat >"$T/bad.conf" <<CONF
[global]
workers = lots
colour = blue

[mail]
listen = 127.0.0.1:99999
cert = $T/does-not-exist.pem
backend = 127.0.0.1:443
backend_verify = sha256:1234
idle_timeout = forever

[typo-section]
listen = 127.0.0.1:8443
CONF
rc=0
"$CHAINFIX" configtest -c "$T/bad.conf" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
[ "$rc" = 1 ] || fail "configtest of a bad config exited $rc, expected 1"
for pat in "workers" "colour" "listen" "does-not-exist.pem" \
    "backend_verify" "idle_timeout"; do
	grep -q -- "$pat" "$T/bad.err" || fail "error about '$pat' not reported"
done
grep -q "configuration OK" "$T/bad.out" && fail "bad config said OK"
n=$(grep -c "bad.conf" "$T/bad.err" || true)
[ "$n" -ge 6 ] || fail "only $n errors reported, expected at least 6"
ok "bad config: all $n errors reported, exit 1"

rc=0
"$CHAINFIX" configtest -c "$T/nope.conf" >/dev/null 2>"$T/nope.err" || rc=$?
[ "$rc" = 1 ] || fail "missing config: exit $rc"
grep -q "nope.conf" "$T/nope.err" || fail "missing config not named"
ok "missing config file: exit 1, named"
pass
