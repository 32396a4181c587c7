#!/bin/bash
# Half-close from the client: a client that sends its request and then shuts
# down its sending side (a FIN without close_notify, as scripts, HTTP/1.0
# clients and Schannel do; or close_notify and a FIN) still gets the whole
# answer, and the backend sees the end of the request as its own EOF.  With
# a TLS backend and with a plain one.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
global_conf "$T/chainfix.conf"
tls_and_plain_sites "$T/chainfix.conf"
chainfix_start chainfix "$T/chainfix.conf"

N=$((1024 * 1024))
for site in tls plain; do
	for how in fin notify; do
		cfx_client "$site" --cafile "$P/root.pem" \
		    halfdown "$N" "$how" >"$T/down-$site-$how.log" 2>&1 ||
		    fail "$site backend, client half-close ($how): $(cat "$T/down-$site-$how.log")"
		# The proxy passes the backend's end on as a close_notify.
		grep -q "^halfdown $N ok end=close_notify" "$T/down-$site-$how.log" ||
		    fail "$site backend, $how: $(cat "$T/down-$site-$how.log")"
		ok "$site backend: request, half-close ($how), then the whole 1 MiB answer"
	done
	cfx_client "$site" --cafile "$P/root.pem" \
	    halfup 300000 fin >"$T/up-$site.log" 2>&1 ||
	    fail "$site backend, upload then half-close: $(cat "$T/up-$site.log")"
	ok "$site backend: 300000 bytes and a FIN, the backend's answer comes back"
done

# Each session ended as both directions did, the client first, with the
# bytes counted: "DOWN 1048576\n" in, 1 MiB and the hash line out.
n=$(grep -c "site=tls .* in=13 out=1048641 .*reason=client_closed: client closed" "$T/chainfix.log" || true)
[ "$n" = 2 ] || fail "expected 2 client_closed TLS sessions with all bytes, got $n"
n=$(grep -c "site=plain .* in=13 out=1048641 .*reason=client_closed: client closed" "$T/chainfix.log" || true)
[ "$n" = 2 ] || fail "expected 2 client_closed plain sessions with all bytes, got $n"
ok "session lines: client_closed, every byte counted"
chainfix_stop_clean
pass
