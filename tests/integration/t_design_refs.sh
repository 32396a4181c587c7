#!/bin/bash
# t_design_refs: the design notes the code cites are in the repository.  A
# comment points at docs/design.md and a section, as
#   (docs/design.md, "Resumption needs a shutdown")
# and every section so named must exist there, as a "## heading" or a
# "**bold lead.**" paragraph; nothing cites a DESIGN.md outside the tree.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

SRC="$CHAINFIX_TEST_ROOT/.."
DOC="$SRC/docs/design.md"
[ -f "$DOC" ] || fail "no docs/design.md"

if grep -rn --exclude="$TEST_NAME.sh" "DESIGN\.md" "$SRC/src" "$SRC/include" "$SRC/tests" \
    "$SRC/scripts" "$SRC/conf" >"$T/stale.log"; then
	fail "references to a DESIGN.md outside the tree: $(cat "$T/stale.log")"
fi
ok "no reference to DESIGN.md"

# Comments may wrap between "docs/design.md," and the quoted section.
n=0
while IFS= read -r section; do
	n=$((n + 1))
	if ! grep -Fqx "## $section" "$DOC" &&
	    ! grep -Fq "**$section.**" "$DOC"; then
		fail "docs/design.md has no section \"$section\""
	fi
done < <(cat "$SRC"/src/*.c "$SRC"/include/*.h |
    sed 's/^[ \t]*\*[ \t]*/ /' | tr '\n' ' ' |
    grep -o 'docs/design\.md, *"[^"]*"' | sed 's/.*"\(.*\)"/\1/' | sort -u)
[ "$n" -gt 0 ] || fail "no comment cites docs/design.md"
ok "$n cited sections exist in docs/design.md"
pass
