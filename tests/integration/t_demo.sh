#!/usr/bin/env bash
# The README's first quick-start command: the demo must show the strict
# client failing against the leaf-only backend and succeeding through
# chainfix.  Runs it in one-shot mode against the binary under test.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need curl openssl python3

rc=0
DEMO_ONESHOT=1 DEMO_SKIP_BUILD=1 DEMO_DIR="$T/demo" CHAINFIX="$CHAINFIX" \
    bash "$CHAINFIX_TEST_ROOT/../scripts/demo.sh" >"$T/demo.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "demo exited $rc"
grep -q "=> fails" "$T/demo.log" || fail "demo did not show the direct failure"
grep -q "curl: HTTP 200" "$T/demo.log" || fail "curl through chainfix did not get 200"
grep -q "Verify return code: 0 (ok)" "$T/demo.log" ||
	fail "s_client through chainfix did not verify"
grep -Eq "^ *1 s:.*chainfix demo intermediate" "$T/demo.log" ||
	fail "chainfix did not send the intermediate"
ok "demo: strict client fails direct, succeeds through chainfix"
pass
