#!/usr/bin/env bash
# bundle: a cross-signed intermediate; `roots` decides the path, both ways,
# even though the cross-sign sorts first in the directory.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

mkpki "$T/pki"
P=$T/pki
mkdir "$T/dir"
cp "$P/int1-cross.pem" "$T/dir/a-cross.pem"	# first in name order
cp "$P/int2.pem" "$T/dir/b-int2.pem"
cp "$P/int1.pem" "$T/dir/c-int1.pem"
cp "$P/int1-expired.pem" "$T/dir/d-int1-expired.pem"

for roots in root root-old; do
	"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
	    --intermediates "$T/dir" --roots "$P/$roots.pem" \
	    >"$T/$roots.bundle" 2>"$T/$roots.log" ||
		fail "bundle toward $roots exited $?"
	strict_verify "$P/$roots.pem" "$T/$roots.bundle" "$P/leaf.pem" ||
		fail "bundle toward $roots does not verify against $roots alone"
	ok "roots=$roots: the bundle verifies against $roots.pem alone"
done

# Proof the two paths differ: each bundle fails against the other root.
if strict_verify "$P/root.pem" "$T/root-old.bundle" "$P/leaf.pem"; then
	fail "the root-old bundle verified against root: paths not distinct"
fi
if strict_verify "$P/root-old.pem" "$T/root.bundle" "$P/leaf.pem"; then
	fail "the root bundle verified against root-old: paths not distinct"
fi
ok "each path verifies only toward its own root"

# Both roots trusted: a path exists either way; shortest wins, and it verifies.
cat "$P/root.pem" "$P/root-old.pem" >"$T/both.pem"
"$CHAINFIX" bundle --cert "$P/leaf.pem" --key "$P/leaf.key" \
    --intermediates "$T/dir" --roots "$T/both.pem" >"$T/both.bundle" \
    2>/dev/null || fail "bundle with both roots failed"
strict_verify "$T/both.pem" "$T/both.bundle" "$P/leaf.pem" ||
	fail "bundle with both roots does not verify"
ok "both roots trusted: a verifying path"
pass
