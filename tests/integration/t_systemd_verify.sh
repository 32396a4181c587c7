#!/bin/bash
# t_systemd_verify: systemd/chainfix.service is a unit systemd accepts
# without a single warning, has the settings the service contract needs,
# and keeps its hardening (systemd-analyze security exposure stays low).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need systemd-analyze
UNIT_SRC="$CHAINFIX_TEST_ROOT/../systemd/chainfix.service"
[ -f "$UNIT_SRC" ] || fail "no unit file at $UNIT_SRC"

# verify checks that every Exec path exists: point them at the built binary.
mkdir -p "$T/unit"
UNIT="$T/unit/chainfix.service"
sed "s#/usr/bin/chainfix#$CHAINFIX#g" "$UNIT_SRC" >"$UNIT"
grep -q "$CHAINFIX" "$UNIT" || fail "the unit does not name /usr/bin/chainfix"

# systemd-analyze verify exits 0 on unknown keys and unparsable values and
# only warns: any line about our unit is a failure.
rc=0
systemd-analyze verify "$UNIT" >"$T/verify.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "systemd-analyze verify exited $rc: $(cat "$T/verify.log")"
if grep -E "chainfix\.service|ignoring|Unknown|Failed|not executable" \
    "$T/verify.log" >/dev/null; then
	fail "systemd-analyze verify complained: $(cat "$T/verify.log")"
fi
ok "systemd-analyze verify is silent"

# What the daemon's contract with systemd depends on (issue 4).
key() {
	grep -Eq "^$1\$" "$UNIT_SRC" || fail "the unit lacks: $1"
}
key 'Type=notify'
key 'ExecStartPre=/usr/bin/chainfix configtest --no-selftest -c /etc/chainfix/chainfix\.conf'
key 'ExecStart=/usr/bin/chainfix -c /etc/chainfix/chainfix\.conf'
key 'ExecReload=/usr/bin/chainfix configtest --no-selftest -c /etc/chainfix/chainfix\.conf'
key 'ExecReload=/bin/kill -HUP \$MAINPID'
key 'KillSignal=SIGTERM'
key 'Restart=on-failure'
key 'User=chainfix'
key 'AmbientCapabilities=CAP_NET_BIND_SERVICE'
key 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE'
key 'NoNewPrivileges=yes'
key 'ProtectSystem=strict'
key 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'
key 'SystemCallFilter=@system-service'
# configtest must run before the reload signal, not after.
[ "$(grep -n '^ExecReload=' "$UNIT_SRC" | head -1 | grep -c configtest)" = 1 ] ||
    fail "ExecReload must run configtest before kill -HUP"
# The stop timeout must outlast the drain (shutdown_timeout default 30 s).
stop_secs=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$UNIT_SRC")
[ -n "$stop_secs" ] && [ "$stop_secs" -gt 30 ] ||
    fail "TimeoutStopSec ($stop_secs) must exceed shutdown_timeout (30 s)"
nofile=$(sed -n 's/^LimitNOFILE=\([0-9]*\)$/\1/p' "$UNIT_SRC")
[ -n "$nofile" ] && [ "$nofile" -ge 65536 ] ||
    fail "LimitNOFILE ($nofile) is too low for tens of thousands of sessions"
ok "the unit has the contract's settings"

# The hardening as systemd scores it (0 = locked down, 10 = exposed).
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	systemd-analyze security --offline=yes "$UNIT" >"$T/security.log" 2>&1 ||
	    fail "systemd-analyze security failed: $(tail -5 "$T/security.log")"
	score=$(sed -n 's/.*Overall exposure level for chainfix\.service: \([0-9.]*\).*/\1/p' \
	    "$T/security.log")
	[ -n "$score" ] || fail "no exposure score in $T/security.log"
	awk -v s="$score" 'BEGIN { exit !(s < 3.0) }' ||
	    fail "exposure $score is not below 3.0: $(grep '✗' "$T/security.log")"
	ok "systemd-analyze security exposure $score"
fi

# The sysusers.d entry creates the user the unit runs as.
SYSUSERS="$CHAINFIX_TEST_ROOT/../systemd/chainfix.sysusers"
[ -f "$SYSUSERS" ] || fail "no systemd/chainfix.sysusers"
if command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$T/sysroot"
	systemd-sysusers --dry-run --root="$T/sysroot" "$(cd "$(dirname "$SYSUSERS")" && pwd)/chainfix.sysusers" \
	    >"$T/sysusers.log" 2>&1 || fail "systemd-sysusers rejects the entry: $(cat "$T/sysusers.log")"
	grep -q "Creating user 'chainfix'" "$T/sysusers.log" ||
	    fail "systemd-sysusers would not create user chainfix: $(cat "$T/sysusers.log")"
	if grep -Eqi "garbage|failed|ignoring|missing" "$T/sysusers.log"; then
		fail "systemd-sysusers complained: $(cat "$T/sysusers.log")"
	fi
	ok "systemd-sysusers would create user chainfix"
fi

pass
