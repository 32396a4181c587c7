#!/bin/bash
# Files chainfix reads must be regular files: a FIFO as --cert, --key,
# --password-file or --roots of bundle, or as the configuration of
# configtest and the daemon, is a clear error at once (it used to block for
# ever); a key or password file others can read, and a configuration others
# can change, are warned about, naming the file.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need timeout

mkpki "$T/pki"
P=$T/pki
mkfifo "$T/fifo"

# expect_fifo NAME CMD...: CMD exits 1 within 10 s naming the FIFO.
expect_fifo() {
	local name=$1 rc=0
	shift
	timeout 10 "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	[ "$rc" != 124 ] || fail "$name: blocked on the FIFO"
	[ "$rc" = 1 ] || fail "$name: exit $rc, expected 1: $(cat "$T/$name.err")"
	grep -q "$T/fifo.*is a FIFO, not a regular file" "$T/$name.err" ||
	    fail "$name: no line naming the FIFO: $(cat "$T/$name.err")"
	ok "$name: $(grep FIFO "$T/$name.err" | head -n 1)"
}

expect_fifo bundle-cert "$CHAINFIX" bundle --cert "$T/fifo" \
    --intermediates "$P/intermediates" --roots "$P/root.pem"
expect_fifo bundle-key "$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$T/fifo" \
    --intermediates "$P/intermediates" --roots "$P/root.pem"
expect_fifo bundle-password "$CHAINFIX" bundle --cert "$P/leaf.pfx" \
    --password-file "$T/fifo" --intermediates "$P/intermediates" --roots "$P/root.pem"
expect_fifo bundle-roots "$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
    --intermediates "$P/intermediates" --roots "$T/fifo"
expect_fifo configtest "$CHAINFIX" configtest --no-selftest -c "$T/fifo"
expect_fifo daemon "$CHAINFIX" -c "$T/fifo"

# Modes: a key others can read is named; the same key at 0640 is not.
cp "$P/leaf.key" "$T/open.key"
chmod 0644 "$T/open.key"
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$T/open.key" \
    --intermediates "$P/intermediates" --roots "$P/root.pem" >/dev/null 2>"$T/mode.err" ||
    fail "bundle with a 0644 key: $(cat "$T/mode.err")"
grep -q "warning: private key $T/open.key is readable by others (mode 0644): chmod o-rwx $T/open.key" "$T/mode.err" ||
    fail "no warning for the 0644 key: $(cat "$T/mode.err")"
ok "a key others can read is named"
chmod 0640 "$T/open.key"
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$T/open.key" \
    --intermediates "$P/intermediates" --roots "$P/root.pem" >/dev/null 2>"$T/mode.err"
! grep -q "by others" "$T/mode.err" || fail "a 0640 key was warned about: $(cat "$T/mode.err")"
ok "a 0640 key is not"

# The configuration: readable is fine (no secret in it), writable is not.
# (configtest --no-selftest binds and connects nothing.)
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" files 0 9
chmod 0644 "$T/chainfix.conf"
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/ct.out" 2>&1 ||
    fail "configtest: $(cat "$T/ct.out")"
! grep -q "configuration .* by others" "$T/ct.out" || fail "a 0644 configuration was warned about"
chmod 0666 "$T/chainfix.conf"
"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/ct.out" 2>&1 ||
    fail "configtest: $(cat "$T/ct.out")"
grep -q "warning: configuration $T/chainfix.conf is writable by others (mode 0666)" "$T/ct.out" ||
    fail "no warning for a world-writable configuration: $(cat "$T/ct.out")"
ok "a configuration others can change is named"
pass
