#!/bin/bash
# A backend that sends its answer and resets the connection at once (the
# data and the reset arrive together): the client still gets every byte,
# then a plain end without close_notify (a reset stream must not look
# complete), and the session line counts every byte and says why.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
global_conf "$T/chainfix.conf"
tls_and_plain_sites "$T/chainfix.conf"
chainfix_start chainfix "$T/chainfix.conf"

# Small enough for the initial receive window: all of it is on the wire
# when the reset follows (an abortive close drops what was not sent yet).
# Three times 16 KiB: with the plain backend every read of the relay comes
# back full, so the reset is met in the same round as the data.
N=49152
for site in tls plain; do
	for i in 1 2 3 4 5 6 7 8; do
		cfx_client "$site" --cafile "$P/root.pem" resetnow "$N" \
		    >"$T/reset-$site-$i.log" 2>&1 ||
		    fail "$site backend: $(cat "$T/reset-$site-$i.log")"
		grep -q "^resetnow got=$N end=eof$" "$T/reset-$site-$i.log" ||
		    fail "$site backend: $(cat "$T/reset-$site-$i.log")"
	done
	ok "$site backend: all $N bytes, then an end without close_notify (8 times)"
	wait_log "$T/chainfix.log" "site=$site .* in=15 out=$N .*reason=backend_error: backend (reset the connection|Connection reset by peer)"
	n=$(grep -cE "site=$site .* in=15 out=$N .*reason=backend_error" "$T/chainfix.log" || true)
	[ "$n" = 8 ] || fail "$site backend: $n of 8 session lines count all $N bytes"
	ok "$site backend: each session line counts $N bytes out and says backend_error"
done
chainfix_stop_clean
pass
