#!/bin/bash
# `chainfix -t` is `chainfix configtest` (as nginx -t and hitch -t): the same
# options, wherever -t stands among them, the same output and exit status,
# for a good and a broken configuration; daemon-only options are refused.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

mkpki "$T/pki"
P=$T/pki
: >"$T/good.conf"
global_conf "$T/good.conf"
site_block "$T/good.conf" mail 127.0.0.1:0 127.0.0.1:9 "backend_verify = no"
printf '[global]\nworkers = lots\n' >"$T/bad.conf"

run() {	# NAME ARGS...: output in $T/NAME.out (stdout + stderr), status in $RC
	local name=$1
	shift
	RC=0
	"$CHAINFIX" "$@" >"$T/$name.out" 2>&1 </dev/null || RC=$?
}

for conf in good bad; do
	run "$conf-long" configtest -c "$T/$conf.conf" --no-selftest
	want=$RC
	[ "$conf" = good ] && [ "$want" != 0 ] && fail "configtest of the good file: $want"
	[ "$conf" = bad ] && [ "$want" != 1 ] && fail "configtest of the bad file: $want"
	for args in "-t -c $T/$conf.conf --no-selftest" \
	    "-c $T/$conf.conf -t --no-selftest" \
	    "--no-selftest --config $T/$conf.conf -t"; do
		# shellcheck disable=SC2086
		run "$conf-t" $args
		[ "$RC" = "$want" ] || fail "chainfix $args: exit $RC, configtest $want"
		cmp -s "$T/$conf-long.out" "$T/$conf-t.out" ||
		    fail "chainfix $args: output differs: $(diff "$T/$conf-long.out" "$T/$conf-t.out")"
	done
	ok "$conf configuration: -t gives configtest's output and exit status $want"
done
grep -qx "configuration OK" "$T/good-t.out" || fail "-t: no 'configuration OK'"

run daemonopt -t -c "$T/good.conf" --listen-report "$T/report"
[ "$RC" = 2 ] || fail "-t with --listen-report: exit $RC, expected 2 (usage)"
grep -q "unrecognized option '--listen-report'" "$T/daemonopt.out" ||
    fail "-t with --listen-report: $(cat "$T/daemonopt.out")"
run noconf -t
[ "$RC" = 2 ] || fail "-t without -c: exit $RC, expected 2"
ok "-t refuses what configtest refuses (usage, exit 2)"

run help --help
grep -q "chainfix -t -c FILE" "$T/help.out" || fail "--help does not show -t"
grep -q -- "--listen-report FILE" "$T/help.out" || fail "--help does not show --listen-report"
ok "--help shows -t and --listen-report"
pass
