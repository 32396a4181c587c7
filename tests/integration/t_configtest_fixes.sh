#!/usr/bin/env bash
# configtest fails what will fail, with the fix: for each backend an
# administrator meets on the first day (Exchange's self-signed certificate,
# a plain HTTP port, a TLS 1.0-only Exchange 2010, an internal CA, a
# certificate for another name, nothing listening, a port that accepts and
# never answers) it exits 1 and prints the problem and its fix, the
# configuration line to paste when there is one.  Pasting those lines makes
# the same configtest pass, with the Extended Protection warning left as a
# warning.  --no-selftest does not look at backends at all.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl /usr/bin/python3

mkpki "$T/pki"
P=$T/pki

backend_s_server selfsigned "$P/self.pem" "$P/self.key"
SELF=$BG_PORT
# Exchange 2010 on Windows Server 2008 R2: TLS 1.0 only.
s_server old 127.0.0.1 -www -tls1 -cipher DEFAULT:@SECLEVEL=0 \
    -cert "$P/leaf.pem" -key "$P/leaf.key" -cert_chain "$P/leaf-full.pem" \
    -naccept 100000
OLD=$BG_PORT
# IIS's port 80, or a backend entry that forgot the TLS port.
mkdir "$T/www"
bg plain /usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 \
    --directory "$T/www"
bg_port plain "Serving HTTP on 127\.0\.0\.1 port "
PLAIN=$BG_PORT
# A backend certificate from the same (internal) CA as the site's.
backend_s_server internal "$P/leaf.pem" "$P/leaf.key" "$P/leaf-full.pem"
INTERNAL=$BG_PORT
silent_backend hung
HUNG=$BG_PORT
closed_port
CLOSED=$BG_PORT

PIN=$(openssl x509 -in "$P/self.pem" -outform DER | sha256sum | cut -d' ' -f1)

# Each site: name, backend, its own lines ("key = value;key = value").
SITES="selfsigned 127.0.0.1:$SELF -
old 127.0.0.1:$OLD backend_ca = $P/root.pem
plain 127.0.0.1:$PLAIN backend_ca = $P/root.pem
internal 127.0.0.1:$INTERNAL -
wrongname 127.0.0.1:$INTERNAL backend_ca = $P/root.pem;backend_sni = mail.example.com"

# write_conf FILE [FIXDIR]: the configuration, each site's lines replaced
# by the fix lines found in FIXDIR/SITE.fix for the same key.
write_conf() {
	local file=$1 fixdir=${2:-} name backend rest line key
	: >"$file"
	global_conf "$file"
	while read -r name backend rest; do
		# configtest binds nothing: every site on port 0 is fine.
		site_block "$file" "$name" 0 "$backend" "handshake_timeout = 2"
		IFS=';' read -ra lines <<<"$rest"
		for line in "${lines[@]}"; do
			[ "$line" = - ] && continue
			key=${line%% =*}
			if [ -n "$fixdir" ] && grep -q "^$key = " "$fixdir/$name.fix" 2>/dev/null; then
				continue
			fi
			echo "$line" >>"$file"
		done
		if [ -n "$fixdir" ] && [ -f "$fixdir/$name.fix" ]; then
			cat "$fixdir/$name.fix" >>"$file"
		fi
	done <<<"$SITES"
}

write_conf "$T/broken.conf"
cat >>"$T/broken.conf" <<EOF
[down]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$CLOSED
backend_ca = $P/root.pem

[hung]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:$HUNG
backend_ca = $P/root.pem
handshake_timeout = 2
EOF

rc=0
"$CHAINFIX" configtest -c "$T/broken.conf" >"$T/broken.log" 2>"$T/broken.err" || rc=$?
[ "$rc" = 1 ] || fail "configtest exited $rc for backends that will fail"
grep -q "configuration OK" "$T/broken.log" && fail "configtest said 'configuration OK'"
grep -q "7 backends will fail" "$T/broken.err" ||
	fail "no count of failing backends: $(cat "$T/broken.err")"
grep -q "configuration has errors" "$T/broken.err" || fail "no 'configuration has errors'"
ok "7 broken backends: exit 1, 'configuration has errors'"

mkdir "$T/fix"
for s in selfsigned old plain internal wrongname down hung; do
	configtest_block "$s" "$T/broken.log" >"$T/$s.txt"
	grep -q "^  ERROR: site $s: backend " "$T/$s.txt" ||
		fail "site $s: no ERROR line: $(cat "$T/$s.txt")"
	grep -q "^  fix: " "$T/$s.txt" || fail "site $s: no fix: $(cat "$T/$s.txt")"
	sed -n 's/^      \([a-z_]* = .*\)$/\1/p' "$T/$s.txt" >"$T/fix/$s.fix"
