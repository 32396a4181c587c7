#!/bin/bash
# t_service_privdrop: started as root with `user = nobody`, chainfix binds a
# privileged port and reads root-only keys, then serves as nobody: every
# thread's real, effective, saved and filesystem uid and gid are nobody's,
# no supplementary group of root's is left, and no capability remains.
# Without `user` (and without allow_root) it refuses to serve as root.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
need python3 getent
getent passwd nobody >/dev/null || skip "no user nobody"
NOBODY_UID=$(getent passwd nobody | cut -d: -f3)
NOBODY_GID=$(getent passwd nobody | cut -d: -f4)

mkpki "$T/pki"
P=$T/pki
# Keys only root can read: they must be loaded before the drop.
chmod 0600 "$P"/*.key
chmod 0700 "$P"

write_conf() {	# GLOBAL_LINE PORT
	cat >"$T/chainfix.conf" <<CONF
[global]
workers = 2
$1
admin_listen = 127.0.0.1:0

[mail]
listen = 127.0.0.1:$2
cert = $P/leaf.pem
key = $P/leaf.key
intermediates = $P/intermediates
roots = $P/root.pem
backend = 127.0.0.1:9
backend_verify = no
CONF
}

# --- root without a user: refused ----------------------------------------
write_conf "" 0
rc=0
"$CHAINFIX" -c "$T/chainfix.conf" >"$T/refuse.log" 2>&1 </dev/null || rc=$?
[ "$rc" != 0 ] || fail "chainfix served as root without user or allow_root"
grep -q "refusing to serve as root" "$T/refuse.log" ||
    fail "no refusal message: $(cat "$T/refuse.log")"
ok "root without user: refused (exit $rc) with a reason"

# --- user = nobody: serves as nobody -------------------------------------
# On a port below 1024, so the bind itself needs root: the first one free
# (chainfix tries it; no probe, so no port can be taken in between).
CFX_REPORT=$T/daemon.listen
DPID=
for LISTEN in $(seq 1000 -1 900); do
	write_conf "user = nobody" "$LISTEN"
	bg daemon "$CHAINFIX" -c "$T/chainfix.conf" --listen-report "$CFX_REPORT"
	i=0
	while ! grep -q "serving" "$T/daemon.log" && kill -0 "$BG_PID" 2>/dev/null; do
		[ "$i" -lt 600 ] || fail "chainfix did not start"
		sleep 0.05
		i=$((i + 1))
	done
	if grep -q "serving" "$T/daemon.log"; then
		DPID=$BG_PID
		break
	fi
	grep -q "Address already in use" "$T/daemon.log" ||
	    fail "chainfix did not start: $(cat "$T/daemon.log")"
done
[ -n "$DPID" ] || skip "no free port from 1000 down to 900 on 127.0.0.1"
grep -q "dropped privileges to user nobody" "$T/daemon.log" ||
    fail "no privilege drop logged"
ADMIN=$(cfx_admin_port)

# Every thread: Uid/Gid lines are "real effective saved filesystem".
ntask=0
for st in /proc/"$DPID"/task/*/status; do
	uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")
	gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")
	[ "$uids" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] ||
	    fail "$st: Uid $uids, expected nobody ($NOBODY_UID) everywhere"
	[ "$gids" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" ] ||
	    fail "$st: Gid $gids, expected $NOBODY_GID everywhere"
	groups=$(awk '/^Groups:/ { $1 = ""; print }' "$st")
	for g in $groups; do
		[ "$g" != 0 ] || fail "$st: still in group 0 (Groups:$groups)"
	done
	capeff=$(awk '/^CapEff:/ { print $2 }' "$st")
	capprm=$(awk '/^CapPrm:/ { print $2 }' "$st")
	[ "$capeff" = 0000000000000000 ] && [ "$capprm" = 0000000000000000 ] ||
	    fail "$st: capabilities left (CapEff $capeff, CapPrm $capprm)"
	ntask=$((ntask + 1))
done
[ "$ntask" -ge 2 ] || fail "expected the main thread and workers, saw $ntask task(s)"
ok "all $ntask threads run as nobody ($NOBODY_UID/$NOBODY_GID), no root group, no capabilities"

# Still serving after the drop: the admin endpoint answers.
python3 -c '
import sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=30)
assert r.status == 200
' "$ADMIN" || fail "/healthz does not answer after the drop"
(exec 3<>"/dev/tcp/127.0.0.1/$LISTEN") 2>/dev/null || fail "port $LISTEN does not accept after the drop"
ok "serving on privileged port $LISTEN after the drop"

rc=0
stop "$DPID" TERM || rc=$?
[ "$rc" = 0 ] || fail "chainfix exited $rc on SIGTERM"
pass
