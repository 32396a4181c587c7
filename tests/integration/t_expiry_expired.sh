#!/bin/bash
# t_expiry_expired: the intermediates directory holds only an expired int1
# (no valid twin).  chainfix starts, logs an error line for it and sets
# chainfix_certificate_expired 1; every periodic check (expiry_check_interval
# = 1s) logs the error again and says no replacement was found, without a
# pointless reload; the daemon keeps serving (a client that does not verify
# still gets through, a strict one is refused with "certificate has
# expired").
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/expiry_lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key" --name the-backend
BPORT=$BG_PORT

mkdir "$T/inter"
cp "$P/intermediates/int2.der" "$P/intermediates/int1-expired.pem" "$T/inter/"

global_conf "$T/chainfix.conf"
cat >>"$T/chainfix.conf" <<EOF
admin_listen = 127.0.0.1:0
expiry_check_interval = 1s
EOF
SITE_INTERMEDIATES=$T/inter site_conf "$T/chainfix.conf" exp 0 "$BPORT"

ERR='error: site exp: certificate depth 2 "CN=chainfix test int1" has expired \([0-9-]+ [0-9:]+ UTC\)'
NOALT='warning: site exp: no valid replacement for the expired certificate in '

chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port exp)
ADMIN=$(cfx_admin_port)
# Logged before the startup line, so chainfix_start has seen it.
grep -Eq -- "$ERR" "$T/chainfix.log" ||
    fail "no startup error for the expired int1 (see $T/chainfix.log)"
if grep -Eq "site exp: certificate depth [01] " "$T/chainfix.log"; then
	fail "an expiry line for a valid certificate"
fi
ok "startup: error line for the expired int1"

scrape "$ADMIN" m1
expect_val m1 "$(cert_series chainfix_certificate_expired exp 2 "CN=chainfix test int1")" 1
expect_val m1 "$(cert_series chainfix_certificate_expiring exp 2 "CN=chainfix test int1")" 0
expect_val m1 "$(cert_series chainfix_certificate_expired exp 0 CN=localhost)" 0
expect_val m1 "$(cert_series chainfix_certificate_expired exp 1 "CN=chainfix test int2")" 0
expect_val m1 "$(cert_series chainfix_certificate_not_after_seconds exp 2 "CN=chainfix test int1")" \
    "$(not_after "$P/int1-expired.pem")"
ok "metrics: chainfix_certificate_expired 1 for int1 only"

# Two periodic checks after the startup one: the error each time.
i=0
while [ "$(count_lines "$T/chainfix.log" "$ERR")" -lt 3 ] ||
    [ "$(count_lines "$T/chainfix.log" "$NOALT")" -lt 2 ]; do
	kill -0 "$CFX_PID" 2>/dev/null || fail "chainfix exited"
	i=$((i + 1))
	[ "$i" -lt 1200 ] || fail "the periodic check does not log the error again"
	sleep 0.05
done
if grep -Eq "reloading|replaced by" "$T/chainfix.log"; then
	fail "a reload although nothing better exists"
fi
scrape "$ADMIN" m2
expect_val m2 chainfix_reloads_total 0
expect_val m2 chainfix_reload_failures_total 0
expect_val m2 "$(cert_series chainfix_certificate_expired exp 2 "CN=chainfix test int1")" 1
ok "each periodic check logs the error and finds no replacement; no reload"

# Still serving: through to the backend without verification...
who=$(/usr/bin/python3 - "$PPORT" <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"WHO\n")
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                break
            buf += b
print(buf.decode().strip())
PY
) || fail "a non-verifying client could not get through"
[ "$who" = the-backend ] || fail "the backend answered '$who'"
# ...while a strict client says why it must not trust the chain.
if openssl s_client -connect "127.0.0.1:$PPORT" -servername localhost \
    -verify_return_error -CAfile "$P/root.pem" -no-CApath -no-CAstore \
    </dev/null >"$T/strict.log" 2>&1; then
	fail "a strict client accepted a chain with an expired intermediate"
fi
grep -q "certificate has expired" "$T/strict.log" ||
    fail "the strict client failed for another reason (see $T/strict.log)"
kill -0 "$CFX_PID" || fail "chainfix died"
ok "keeps serving: relayed without verification, strict client sees the expiry"

chainfix_stop_clean
pass
