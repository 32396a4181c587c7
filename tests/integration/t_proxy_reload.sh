#!/bin/bash
# Reload: SIGHUP while a transfer runs; the transfer completes on the old
# generation while new connections get the new certificate; a broken new
# configuration is refused, logged, and the running one keeps serving; a
# new listen address is bound and a dropped one closed.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

conf() {	# CERT KEY LISTEN
	: >"$T/chainfix.conf.new"
	global_conf "$T/chainfix.conf.new"
	cat >>"$T/chainfix.conf.new" <<EOF
[r]
listen = $3
cert = $1
key = $2
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
	mv "$T/chainfix.conf.new" "$T/chainfix.conf"
}
cn() {	# SERVERNAME: the certificate on the address r has now
	cfx_client r --cafile "$P/root.pem" --servername "$1" cert
}

conf "$P/leaf.pem" "$P/leaf.key" 127.0.0.1:0
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port r)
[ "$(cn localhost)" = localhost ] || fail "first certificate not served"

# A transfer spread over 6 s, and a reload in its middle.
bg hold /usr/bin/python3 "$PEER" client --port "$PPORT" --cafile "$P/root.pem" hold 6
HOLD=$BG_PID
sleep 1
conf "$P/leaf2.pem" "$P/leaf2.key" 127.0.0.1:0
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 2"
[ "$(cfx_port r)" = "$PPORT" ] || fail "the reload moved the listener to another port"
[ "$(cn other.test)" = other.test ] ||
    fail "new connections do not get the new certificate"
ok "after SIGHUP new connections get the new certificate"
wait "$HOLD" || fail "the transfer across the reload failed: $(cat "$T/hold.log")"
ok "the transfer running across the reload completed"

# A broken configuration: the old one keeps serving.
printf '[global]\nworkers = 2\n[broken]\nlisten = 127.0.0.1:%s\ncert = %s\n' \
    0 "$T/missing.pem" >"$T/chainfix.conf"
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reload of .* failed: keeping the running configuration"
kill -0 "$CFX_PID" || fail "chainfix died on a broken reload"
[ "$(cn other.test)" = other.test ] ||
    fail "the running configuration stopped serving after a failed reload"
ok "broken configuration refused, the old one still serves"

# A chain that cannot be completed fails the reload too.
conf "$P/leaf.pem" "$P/leaf.key" 127.0.0.1:0
sed -i "s|^intermediates = .*|intermediates = $T/empty|" "$T/chainfix.conf"
mkdir "$T/empty"
kill -HUP "$CFX_PID"
i=0
while [ "$(grep -c "reload of .* failed" "$T/chainfix.log")" -lt 2 ]; do
	[ "$i" -lt 200 ] || fail "the incomplete chain was not refused"
	sleep 0.05
	i=$((i + 1))
done
grep -q 'incomplete chain: no issuer "CN=chainfix test int2"' "$T/chainfix.log" ||
    fail "the failed reload does not name the missing issuer"
[ "$(cn other.test)" = other.test ] ||
    fail "an incomplete chain replaced the running configuration"
ok "incomplete chain refused, the old one still serves"

# Move to another address: the new one serves, the old one is closed.
conf "$P/leaf.pem" "$P/leaf.key" 127.0.0.2:0
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 3"
[ "$(cfx_host r)" = 127.0.0.2 ] || fail "the listen report does not show the new address"
[ "$(cn localhost)" = localhost ] || fail "the new listen address does not serve"
if (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null; then
	fail "the old listen address still accepts"
fi
ok "listen address moved"
chainfix_stop_clean
pass
