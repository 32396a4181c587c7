#!/bin/bash
# A command line chainfix cannot run says what is wrong in its first line
# (then the usage), with exit status 2: a command after the options, a
# stray argument, no -c, an unknown command.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

run() {	# NAME ARGS...: stderr in $T/NAME.err, status in $RC
	local name=$1
	shift
	RC=0
	"$CHAINFIX" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null || RC=$?
}
expect() {	# NAME FIRST-LINE: exit 2, stderr's first line, then the usage
	[ "$RC" = 2 ] || fail "$1: exit $RC, expected 2"
	[ "$(head -n 1 "$T/$1.err")" = "$2" ] ||
	    fail "$1: first line '$(head -n 1 "$T/$1.err")', expected '$2'"
	grep -q "^usage: chainfix" "$T/$1.err" || fail "$1: no usage after the error"
	[ -s "$T/$1.out" ] && fail "$1: wrote to stdout: $(cat "$T/$1.out")"
	ok "$1: $2"
}

run after -c "$T/chainfix.conf" configtest
expect after "chainfix: 'configtest' is a command: it goes first (chainfix configtest -c FILE ...)"
run stray -c "$T/chainfix.conf" extra
expect stray "chainfix: unexpected argument 'extra'"
run noconf --listen-report "$T/report"
expect noconf "chainfix: no configuration file: run the proxy with -c FILE"
run unknown confgtest -c "$T/chainfix.conf"
expect unknown "chainfix: unknown command or option 'confgtest'"
[ -e "$T/report" ] && fail "a refused command line wrote the listen report"
pass
