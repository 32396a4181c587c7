#!/bin/bash
# t_docker_lint: the Dockerfile passes a Dockerfile linter from npm
# (dockerfile-utils, the validator behind VS Code's Docker support) with no
# error and no warning.  No container engine runs here; t_docker_dockerfile
# checks the image's contents and t_docker_entrypoint its entry point.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need npx
LINTER=dockerfile-utils@0.16.3
DOCKERFILE="$CHAINFIX_TEST_ROOT/../Dockerfile"
[ -f "$DOCKERFILE" ] || fail "no Dockerfile at $DOCKERFILE"

# Fetch (or find in the npm cache) the linter first, so that a registry we
# cannot reach is a skip and not a lint failure.
if ! npx --yes -p "$LINTER" dockerfile-utils --version >"$T/fetch.log" 2>&1; then
	skip "cannot fetch $LINTER from npm: $(tail -1 "$T/fetch.log")"
fi

# The linter must be able to fail: a known-bad Dockerfile first.
printf 'FROM debian:12-slim\nEXPOSE abc\nHEALTHCHECK --intervall=3s CMD true\n' \
    >"$T/Dockerfile.bad"
if npx --yes -p "$LINTER" dockerfile-utils lint "$T/Dockerfile.bad" \
    >"$T/bad.log" 2>&1; then
	fail "the linter accepted a broken Dockerfile: $(cat "$T/bad.log")"
fi
grep -q "intervall" "$T/bad.log" || fail "the linter missed the bad flag"
ok "the linter rejects a broken Dockerfile"

rc=0
npx --yes -p "$LINTER" dockerfile-utils lint "$DOCKERFILE" >"$T/lint.log" 2>&1 ||
    rc=$?
[ "$rc" = 0 ] || fail "dockerfile-utils lint exited $rc: $(cat "$T/lint.log")"
[ ! -s "$T/lint.log" ] || fail "dockerfile-utils lint: $(cat "$T/lint.log")"
ok "dockerfile-utils lint: no error, no warning"

pass
