#!/bin/bash
# t_systemd_notify: the daemon speaks systemd's notify protocol as
# Type=notify expects.  We play systemd: a NOTIFY_SOCKET (AF_UNIX datagram)
# that records every message, then check READY=1 once serving with a STATUS
# line, RELOADING=1 (with MONOTONIC_USEC) then READY=1 around each SIGHUP,
# good or bad, and STOPPING=1 on SIGTERM, in that order.  /metrics counts
# the reloads and their result meanwhile.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need python3
"$CHAINFIX" --version 2>/dev/null | grep -q "^chainfix" || fail "no chainfix binary"
# Without libsystemd the daemon sends nothing, by design.
if readelf -d "$CHAINFIX" 2>/dev/null | grep -q 'libsystemd' ||
    nm "$CHAINFIX" 2>/dev/null | grep -q 'sd_notify'; then
	:
else
	skip "chainfix was built without libsystemd (CHAINFIX_SYSTEMD=off)"
fi

# The recorder: one JSON string per datagram, so embedded newlines survive.
SOCK="$T/notify.sock"
bg notify python3 -c '
import json, os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".new")
os.rename(path + ".new", path)
with open(out, "a") as f:
    while True:
        d = s.recv(65536)
        f.write(json.dumps(d.decode("utf-8", "replace")) + "\n")
        f.flush()
' "$SOCK" "$T/messages"
i=0
while [ ! -S "$SOCK" ]; do
	i=$((i + 1))
	[ "$i" -lt 200 ] || fail "the notify recorder did not start: $(cat "$T/notify.log")"
	sleep 0.05
done

mkpki "$T/pki"
P=$T/pki
write_conf() {
	cat >"$T/chainfix.conf" <<CONF
[global]
workers = 1
allow_root = yes
log_level = $1
admin_listen = 127.0.0.1:0

[mail]
listen = 127.0.0.1:0
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:9
backend_verify = no
CONF
}
write_conf info

# messages_has N REGEX: wait until the recorder holds at least N messages
# matching REGEX (as JSON strings).
messages_has() {
	local n=$1 pat=$2 i=0
	while [ "$(grep -Ec -- "$pat" "$T/messages" 2>/dev/null || true)" -lt "$n" ]; do
		i=$((i + 1))
		[ "$i" -lt 600 ] || fail "no $n message(s) matching $pat; got: $(cat "$T/messages" 2>/dev/null)"
		kill -0 "$DPID" 2>/dev/null || [ "${3:-}" = exited ] ||
		    fail "chainfix died: $(tail -5 "$T/daemon.log")"
		sleep 0.05
	done
}

metric() {
	python3 - "$ADMIN" "$1" <<'PY'
import sys, urllib.request
port, name = sys.argv[1], sys.argv[2]
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=30).read().decode()
for line in body.splitlines():
    if line.startswith(name + " "):
        print(line.split()[1])
        break
else:
    sys.exit("no %s in /metrics" % name)
PY
}

CFX_REPORT=$T/daemon.listen
NOTIFY_SOCKET="$SOCK" bg daemon "$CHAINFIX" -c "$T/chainfix.conf" \
    --listen-report "$CFX_REPORT"
DPID=$BG_PID
messages_has 1 '^"READY=1"$'
messages_has 1 '^"STATUS=.*site'
ADMIN=$(cfx_admin_port)
LISTEN=$(cfx_port mail)
ok "READY=1 and STATUS once serving: $(grep STATUS "$T/messages" | head -1)"
# READY=1 means serving: the listener and the admin endpoint answer now.
(exec 3<>"/dev/tcp/127.0.0.1/$LISTEN") 2>/dev/null || fail "READY=1 before the listener accepts"
[ "$(metric chainfix_reloads_total)" = 0 ] || fail "reloads_total is not 0 at start"

# A good reload.
write_conf debug
kill -HUP "$DPID"
messages_has 2 '^"READY=1"$'
grep -Eq '^"RELOADING=1\\nMONOTONIC_USEC=[0-9]+"$' "$T/messages" ||
    fail "no RELOADING=1 with MONOTONIC_USEC: $(cat "$T/messages")"
[ "$(metric chainfix_reloads_total)" = 1 ] || fail "reloads_total is not 1 after a reload"
ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1; reloads_total 1"

# A bad reload: the old configuration stays, systemd still hears READY=1.
printf '[global]\nworkers = lots\n' >"$T/chainfix.conf"
kill -HUP "$DPID"
messages_has 3 '^"READY=1"$'
messages_has 2 '^"RELOADING=1'
[ "$(metric chainfix_reload_failures_total)" = 1 ] ||
    fail "reload_failures_total is not 1 after a failed reload"
[ "$(metric chainfix_reloads_total)" = 1 ] || fail "a failed reload counted as a success"
(exec 3<>"/dev/tcp/127.0.0.1/$LISTEN") 2>/dev/null || fail "not serving after a failed reload"
ok "failed reload: RELOADING=1, READY=1, still serving; reload_failures_total 1"

rc=0
stop "$DPID" TERM || rc=$?
[ "$rc" = 0 ] || fail "chainfix exited $rc on SIGTERM"
messages_has 1 '^"STOPPING=1"$' exited
ok "SIGTERM: STOPPING=1, exit 0"

# The whole conversation in order.
python3 - "$T/messages" <<'PY' || fail "notify messages out of order: $(cat "$T/messages")"
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
kinds = [x.split("\n")[0].split("=")[0] for x in m if not x.startswith("STATUS=")]
want = ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"]
assert kinds == want, (kinds, want)
# STATUS comes after the first READY only as a one-line summary.
for x in m:
    if x.startswith("STATUS="):
        assert "\n" not in x, x
PY
ok "order: READY, RELOADING, READY, RELOADING, READY, STOPPING"

pass
