#!/bin/bash
# chainfix check with nothing listening, and its usage errors: exit 3.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need python3
closed_port
PORT=$BG_PORT

run_check json "127.0.0.1:$PORT" --json
expect_rc 3 "nothing listening"
jcheck "$T/json.out" 'j["verdict"] == "UNREACHABLE" and j["exit_code"] == 3 and "refused" in j["error"].lower() and j["chain"] is None' "UNREACHABLE with the reason"

run_check human "127.0.0.1:$PORT"
expect_rc 3 "human report"
grep_out "$T/human.out" "^UNREACHABLE 127.0.0.1:$PORT: connect to 127.0.0.1:$PORT: Connection refused$" "one clear line"

run_check v6 "[::1]:$PORT" --json
expect_rc 3 "IPv6 literal"
jcheck "$T/v6.out" 'j["target"]["host"] == "::1" and j["target"]["port"] == '"$PORT" "[::1]:PORT parsed"

run_check zeros "127.0.0.1:0${PORT}" --json
expect_rc 3 "port with a leading zero"
jcheck "$T/zeros.out" 'j["target"]["port"] == '"$PORT" "port in canonical form (valid JSON)"
run_check spaceport "127.0.0.1: 443"
expect_rc 3 "space in the port"
grep_out "$T/spaceport.log" "bad port" "bad port named"

run_check noname "no-such-host.invalid:443"
expect_rc 3 "unresolvable name"
grep_out "$T/noname.out" "^UNREACHABLE .*cannot resolve no-such-host.invalid" "resolution error"

run_check usage
expect_rc 3 "no HOST"
grep_out "$T/usage.log" "HOST\[:PORT\] is missing" "says what is missing"
run_check badport "localhost:99999"
expect_rc 3 "bad port"
grep_out "$T/badport.log" "bad port" "bad port named"
run_check badopt "localhost" --frobnicate
expect_rc 3 "unknown option"
run_check baddays "localhost" --warn-days soon
expect_rc 3 "bad --warn-days"
run_check badname "local host:443"
expect_rc 3 "a space in the host"
grep_out "$T/badname.log" "not a host name or address: 'local host'" "bad host named"
run_check badsni "localhost:443" --servername "$(printf 'a\r\nX-Evil: 1')"
expect_rc 3 "CR LF in --servername"
grep_out "$T/badsni.log" 'not a host name or address: .a\\x0d\\x0aX-Evil: 1.' "bad servername named, escaped"
run_check help --help
expect_rc 0 "--help"
grep_out "$T/help.out" "^usage: chainfix check HOST\[:PORT\]" "usage on stdout"
pass
