#!/bin/bash
# t_expiry_replace: int1 expires a few seconds after startup.  Once chainfix
# serves it, its renewal (same subject and key, same issuer, a later
# notAfter) is dropped into the intermediates directory.  When int1 expires,
# the periodic check (expiry_check_interval = 1s) logs the error, finds the
# renewal, rebuilds the chains and logs the replacement; the same process
# then serves a chain that a strict client verifies, and the gauges follow.
# The renewal is added only after startup: at startup the chain engine would
# prefer it (later notAfter) and nothing would be proved.  watch = no for
# the same reason: the watch would reload as soon as the file appears.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/expiry_lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

# int1 valid from an hour ago until 12 seconds from now.
mkdir "$T/inter"
cp "$P/intermediates/int2.der" "$T/inter/"
int1_twin "$T/inter/int1-short.pem" -startdate "$(utc_stamp -3600)" \
    -enddate "$(utc_stamp 12)"
SHORT_END=$(not_after "$T/inter/int1-short.pem")

global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
admin_listen = 127.0.0.1:0
expiry_check_interval = 1s
watch = no
EOF
SITE_INTERMEDIATES=$T/inter site_conf "$T/chainfix.conf" exp 0 "$BPORT"

INT1_NA=$(cert_series chainfix_certificate_not_after_seconds exp 2 "CN=chainfix test int1")
INT1_EXPIRED=$(cert_series chainfix_certificate_expired exp 2 "CN=chainfix test int1")

chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port exp)
ADMIN=$(cfx_admin_port)
scrape "$ADMIN" m1
expect_val m1 "$INT1_NA" "$SHORT_END"
ok "chainfix serves the short-lived int1"

# The renewal, renamed into place so no check can read half a file.
cp "$P/int1.pem" "$T/inter/.int1-renewed.tmp"
mv "$T/inter/.int1-renewed.tmp" "$T/inter/int1-renewed.pem"

wait_log "$T/chainfix.log" \
    'info: site exp: expired intermediate "CN=chainfix test int1" replaced by "CN=chainfix test int1" \(notAfter [0-9-]+ [0-9:]+ UTC, from [^)]*/int1-renewed\.pem\) without a restart' 120
err=$(grep -En 'error: site exp: certificate depth 2 "CN=chainfix test int1" has expired' \
    "$T/chainfix.log" | head -n 1 | cut -d: -f1)
rep=$(grep -n 'replaced by' "$T/chainfix.log" | head -n 1 | cut -d: -f1)
if [ -z "$err" ] || [ "$err" -ge "$rep" ]; then
	fail "no error line for the expired int1 before the replacement"
fi
ok "the expiry is logged, then the replacement"

# The same process, reloaded once, serving the renewal.
kill -0 "$CFX_PID" || fail "chainfix is gone"
[ "$(count_lines "$T/chainfix.log" "chainfix [^ ]+: serving [0-9]+ sites? on")" = 1 ] ||
    fail "chainfix started more than once"
grep -q "reloaded .*generation 2" "$T/chainfix.log" || fail "no reload to generation 2"
scrape "$ADMIN" m2
expect_val m2 chainfix_reloads_total 1
expect_val m2 "$INT1_NA" "$(not_after "$P/int1.pem")"
expect_val m2 "$INT1_EXPIRED" 0
ok "same PID, one reload, gauges show the renewed int1"

# A strict client that trusts the root alone verifies through chainfix.
openssl s_client -connect "127.0.0.1:$PPORT" -servername localhost \
    -verify_return_error -verify_hostname localhost \
    -CAfile "$P/root.pem" -no-CApath -no-CAstore \
    </dev/null >"$T/strict.log" 2>&1 ||
    fail "the strict client failed after the replacement (see $T/strict.log)"
grep -q "Verify return code: 0 (ok)" "$T/strict.log" ||
    fail "the strict client did not verify (see $T/strict.log)"
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
    fail "a strict client did not reach the backend"
ok "a strict client verifies through chainfix again, without a restart"

chainfix_stop_clean
pass
