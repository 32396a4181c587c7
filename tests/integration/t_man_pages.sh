#!/bin/bash
# The man pages: chainfix(8) and chainfix.conf(5) are valid mdoc (mandoc
# -Tlint and groff -ww say nothing), `man -l` renders both, chainfix(8)
# documents every command and every option that the --help of chainfix and
# of each command lists, and `cmake --install` puts both pages (and the
# LICENSE) in place.  (Every configuration key in chainfix.conf(5):
# tests/unit/test_manpage.c, from the parser's own table.)
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need man groff
M=$CHAINFIX_TEST_ROOT/../man

for page in chainfix.8 chainfix.conf.5; do
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint -W warning "$M/$page" >"$T/lint-$page.log" 2>&1 ||
		    fail "mandoc -Tlint $page: $(cat "$T/lint-$page.log")"
	fi
	groff -mandoc -ww -z "$M/$page" >"$T/groff-$page.log" 2>&1
	[ ! -s "$T/groff-$page.log" ] || fail "groff -ww $page: $(cat "$T/groff-$page.log")"
	MANPAGER=cat MANWIDTH=80 man -l "$M/$page" >"$T/$page.txt" 2>"$T/man-$page.log" ||
	    fail "man -l $page failed: $(cat "$T/man-$page.log")"
	grep -q "^NAME" "$T/$page.txt" && grep -q "^SEE ALSO" "$T/$page.txt" ||
	    fail "man -l $page: no NAME or SEE ALSO: $(head "$T/$page.txt")"
	ok "$page: lint clean, man -l renders $(wc -l <"$T/$page.txt") lines"
done

# Every option the usage texts list is in chainfix(8), as an mdoc flag.
{
	"$CHAINFIX" --help
	for cmd in configtest bundle check ticket-keys; do
		"$CHAINFIX" "$cmd" --help
	done
} >"$T/help.txt" 2>&1
opts=$(grep -oE -- '(^|[[ ,|])--?[a-zA-Z][a-z-]*' "$T/help.txt" |
    sed -E 's/^[[ ,|]//' | sort -u)
n=0
for o in $opts; do
	grep -qE "^\.(It|Op|Nm|Fl).* Fl ${o#-}( |$)|^\.(It|Op) Fl ${o#-}( |$)|Fl ${o#-}( |$)" "$M/chainfix.8" ||
	    fail "chainfix(8) does not document $o (from --help)"
	n=$((n + 1))
done
[ "$n" -ge 15 ] || fail "only $n options found in the usage texts: $(cat "$T/help.txt")"
for cmd in configtest bundle check ticket-keys; do
	grep -q "^\.It Cm $cmd" "$M/chainfix.8" || fail "chainfix(8) has no entry for $cmd"
done
ok "chainfix(8) documents the $n options of the usage texts and every command"

# Installed with the binary.
need cmake
B=$(dirname "$CHAINFIX")
[ -f "$B/CMakeCache.txt" ] || skip "$CHAINFIX is not in a CMake build directory"
DESTDIR="$T/root" cmake --install "$B" --prefix /usr >"$T/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -5 "$T/install.log")"
cmp -s "$M/chainfix.8" "$T/root/usr/share/man/man8/chainfix.8" ||
    fail "chainfix.8 not installed in /usr/share/man/man8"
cmp -s "$M/chainfix.conf.5" "$T/root/usr/share/man/man5/chainfix.conf.5" ||
    fail "chainfix.conf.5 not installed in /usr/share/man/man5"
[ -f "$T/root/usr/share/doc/chainfix/LICENSE" ] || fail "LICENSE not installed"
ok "cmake --install: man8/chainfix.8, man5/chainfix.conf.5, doc/chainfix/LICENSE"
pass
