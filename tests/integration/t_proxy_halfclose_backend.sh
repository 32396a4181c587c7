#!/bin/bash
# Half-close from the backend: a backend that answers and shuts down its
# sending side (as nginx and http.sys do on a lingering close) while the
# client is still uploading: the client gets the whole answer and its end,
# no reset, and the backend still gets every byte of the upload.  With a TLS
# backend (FIN without close_notify, as Microsoft's stack does) and a plain
# one.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
global_conf "$T/chainfix.conf"
tls_and_plain_sites "$T/chainfix.conf"
chainfix_start chainfix "$T/chainfix.conf"

N=$((4 * 1024 * 1024))
for site in tls plain; do
	back=tlsb
	[ "$site" = plain ] && back=plainb
	# The client holds back the last 64 KiB of its upload until the
	# backend's answer and its end have come through the proxy.
	cfx_client "$site" --cafile "$P/root.pem" early "$N" \
	    >"$T/early-$site.log" 2>&1 ||
	    fail "$site backend: $(cat "$T/early-$site.log")"
	grep -q "^early $N ok end=close_notify upload " "$T/early-$site.log" ||
	    fail "$site backend: $(cat "$T/early-$site.log")"
	ok "$site backend: the whole 1 MiB answer and its end while the client was still uploading"
	hash=$(sed -n "s/^early $N ok end=close_notify upload \([0-9a-f]*\)$/\1/p" "$T/early-$site.log")
	wait_log "$T/$back.log" "EARLY upload $hash $N"
	ok "$site backend: and it got all $N bytes of the upload, intact"
	wait_log "$T/chainfix.log" "site=$site .* in=$((N + 14)) out=1048641 .*reason=backend_closed: backend closed"
	ok "$site backend: session line: backend_closed, every byte counted"
done
if grep -Eq "backend (tlsb|plainb): .*(reset|Broken pipe)" "$T/tlsb.log" "$T/plainb.log"; then
	fail "a backend saw a reset"
fi
chainfix_stop_clean
pass
