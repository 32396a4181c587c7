#!/usr/bin/env bash
# Client sockets carry TCP keepalive (client_keepalive, default 15m), so a
# phone that vanished without a FIN frees its session: the kernel's timer on
# the accepted socket shows it, with the configured idle time; 0 turns it off.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl ss /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

# timer_of PORT [WANT]: the timer ss shows on chainfix's side of a client
# connection to PORT (an idle peer client holds it open), once it shows
# WANT (a regex; within 10 s), or, without WANT, once chainfix has accepted
# it (its backend connection is up) and nothing is in flight (a
# retransmission timer would show instead).  Call it once the self-test is
# done: its connections to the backend would pass for the session's.
timer_of() {
	local port=$1 want=${2:-} i=0 out
	bg "idle-$port" /usr/bin/python3 "$PEER" client --port "$port" \
	    --cafile "$P/root.pem" idle 20
	local cpid=$BG_PID
	while [ "$i" -lt 100 ]; do
		out=$(ss -tnoH state established "( sport = :$port )" 2>/dev/null)
		if [ -n "$want" ]; then
			echo "$out" | grep -Eq "$want" && break
		elif [ -n "$out" ] && ! echo "$out" | grep -q "timer:(on," &&
		    [ -n "$(ss -tnH state established "( dport = :$BPORT )")" ]; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	echo "$out"
}

global_conf "$T/default.conf"
site_conf "$T/default.conf" mail 0 "$BPORT"
chainfix_start chainfix "$T/default.conf"
P1=$(cfx_port mail)
wait_log "$T/chainfix.log" "self-test: done"
t=$(timer_of "$P1" "timer:\(keepalive,1[45]min")
echo "$t" | grep -Eq "timer:\(keepalive,1[45]min" ||
	fail "no 15-minute keepalive timer on the client socket: $t"
chainfix_stop_clean
ok "default: keepalive after 15 minutes idle"

global_conf "$T/short.conf"
sed -i 's/^\[global\]$/[global]\nclient_keepalive = 90s/' "$T/short.conf"
site_conf "$T/short.conf" mail 0 "$BPORT"
chainfix_start chainfix2 "$T/short.conf"
P2=$(cfx_port mail)
wait_log "$T/chainfix2.log" "self-test: done"
t=$(timer_of "$P2" "timer:\(keepalive,(1min|[0-9]+sec)")
echo "$t" | grep -Eq "timer:\(keepalive,(1min|[0-9]+sec)" ||
	fail "client_keepalive = 90s not applied: $t"
chainfix_stop_clean chainfix2
ok "client_keepalive = 90s: the timer follows it"

global_conf "$T/off.conf"
sed -i 's/^\[global\]$/[global]\nclient_keepalive = 0/' "$T/off.conf"
site_conf "$T/off.conf" mail 0 "$BPORT"
chainfix_start chainfix3 "$T/off.conf"
P3=$(cfx_port mail)
wait_log "$T/chainfix3.log" "self-test: done"
t=$(timer_of "$P3")
[ -n "$t" ] || fail "no connection seen"
echo "$t" | grep -q "keepalive" && fail "client_keepalive = 0 still sets keepalive: $t"
chainfix_stop_clean chainfix3
ok "client_keepalive = 0: no keepalive"
pass
