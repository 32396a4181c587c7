# tests/lib/check_lib.sh: helpers for the `chainfix check` scenarios
# (tests/integration/t_check_*.sh).  Source it after lib.sh.

# check_pki: the test PKI in $T/pki ($P names it).
check_pki() {
	P=$T/pki
	mkpki "$P"
}

# check_serve NAME CERT KEY [CHAIN]: an `openssl s_server` on a port of
# 127.0.0.1; sets $PORT and $BG_PID.
check_serve() {
	backend_s_server "$1" "$2" "$3" "${4:-}"
	PORT=$BG_PORT
}

# exchange NAME CERT KEY [--plain|--auth]: lib/exchange_responder.py on a
# port of 127.0.0.1; sets $PORT and $BG_PID.
exchange() {
	local name=$1
	shift
	bg "$name" /usr/bin/python3 "$CHAINFIX_TEST_ROOT/lib/exchange_responder.py" 0 "$@"
	bg_port "$name" "listening on 127\.0\.0\.1:"
	PORT=$BG_PORT
}

# check_cat OUT FILE...: concatenate PEM files into OUT.
check_cat() {
	local out=$1
	shift
	cat "$@" >"$out"
}

# run_check NAME ARGS...: run `chainfix check ARGS`; stdout in $T/NAME.out,
# stderr in $T/NAME.log, exit status in $RC.  Never fails by itself.
run_check() {
	local name=$1
	shift
	RC=0
	CHECK_LAST=$name
	"$CHAINFIX" check "$@" >"$T/$name.out" 2>"$T/$name.log" || RC=$?
}

# expect_rc WANT WHAT: the last run_check exited with WANT.
expect_rc() {
	[ "$RC" = "$1" ] || {
		echo "--- output:"; cat "$T/$CHECK_LAST.out" 2>/dev/null || true
		fail "$2: exit status $RC, want $1"
	}
	ok "$2: exit status $1"
}

# jcheck FILE PYEXPR WHAT: PYEXPR (Python, over the report j and the list
# of problem codes `codes`) must be true for the JSON report in FILE.
jcheck() {
	python3 - "$1" "$2" <<'PY' || fail "$3 (JSON: $2)"
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
codes = [p["code"] for p in j.get("problems") or []]
probs = {p["code"]: p for p in j.get("problems") or []}
if not eval(sys.argv[2]):
    print("report:", json.dumps(j, indent=1)[:6000], file=sys.stderr)
    sys.exit(1)
PY
	ok "$3"
}

# json_field FILE PYEXPR: print PYEXPR evaluated over the report j.
json_field() {
	python3 - "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
v = eval(sys.argv[2])
sys.stdout.write(v if isinstance(v, str) else json.dumps(v))
PY
}

# grep_out FILE REGEX WHAT: FILE has a line matching the extended REGEX.
grep_out() {
	grep -Eq -- "$2" "$1" || {
		echo "--- $1:"; cat "$1"
		fail "$3: no line matching '$2'"
	}
	ok "$3"
}
