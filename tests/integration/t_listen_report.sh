#!/bin/bash
# Port 0 and --listen-report: every listen address and admin_listen may ask
# for port 0; the daemon binds a port the system picks (the same one for
# IPv4 and IPv6 of a wildcard address), writes "SITE listen HOST:PORT" per
# site and "global admin_listen HOST:PORT" to the report once listening,
# rewrites it after a reload that adds a site, and refuses to start when
# the report cannot be written.  A backend may not be port 0.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
V6=0
/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null && V6=1

conf() {	# extra sites
	: >"$T/chainfix.conf"
	global_conf "$T/chainfix.conf"
	echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
	site_conf "$T/chainfix.conf" one 127.0.0.1:0 "$BPORT"
	site_conf "$T/chainfix.conf" any "*:0" "$BPORT"
	for s in "$@"; do
		site_conf "$T/chainfix.conf" "$s" 127.0.0.2:0 "$BPORT"
	done
}
conf
chainfix_start chainfix "$T/chainfix.conf"

# One line per site, then the admin endpoint, each with a real port.
grep -Eq '^one listen 127\.0\.0\.1:[1-9][0-9]*$' "$CFX_REPORT" &&
grep -Eq '^any listen \*:[1-9][0-9]*$' "$CFX_REPORT" &&
grep -Eq '^global admin_listen 127\.0\.0\.1:[1-9][0-9]*$' "$CFX_REPORT" &&
[ "$(wc -l <"$CFX_REPORT")" = 3 ] || fail "listen report: $(cat "$CFX_REPORT")"
ok "report: $(tr '\n' ';' <"$CFX_REPORT")"
[ "$(cfx_port one)" != "$(cfx_port any)" ] || fail "two addresses got one port"

# Each address serves on the port the report names.
[ "$(cfx_client one --cafile "$P/root.pem" who)" = backend ] ||
    fail "site one does not serve on $(cfx_addr one)"
[ "$(peer client --port "$(cfx_port any)" --cafile "$P/root.pem" who)" = backend ] ||
    fail "site any does not serve on 127.0.0.1:$(cfx_port any)"
if [ "$V6" = 1 ]; then
	[ "$(peer client --host ::1 --port "$(cfx_port any)" --cafile "$P/root.pem" who)" = backend ] ||
	    fail "site any does not serve on [::1]:$(cfx_port any): IPv6 got another port"
	ok "a wildcard address on port 0: one port for IPv4 and IPv6"
fi
/usr/bin/python3 - "$(cfx_admin_port)" <<'PY' || fail "the admin endpoint is not on its reported port"
import sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=30)
assert r.status == 200
PY
ok "every reported port serves"
grep -q "listen 127.0.0.1:0: port $(cfx_port one)" "$T/chainfix.log" ||
    fail "the log does not say which port 127.0.0.1:0 got"

# A reload that adds a site: the report is rewritten, kept ports stay.
ONE=$(cfx_port one)
conf two
kill -HUP "$CFX_PID"
wait_log "$T/chainfix.log" "reloaded .*generation 2"
[ "$(cfx_port one)" = "$ONE" ] || fail "a kept address changed port on reload"
[ "$(cfx_host two)" = 127.0.0.2 ] || fail "no new site in the report: $(cat "$CFX_REPORT")"
[ "$(cfx_client two --cafile "$P/root.pem" who)" = backend ] ||
    fail "the new site does not serve on $(cfx_addr two)"
[ ! -e "$CFX_REPORT.tmp" ] || fail "a temporary report was left behind"
ok "reload: the report names the new site, kept ports stay"
chainfix_stop_clean

# The report cannot be written: no start, and the error names the file.
rc=0
"$CHAINFIX" -c "$T/chainfix.conf" --listen-report "$T/no/such/dir/report" \
    >"$T/noreport.log" 2>&1 </dev/null || rc=$?
[ "$rc" = 1 ] || fail "an unwritable report: exit $rc, expected 1"
grep -q -- "--listen-report $T/no/such/dir/report" "$T/noreport.log" ||
    fail "the error does not name the report: $(cat "$T/noreport.log")"
ok "an unwritable report stops the start, naming the file"

# Port 0 is for addresses we listen on, not for backends.
sed -i "s|^backend = 127.0.0.1:$BPORT\$|backend = 127.0.0.1:0|" "$T/chainfix.conf"
rc=0
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/b0.out" 2>"$T/b0.err" || rc=$?
[ "$rc" = 1 ] || fail "backend port 0: configtest exit $rc, expected 1"
grep -q '\[one\] backend: "127.0.0.1:0" is not host:port' "$T/b0.err" ||
    fail "backend port 0: no clear error: $(cat "$T/b0.err")"
ok "backend port 0 is a configuration error"
pass