done

grep -q "does NOT verify: self-signed certificate" "$T/selfsigned.txt" ||
	fail "self-signed backend: $(cat "$T/selfsigned.txt")"
[ "$(cat "$T/fix/selfsigned.fix")" = "backend_verify = sha256:$PIN" ] ||
	fail "self-signed backend: the pin line is not the certificate's SHA-256: $(cat "$T/fix/selfsigned.fix")"
ok "self-signed backend: the exact 'backend_verify = sha256:<64 hex>' line"

grep -q "handshake failed: .*protocol version" "$T/old.txt" ||
	fail "TLS 1.0 backend: $(cat "$T/old.txt")"
grep -q "speaks nothing newer than TLSv1 " "$T/old.txt" ||
	fail "TLS 1.0 backend: the protocol it speaks is not named"
[ "$(cat "$T/fix/old.fix")" = "backend_min_protocol = TLSv1" ] ||
	fail "TLS 1.0 backend: fix is '$(cat "$T/fix/old.fix")'"
ok "TLS 1.0-only backend: 'backend_min_protocol = TLSv1'"

grep -q "does not speak TLS: it answers in plain text (\"HTTP/1.0 " "$T/plain.txt" ||
	fail "plain HTTP backend: $(cat "$T/plain.txt")"
[ "$(cat "$T/fix/plain.fix")" = "backend_tls = no" ] ||
	fail "plain backend: fix is '$(cat "$T/fix/plain.fix")'"
ok "plain HTTP backend: 'backend_tls = no'"

grep -q "does NOT verify: unable to get local issuer certificate" "$T/internal.txt" ||
	fail "internal CA backend: $(cat "$T/internal.txt")"
[ "$(cat "$T/fix/internal.fix")" = "backend_ca = $P/root.pem" ] ||
	fail "internal CA backend: fix is '$(cat "$T/fix/internal.fix")'"
ok "backend from the site's own (internal) CA: 'backend_ca = <the site's roots>'"

grep -q "does NOT verify: hostname mismatch" "$T/wrongname.txt" ||
	fail "wrong name: $(cat "$T/wrongname.txt")"
[ "$(cat "$T/fix/wrongname.fix")" = "backend_sni = localhost" ] ||
	fail "wrong name: fix is '$(cat "$T/fix/wrongname.fix")'"
ok "certificate for another name: 'backend_sni = <its name>'"

grep -q "unreachable: connect to 127.0.0.1:$CLOSED: Connection refused" "$T/down.txt" &&
	grep -q "fix: nothing listens on 127.0.0.1:$CLOSED" "$T/down.txt" ||
	fail "unreachable backend: $(cat "$T/down.txt")"
grep -q "did not answer the TLS handshake within handshake_timeout (2s)" "$T/hung.txt" &&
	grep -q "fix: the backend accepts connections and never answers" "$T/hung.txt" ||
	fail "hung backend: $(cat "$T/hung.txt")"
ok "unreachable and hung backends: reported with what to check"

# The fixes work: pasted in, the same check passes.
write_conf "$T/fixed.conf" "$T/fix"
rc=0
"$CHAINFIX" configtest -c "$T/fixed.conf" >"$T/fixed.log" 2>"$T/fixed.err" || rc=$?
[ "$rc" = 0 ] || fail "configtest with the fixes applied exited $rc: $(grep -E 'ERROR|fix' "$T/fixed.log")"
tail -n 1 "$T/fixed.log" | grep -qx "configuration OK" || fail "no 'configuration OK' after the fixes"
grep -q "ERROR" "$T/fixed.log" && fail "errors left after the fixes"
configtest_block selfsigned "$T/fixed.log" | grep -q "WARNING: backend 127.0.0.1:$SELF presents a different certificate.*Extended Protection" ||
	fail "the Extended Protection warning is gone for the pinned self-signed backend"
grep -q "site old: backend_min_protocol TLSv1: .*security level lowered to 0" "$T/fixed.err" ||
	fail "no warning about the lowered security level"
ok "with the fix lines pasted: exit 0; Extended Protection mismatch stays a warning"

# --no-selftest (the reload path): the broken file passes, nothing probed.
"$CHAINFIX" configtest --no-selftest -c "$T/broken.conf" >"$T/off.log" 2>&1 ||
	fail "configtest --no-selftest failed: $(tail -n 3 "$T/off.log")"
grep -q "^  ERROR: \|^  fix: \|self-test: " "$T/off.log" && fail "--no-selftest looked at backends"
ok "--no-selftest: unchanged"
pass
