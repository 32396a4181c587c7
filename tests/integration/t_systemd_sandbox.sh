#!/bin/bash
# t_systemd_sandbox: the daemon fits the sandbox systemd/chainfix.service
# puts it in, checked without systemd by tracing a real run (configtest,
# startup, a relayed session, the admin endpoint, a reload, the drain) with
# strace: every system call it makes is allowed by the unit's
# SystemCallFilter= lines, every socket is of a family in
# RestrictAddressFamilies=, and no mapping is both writable and executable
# (MemoryDenyWriteExecute=yes).  A call outside the filter would be EPERM
# under systemd and break the service only in production.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need strace systemd-analyze /usr/bin/python3
UNIT="$CHAINFIX_TEST_ROOT/../systemd/chainfix.service"
if readelf -d "$CHAINFIX" 2>/dev/null | grep -Eq 'lib(a|ub|l|t)san'; then
	skip "sanitizer build: its runtime makes system calls of its own (the release build is checked)"
fi
strace -f -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace not permitted)"

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
echo "admin_listen = 127.0.0.1:0" >>"$T/chainfix.conf"
site_conf "$T/chainfix.conf" s 0 "$BPORT"
cat >>"$T/chainfix.conf" <<CONF
backend_sni = localhost
CONF

# ExecStartPre and ExecReload run configtest under the same filter.
strace -f -qq -o "$T/trace.configtest" "$CHAINFIX" configtest -c "$T/chainfix.conf" \
    >"$T/configtest.log" 2>&1 || fail "configtest failed: $(tail -5 "$T/configtest.log")"

bg chainfix strace -f -qq -o "$T/trace.daemon" "$CHAINFIX" -c "$T/chainfix.conf"
CFX_PID=$BG_PID
wait_log "$T/chainfix.log" "serving .* site" 60
# The ports from the log, not --listen-report: the trace is of the daemon
# as the unit runs it.
bg_port chainfix "listen 127\.0\.0\.1:0: port "
PPORT=$BG_PORT
bg_port chainfix "admin endpoint on 127\.0\.0\.1:0 \(port "
ADMIN=$BG_PORT
peer client --port "$PPORT" --cafile "$P/root.pem" up 100000 >"$T/up.log" 2>&1 ||
    fail "a session through the traced daemon failed: $(cat "$T/up.log")"
/usr/bin/python3 - "$ADMIN" <<'PY' || fail "the admin endpoint failed under strace"
import sys, urllib.request
for path in ("/healthz", "/metrics", "/chains"):
    r = urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], path), timeout=60)
    assert r.status == 200, (path, r.status)
    r.read()
PY
# The daemon is strace's child: signal it, not strace.
DPID=$(pgrep -P "$CFX_PID" -x chainfix | head -1)
[ -n "$DPID" ] || fail "cannot find chainfix under strace ($CFX_PID)"
kill -HUP "$DPID"
wait_log "$T/chainfix.log" "reloaded" 60
kill -TERM "$DPID"
rc=0
wait "$CFX_PID" || rc=$?
[ "$rc" = 0 ] || fail "chainfix under strace exited $rc: $(tail -5 "$T/chainfix.log")"
ok "traced configtest, startup, a session, the admin endpoint, a reload and the drain"

systemd-analyze syscall-filter >"$T/groups.txt" 2>&1 ||
    fail "systemd-analyze syscall-filter failed"
/usr/bin/python3 - "$UNIT" "$T/groups.txt" "$T/trace.configtest" "$T/trace.daemon" <<'PY' ||
import re, sys

unit, groups_txt, traces = sys.argv[1], sys.argv[2], sys.argv[3:]

# Groups as systemd-analyze prints them: "@name", then indented members
# (system calls or other groups), comments with '#'.
groups, cur = {}, None
for line in open(groups_txt):
    if line.startswith("@"):
        cur = line.split()[0]
        groups[cur] = []
    elif cur and line.strip() and not line.strip().startswith("#"):
        groups[cur].append(line.split()[0])

def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    if name not in groups:
        sys.exit("unknown syscall group %s" % name)
    out = set()
    for m in groups[name]:
        if m not in seen:
            out |= expand(m, seen + (name,))
    return out

allowed = None
families = None
mdwe = False
for line in open(unit):
    line = line.strip()
    if line.startswith("SystemCallFilter="):
        v = line.split("=", 1)[1]
        deny = v.startswith("~")
        names = set()
        for n in v.lstrip("~").split():
            names |= expand(n)
        if deny:
            allowed = (allowed if allowed is not None else set()) - names if allowed is not None else None
            if allowed is None:
                sys.exit("a deny-list filter first is not handled here")
        else:
            allowed = names if allowed is None else allowed | names
    elif line.startswith("RestrictAddressFamilies="):
        families = set(line.split("=", 1)[1].split())
    elif line == "MemoryDenyWriteExecute=yes":
        mdwe = True
if allowed is None or families is None:
    sys.exit("the unit has no SystemCallFilter= or RestrictAddressFamilies=")

# Besides the filter, systemd always lets these through (its own needs and
# what every process does at exit).
allowed |= {"execve", "exit", "exit_group", "rt_sigreturn", "restart_syscall"}

call = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)\(")
used, bad_fam, wx = {}, set(), []
for path in traces:
    for line in open(path):
        m = call.match(line)
        if not m or "resumed>" in line.split("(", 1)[0]:
            continue
        name = m.group(1)
        used.setdefault(name, line.strip()[:160])
        if name == "socket":
            fam = re.search(r"socket\((AF_[A-Z0-9]+)", line)
            if fam and fam.group(1) not in families:
                bad_fam.add(fam.group(1))
        if name in ("mmap", "mprotect", "pkey_mprotect") and mdwe:
            if "PROT_WRITE" in line and "PROT_EXEC" in line:
                wx.append(line.strip()[:160])

errors = []
for name in sorted(set(used) - allowed):
    errors.append("system call %s is outside SystemCallFilter: %s" % (name, used[name]))
for fam in sorted(bad_fam):
    errors.append("socket family %s is outside RestrictAddressFamilies" % fam)
for l in wx:
    errors.append("writable and executable mapping: %s" % l)
if errors:
    sys.exit("\n".join(errors))
print("%d distinct system calls, all allowed" % len(used))
PY
    fail "the daemon would break in the unit's sandbox (see above)"
ok "every system call, socket family and mapping fits the unit's sandbox"

pass
