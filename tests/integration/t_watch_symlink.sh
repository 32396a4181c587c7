#!/bin/bash
# Watch: the certificate and key come from a directory laid out as
# Kubernetes mounts a Secret (tls.crt -> ..data/tls.crt, ..data -> a
# timestamped directory), and are replaced the way the kubelet does it: a
# new directory, then an atomic rename of a new ..data symlink over the old
# one.  chainfix notices by itself (no signal, same process) and serves the
# new certificate; a swap to a broken certificate keeps the running one and
# says why; fixing it is noticed too.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

S=$T/secret
mkdir "$S"
n=0
# swap CERT KEY: publish a new version of the Secret, as the kubelet does.
swap() {
	n=$((n + 1))
	mkdir "$S/..v$n"
	cp "$1" "$S/..v$n/tls.crt"
	cp "$2" "$S/..v$n/tls.key"
	ln -s "..v$n" "$S/..data_tmp"
	mv -T "$S/..data_tmp" "$S/..data"
	[ "$n" = 1 ] || rm -rf "$S/..v$((n - 1))"
}
swap "$P/leaf.pem" "$P/leaf.key"
ln -s ..data/tls.crt "$S/tls.crt"
ln -s ..data/tls.key "$S/tls.key"

CFX_LOG_LEVEL=debug global_conf "$T/chainfix.conf"
site_block "$T/chainfix.conf" w 0 "127.0.0.1:$BPORT" \
    "backend_ca = $P/root.pem"
sed -i "s|^cert = .*|cert = $S/tls.crt|; s|^key = .*|key = $S/tls.key|" \
    "$T/chainfix.conf"

cn() {
	peer client --port "$PPORT" --cafile "$P/root.pem" --servername "$1" cert
}
# reloads: how many reloads the log reports, done or failed.
reloads() {
	grep -Ec "reloaded .* \(generation [0-9]+\)|reload of .* failed" \
	    "$T/chainfix.log" || true
}
# wait_reloads N: wait for the Nth reload to be over.
wait_reloads() {
	local i=0
	while [ "$(reloads)" -lt "$1" ]; do
		kill -0 "$CFX_PID" 2>/dev/null || fail "chainfix died"
		[ "$i" -lt 600 ] || fail "no reload $1 after 30s"
		sleep 0.05
		i=$((i + 1))
	done
}

chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port w)
[ "$(cn localhost)" = localhost ] || fail "the first certificate is not served"

swap "$P/leaf2.pem" "$P/leaf2.key"
wait_reloads 1
grep -Eq "$S/tls\.(crt|key).* changed: reloading" "$T/chainfix.log" ||
    fail "the reload does not name the changed file"
grep -q "reloaded .* (generation 2)" "$T/chainfix.log" ||
    fail "the new certificate was not loaded: $(tail -5 "$T/chainfix.log")"
[ "$(cn other.test)" = other.test ] ||
    fail "the new certificate is not served after the ..data swap"
kill -0 "$CFX_PID" || fail "chainfix is gone"
ok "..data swap noticed without a signal: new certificate served by the same process"

# A broken version of the Secret: the running certificate stays.
echo "not a certificate" >"$T/broken.pem"
swap "$T/broken.pem" "$P/leaf2.key"
wait_reloads 2
grep -q "reload of .* failed: keeping the running configuration" "$T/chainfix.log" ||
    fail "the broken swap was not refused"
grep -q "tls.crt" <(grep -E "error" "$T/chainfix.log") ||
    fail "the refusal does not name the broken file"
[ "$(cn other.test)" = other.test ] ||
    fail "a broken swap replaced the running certificate"
ok "broken swap refused, the running certificate still served, the file named"

swap "$P/leaf.pem" "$P/leaf.key"
wait_reloads 3
grep -q "reloaded .* (generation 3)" "$T/chainfix.log" ||
    fail "the repaired Secret was not loaded"
[ "$(cn localhost)" = localhost ] || fail "the repaired certificate is not served"
ok "the repaired Secret is picked up"

# An unrelated file in the same directory does not reload: the check it
# causes finds nothing changed.
checks() {	# checks since the last reload that found nothing
	sed -n '/(generation 3)/,$p' "$T/chainfix.log" | grep -c "none changed" || true
}
wait_checks() {
	local i=0
	while [ "$(checks)" -lt "$1" ]; do
		[ "$i" -lt 600 ] || fail "no check $1 after the last reload"
		sleep 0.05
		i=$((i + 1))
	done
}
wait_checks 1	# the one after every reload
echo x >"$S/unrelated.txt"
wait_checks 2
[ "$(reloads)" = 3 ] || fail "an unrelated file caused a reload"
ok "an unrelated file in the directory changes nothing"
chainfix_stop_clean
pass
