#!/usr/bin/env bash
# A listen address that cannot be bound is an error naming the file, the
# line and the site, with what to do about it: an address another process
# listens on, a port below 1024 without the privilege (run as nobody).  The
# daemon exits 1 at startup; on reload it keeps serving the old addresses.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl setpriv /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
backend_s_server backend "$P/leaf.pem" "$P/leaf.key"
BPORT=$BG_PORT

# Someone else's listener.
silent_backend other
BUSY=$BG_PORT

global_conf "$T/busy.conf"
site_conf "$T/busy.conf" mail "$BUSY" "$BPORT"
line=$(grep -n "^listen = 127.0.0.1:$BUSY\$" "$T/busy.conf" | cut -d: -f1)
rc=0
"$CHAINFIX" -c "$T/busy.conf" >"$T/busy.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "chainfix exited $rc with its listen address in use"
grep -q "error: $T/busy.conf:$line: \[mail\] listen 127.0.0.1:$BUSY: cannot listen: Address already in use: another process already listens there" "$T/busy.log" ||
	fail "no error naming file, line, site and cause: $(grep -i listen "$T/busy.log")"
ok "address in use: error names $T/busy.conf:$line, [mail], the cause and a hint"

# A port below 1024 as an unprivileged user.
[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 443 ] ||
	skip "unprivileged users may bind port 443 here (ip_unprivileged_port_start)"
chmod 755 "$T"
chmod -R a+rX "$P"
global_conf "$T/low.conf"
site_conf "$T/low.conf" owa 443 "$BPORT"
chmod 644 "$T/low.conf"
line=$(grep -n "^listen = 127.0.0.1:443\$" "$T/low.conf" | cut -d: -f1)
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$CHAINFIX" -c "$T/low.conf" >"$T/low.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "chainfix as nobody exited $rc on port 443"
grep -q "error: $T/low.conf:$line: \[owa\] listen 127.0.0.1:443: cannot listen: Permission denied: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability" "$T/low.log" ||
	fail "no error naming the privileged port: $(grep -i listen "$T/low.log")"
ok "port 443 without privilege: error names the line, the site and CAP_NET_BIND_SERVICE"

# On reload: the same error, and the running addresses keep serving.
global_conf "$T/live.conf"
site_conf "$T/live.conf" mail 0 "$BPORT"
chainfix_start chainfix "$T/live.conf"
OK=$(cfx_port mail)
site_conf "$T/live.conf" second "$BUSY" "$BPORT"
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reload of .* failed: cannot listen"
grep -q "error: $T/live.conf:[0-9]*: \[second\] listen 127.0.0.1:$BUSY: cannot listen: Address already in use" "$T/chainfix.log" ||
	fail "reload: no error naming the site"
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect "127.0.0.1:$OK" \
    -servername localhost -CAfile "$P/root.pem" -verify_return_error >"$T/after.out" 2>&1 ||
	fail "the running address stopped serving after the failed reload"
ok "reload with a busy address: error, and the running site still serves"
chainfix_stop_clean
pass
