#!/bin/bash
# Session ticket keys in the daemon.  Generated keys outlive a reload: a
# client resumes across SIGHUP (OpenSSL's per-context keys did not).  A key
# file is re-read when it changes (watch, no signal): after `ticket-keys
# rotate` the old session still resumes.  A key file others can read is
# warned about by name; no key material ever reaches the log.  A broken key
# file is refused with its file and line, and the running keys stay.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT

session_client
conn() {	# TAG VERSION [FROM]: one connection to chainfix
	sconn "$1" "$PPORT" "$2" ${3:+"$3"}
}
reloaded() {	# LOG N: wait for generation N
	wait_log "$1" "reloaded .* \(generation $2\)"
}

# 1. Generated keys, across a reload.
global_conf "$T/gen.conf"
site_conf "$T/gen.conf" s 0 "$BPORT"
chainfix_start gen "$T/gen.conf"
PPORT=$(cfx_port s)
grep -q "session tickets: keys made in memory, a new one every 3600s" "$T/gen.log" ||
    fail "the generated keys are not announced"
for v in 1.2 1.3; do
	conn "g$v" "$v" | grep -q "reused=0" || fail "TLS $v: no first session"
done
kill -HUP "$CFX_PID"
reloaded "$T/gen.log" 2
for v in 1.2 1.3; do
	r=$(conn "g$v-after" "$v" "g$v")
	case "$r" in *"reused=1 "*) ;; *) fail "TLS $v: no resumption across a reload: $r" ;; esac
done
ok "generated ticket keys outlive a reload (TLS 1.2 and 1.3)"
chainfix_stop_clean gen

# 2. A key file, rotated under a running daemon: noticed without a signal.
KEYS=$T/keys/ticket.keys
mkdir "$T/keys"
"$CHAINFIX" ticket-keys rotate "$KEYS" >/dev/null
global_conf "$T/file.conf"
echo "ticket_keys = $KEYS" >>"$T/file.conf"
site_conf "$T/file.conf" s 0 "$BPORT"
chainfix_start file "$T/file.conf"
PPORT=$(cfx_port s)
grep -q "session tickets: 1 key from $KEYS" "$T/file.log" || fail "the key file is not announced"
for v in 1.2 1.3; do
	conn "f$v" "$v" | grep -q "reused=0" || fail "TLS $v: no first session"
done
"$CHAINFIX" ticket-keys rotate "$KEYS" >/dev/null
reloaded "$T/file.log" 2
grep -q "$KEYS changed: reloading" "$T/file.log" || fail "the reload does not name the key file"
grep -q "session tickets: 2 keys from $KEYS" "$T/file.log" || fail "the new key file was not read"
for v in 1.2 1.3; do
	r=$(conn "f$v-after" "$v" "f$v")
	case "$r" in *"reused=1 "*) ;; *) fail "TLS $v: no resumption after the rotation: $r" ;; esac
done
ok "a rotated key file is read without a signal; old sessions still resume"

# 3. Readable by others: named in a warning (on the reload the chmod causes).
chmod 0644 "$KEYS"
reloaded "$T/file.log" 3
grep -q "warning: session ticket key file $KEYS is readable by others" "$T/file.log" ||
    fail "a key file others can read is not warned about"
ok "a key file others can read is warned about, by name"

# 4. A broken key file: refused with its line, the running keys stay.
cp "$KEYS" "$T/keys.good"
{ cat "$T/keys.good"; echo "not-base64!"; } >"$KEYS.new"
chmod 600 "$KEYS.new"
mv "$KEYS.new" "$KEYS"
wait_log "$T/file.log" "reload of .* failed: keeping the running configuration"
BAD=$(($(wc -l <"$T/keys.good") + 1))	# the line appended
grep -q "error: $KEYS:$BAD: not a ticket key" "$T/file.log" ||
    fail "the refusal does not name the file and line: $(grep error "$T/file.log")"
for v in 1.2 1.3; do
	r=$(conn "f$v-broken" "$v" "f$v-after")
	case "$r" in *"reused=1 "*) ;; *) fail "TLS $v: a broken key file broke resumption: $r" ;; esac
done
ok "a broken key file is refused (file:line), the running keys still resume"

# No key material in any log line: neither a whole key nor its base64.
while read -r line; do
	case "$line" in "#"*|"") continue ;; esac
	grep -qF -- "${line:0:24}" "$T/file.log" "$T/gen.log" &&
	    fail "key material in the log"
done <"$T/keys.good"
ok "no key material in the logs"

echo quit >&7
exec 7>&-
chainfix_stop_clean file
pass
