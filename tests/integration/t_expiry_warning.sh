#!/bin/bash
# t_expiry_warning: an intermediate that expires within expiry_warning_days
# gives a warning line at startup and chainfix_certificate_expiring 1 for
# its series (0 for the others, chainfix_certificate_expired 0 for all).
# The check runs again after a reload and honours the new window: shrunk
# below the intermediate's remaining days, the gauge falls to 0 with no new
# warning; widened again, the reload logs the warning again.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/expiry_lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

# The intermediates: int2, and an int1 that is valid for 10 more days.
mkdir "$T/inter"
cp "$P/intermediates/int2.der" "$T/inter/"
int1_twin "$T/inter/int1-soon.pem" -days 10
DATE=$(date -u -d "@$(not_after "$T/inter/int1-soon.pem")" +%Y-%m-%d)

conf() {	# EXPIRY_WARNING_DAYS
	: >"$T/chainfix.conf.new"
	global_conf "$T/chainfix.conf.new"
	cat >>"$T/chainfix.conf.new" <<EOF
admin_listen = 127.0.0.1:0
expiry_warning_days = $1
EOF
	SITE_INTERMEDIATES=$T/inter site_conf "$T/chainfix.conf.new" exp 0 "$BPORT"
	mv "$T/chainfix.conf.new" "$T/chainfix.conf"
}

WARN="warning: site exp: certificate depth 2 \"CN=chainfix test int1\" expires in (9|10) days \\($DATE\\)"
EXPIRING2=$(cert_series chainfix_certificate_expiring exp 2 "CN=chainfix test int1")
EXPIRED2=$(cert_series chainfix_certificate_expired exp 2 "CN=chainfix test int1")

conf 30
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port exp)
ADMIN=$(cfx_admin_port)
grep -Eq -- "$WARN" "$T/chainfix.log" ||
    fail "no startup warning for the expiring int1 (see $T/chainfix.log)"
if grep -Eq "site exp: certificate depth [01] .*expires in" "$T/chainfix.log"; then
	fail "a warning for a certificate valid for a year"
fi
if grep -q "error: site exp: certificate depth" "$T/chainfix.log"; then
	fail "an expiry error with nothing expired"
fi
ok "startup: warning line for int1, expiring in 10 days"

scrape "$ADMIN" m1
expect_val m1 "$EXPIRING2" 1
expect_val m1 "$EXPIRED2" 0
expect_val m1 "$(cert_series chainfix_certificate_expiring exp 0 CN=localhost)" 0
expect_val m1 "$(cert_series chainfix_certificate_expiring exp 1 "CN=chainfix test int2")" 0
expect_val m1 "$(cert_series chainfix_certificate_expired exp 0 CN=localhost)" 0
expect_val m1 "$(cert_series chainfix_certificate_not_after_seconds exp 2 "CN=chainfix test int1")" \
    "$(not_after "$T/inter/int1-soon.pem")"
for f in chainfix_certificate_expiring chainfix_certificate_expired; do
	grep -q "^# HELP $f " "$T/m1.prom" || fail "no # HELP for $f"
	grep -q "^# TYPE $f gauge\$" "$T/m1.prom" || fail "no # TYPE gauge for $f"
	[ "$(grep -c "^$f{" "$T/m1.prom")" = 3 ] ||
	    fail "$f: expected 3 series (3 served certificates)"
done
ok "metrics: chainfix_certificate_expiring 1 for int1 only, nothing expired"

# A 5-day window: int1 is outside it.
conf 5
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 2"
[ "$(count_lines "$T/chainfix.log" "$WARN")" = 1 ] ||
    fail "a warning after the reload to a 5-day window"
scrape "$ADMIN" m2
expect_val m2 "$EXPIRING2" 0
expect_val m2 "$EXPIRED2" 0
ok "reload with expiry_warning_days = 5: no warning, gauge 0"

# Back to 30 days: the reload checks again.
conf 30
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 3"
[ "$(count_lines "$T/chainfix.log" "$WARN")" = 2 ] ||
    fail "no warning from the check after the reload to a 30-day window"
scrape "$ADMIN" m3
expect_val m3 "$EXPIRING2" 1
ok "reload with expiry_warning_days = 30: warning again, gauge 1"

chainfix_stop_clean
pass
