#!/bin/bash
# t_layering: the modules' include graph keeps its layers.  A generation is
# built from config, chains and TLS contexts and knows nothing of the admin
# endpoint that shows it; the admin endpoint reads chains and metrics and
# needs neither the generation nor the expiry watch.  The graph is the
# compiler's (-MM), so a header pulled in through another one counts.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

SRC="$CHAINFIX_TEST_ROOT/.."
CC=${CC:-cc}
need "$CC"

# deps FILE: the project headers FILE depends on, one base name a line.
deps() {
	"$CC" -MM -I"$SRC/include" "$1" 2>"$T/cc.log" |
	    tr ' \\' '\n\n' | sed -n 's|.*/include/\(.*\.h\)$|\1|p' | sort -u
}

# The headers generation.h depends on are the layers below it.
printf '#include "generation.h"\n' >"$T/gen.c"
below=$(deps "$T/gen.c") || fail "cannot compute the includes: $(cat "$T/cc.log")"
[ -n "$below" ] || fail "generation.h depends on no header?"
echo "$below" | grep -qx chain.h || fail "generation.h does not reach chain.h"
for h in $below; do
	case $h in
	admin.h|proxy.h|session.h|expiry.h)
		fail "generation.h depends on $h" ;;
	esac
	c="$SRC/src/${h%.h}.c"
	[ -f "$c" ] || continue
	if deps "$c" | grep -qx admin.h; then
		fail "src/${h%.h}.c (below generation.h) depends on admin.h"
	fi
done
ok "nothing below generation.h depends on admin.h: $(echo $below)"

admin=$(deps "$SRC/src/admin.c")
for h in generation.h expiry.h proxy.h session.h; do
	if echo "$admin" | grep -qx "$h"; then
		fail "src/admin.c depends on $h"
	fi
done
ok "admin.c depends on $(echo $admin) only"
pass
