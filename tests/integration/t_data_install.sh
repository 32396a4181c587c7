#!/usr/bin/env bash
# t_data_install: `cmake --install` puts the shipped data (public
# intermediates, Android root stores, their licence and provenance) in
# PREFIX/share/chainfix, and the installed binary finds it there by itself
# (no CHAINFIX_DATADIR), for prefix /usr and for another prefix alike.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need cmake
B=$(dirname "$CHAINFIX")
[ -f "$B/CMakeCache.txt" ] || skip "$CHAINFIX is not in a CMake build directory"

for prefix in /usr /opt/chainfix; do
	R="$T/root${prefix//\//_}"
	DESTDIR="$R" cmake --install "$B" --prefix "$prefix" >"$T/install.log" 2>&1 ||
	    fail "cmake --install --prefix $prefix failed: $(tail -5 "$T/install.log")"
	D="$R$prefix/share/chainfix"
	for f in int-bundle.crt LICENSE PROVENANCE.md trusted_roots/froyo.pem \
	    trusted_roots/gingerbread.pem trusted_roots/honeycomb.pem \
	    trusted_roots/ics.pem trusted_roots/kitkat.pem; do
		[ -s "$D/$f" ] || fail "prefix $prefix: no $prefix/share/chainfix/$f"
	done
	cmp -s "$D/int-bundle.crt" "$CHAINFIX_TEST_ROOT/../data/int-bundle.crt" ||
	    fail "prefix $prefix: the installed corpus differs from data/"
	env -u CHAINFIX_DATADIR -u CHAINFIX_STATEDIR \
	    "$R$prefix/bin/chainfix" intermediates status >"$T/status.out" 2>&1 ||
	    fail "prefix $prefix: intermediates status failed: $(cat "$T/status.out")"
	grep -q "uses $D/int-bundle.crt (shipped with chainfix)" "$T/status.out" ||
	    fail "prefix $prefix: the binary did not find its data: $(cat "$T/status.out")"
	grep -q "1263 certificates: 1238 intermediates used" "$T/status.out" ||
	    fail "prefix $prefix: $(cat "$T/status.out")"
	# Run from the DESTDIR, the binary's prefix is $R$prefix, never /usr
	# itself: its state directory is PREFIX/var/lib/chainfix.
	state=$R$prefix/var/lib/chainfix
	grep -q "an update would go to $state/int-bundle.crt" "$T/status.out" ||
	    fail "prefix $prefix: state directory: $(cat "$T/status.out")"
	ok "prefix $prefix: data in $prefix/share/chainfix, found by the installed binary; updates go to ${state#"$R"}"
done
pass
