#!/bin/bash
# t_systemd_install: `cmake --install` (into a DESTDIR) puts the binary, the
# systemd unit, the sysusers entry and the example configuration in place,
# and the installed unit names the binary where that install put it, for
# prefix /usr and for another prefix alike.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need cmake
B=$(dirname "$CHAINFIX")
[ -f "$B/CMakeCache.txt" ] || skip "$CHAINFIX is not in a CMake build directory"
UNIT_SRC="$CHAINFIX_TEST_ROOT/../systemd/chainfix.service"

# install PREFIX DIR: cmake --install into DIR with that prefix.
install_to() {
	DESTDIR="$2" cmake --install "$B" --prefix "$1" >"$T/install.log" 2>&1 ||
	    fail "cmake --install --prefix $1 failed: $(tail -5 "$T/install.log")"
}

for prefix in /usr /opt/chainfix; do
	R="$T/root${prefix//\//_}"
	install_to "$prefix" "$R"
	[ -x "$R$prefix/bin/chainfix" ] || fail "no $prefix/bin/chainfix"
	unit="$R$prefix/lib/systemd/system/chainfix.service"
	[ -f "$unit" ] || fail "no unit at $prefix/lib/systemd/system"
	grep -qx "ExecStart=$prefix/bin/chainfix -c /etc/chainfix/chainfix.conf" "$unit" ||
	    fail "prefix $prefix: the unit's ExecStart is $(grep '^ExecStart=' "$unit")"
	grep -qx "ExecStartPre=$prefix/bin/chainfix configtest --no-selftest -c /etc/chainfix/chainfix.conf" "$unit" ||
	    fail "prefix $prefix: the unit's ExecStartPre does not name $prefix/bin/chainfix"
	# Only the binary's path differs from the unit in the source tree.
	diff <(sed "s#/usr/bin/chainfix#BIN#g" "$UNIT_SRC") \
	    <(sed "s#$prefix/bin/chainfix#BIN#g" "$unit") >"$T/unit.diff" ||
	    fail "prefix $prefix: the installed unit differs: $(cat "$T/unit.diff")"
	grep -q '^u chainfix ' "$R$prefix/lib/sysusers.d/chainfix.conf" ||
	    fail "prefix $prefix: no sysusers entry for user chainfix"
	conf=$(find "$R" -path '*/chainfix/chainfix.conf' -not -path '*/sysusers.d/*' | head -1)
	[ -n "$conf" ] || fail "prefix $prefix: no example chainfix.conf installed"
	ok "prefix $prefix: binary, unit naming $prefix/bin/chainfix, sysusers, ${conf#"$R"}"
done

pass
