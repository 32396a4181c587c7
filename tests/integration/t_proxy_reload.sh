#!/bin/bash
# Reload: SIGHUP while a transfer runs; the transfer completes on the old
# generation while new connections get the new certificate; a broken new
# configuration is refused, logged, and the running one keeps serving; a
# new listen address is bound and a dropped one closed.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
BPORT=$(free_port)
PPORT=$(free_port)
py_backend backend "$BPORT" --cert "$P/leaf-full.pem" --key "$P/leaf.key"

conf() {	# CERT KEY PORT
	: >"$T/chainfix.conf.new"
	global_conf "$T/chainfix.conf.new"
	cat >>"$T/chainfix.conf.new" <<EOF
[r]
listen = 127.0.0.1:$3
cert = $1
key = $2
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$BPORT
backend_ca = $P/root.pem
EOF
	mv "$T/chainfix.conf.new" "$T/chainfix.conf"
}
cn() {	# PORT SERVERNAME
	peer client --port "$1" --cafile "$P/root.pem" --servername "$2" cert
}

conf "$P/leaf.pem" "$P/leaf.key" "$PPORT"
chainfix_start chainfix "$T/chainfix.conf"
[ "$(cn "$PPORT" localhost)" = localhost ] || fail "first certificate not served"

# A transfer spread over 6 s, and a reload in its middle.
peer client --port "$PPORT" --cafile "$P/root.pem" hold 6 >"$T/hold.log" 2>&1 &
HOLD=$!
sleep 1
conf "$P/leaf2.pem" "$P/leaf2.key" "$PPORT"
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 2"
[ "$(cn "$PPORT" other.test)" = other.test ] ||
    fail "new connections do not get the new certificate"
ok "after SIGHUP new connections get the new certificate"
wait "$HOLD" || fail "the transfer across the reload failed: $(cat "$T/hold.log")"
ok "the transfer running across the reload completed"

# A broken configuration: the old one keeps serving.
printf '[global]\nworkers = 2\n[broken]\nlisten = 127.0.0.1:%s\ncert = %s\n' \
    "$PPORT" "$T/missing.pem" >"$T/chainfix.conf"
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reload of .* failed: keeping the running configuration"
kill -0 "$CFX_PID" || fail "chainfix died on a broken reload"
[ "$(cn "$PPORT" other.test)" = other.test ] ||
    fail "the running configuration stopped serving after a failed reload"
ok "broken configuration refused, the old one still serves"

# A chain that cannot be completed fails the reload too.
conf "$P/leaf.pem" "$P/leaf.key" "$PPORT"
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
[ "$(cn "$PPORT" other.test)" = other.test ] ||
    fail "an incomplete chain replaced the running configuration"
ok "incomplete chain refused, the old one still serves"

# Move to another port: the new one serves, the old one is closed.
NPORT=$(free_port)
conf "$P/leaf.pem" "$P/leaf.key" "$NPORT"
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 3"
[ "$(cn "$NPORT" localhost)" = localhost ] || fail "the new listen address does not serve"
if (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null; then
	fail "the old listen address still accepts"
fi
ok "listen address moved"
chainfix_stop_clean
pass
