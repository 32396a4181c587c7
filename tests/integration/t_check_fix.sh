#!/bin/bash
# chainfix check --intermediates on a leaf-only server: the bundle it prints
# completes the chain, and is exactly what `chainfix bundle` makes.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_serve server "$P/leaf.pem" "$P/leaf.key"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json --intermediates "$P/intermediates"
expect_rc 2 "still critical: the server is still broken"
jcheck "$T/json.out" '"incomplete" in codes' "incomplete"
jcheck "$T/json.out" 'j["fix"]["complete"] and j["fix"]["trusted"] and j["fix"]["count"] == 3 and j["fix"]["error"] is None' "the directory completes the chain"
json_field "$T/json.out" 'j["fix"]["bundle"]' >"$T/bundle.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/bundle.pem")" = 3 ] || fail "bundle: $(cat "$T/bundle.pem")"
openssl verify -CAfile "$P/root.pem" -untrusted "$T/bundle.pem" "$P/leaf.pem" >"$T/verify.log" 2>&1 ||
    fail "openssl verify rejects the bundle: $(cat "$T/verify.log")"
ok "openssl verify -CAfile root.pem -untrusted bundle leaf.pem"
openssl x509 -in "$T/bundle.pem" -noout -subject | grep -q "CN *= *localhost" || fail "the bundle does not start with the leaf"
ok "leaf first"

# The same engine as `chainfix bundle`: the same bytes.
"$CHAINFIX" bundle --cert "$P/leaf.pem" --intermediates "$P/intermediates" \
    --roots "$P/root.pem" >"$T/tool.pem" 2>"$T/bundle-tool.log" || fail "chainfix bundle failed"
cmp -s "$T/tool.pem" "$T/bundle.pem" || fail "check's bundle differs from chainfix bundle's"
ok "identical to chainfix bundle"

# The human report prints the same PEM after the fix heading.
run_check human "localhost:$PORT" --roots "$P/root.pem" --intermediates "$P/intermediates"
expect_rc 2 "human report"
grep_out "$T/human.out" "^Fix from .*intermediates:$" "fix section"
sed -n '/^Fix from/,$p' "$T/human.out" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' >"$T/human.pem"
cmp -s "$T/human.pem" "$T/bundle.pem" || fail "the human report's bundle differs"
ok "same bundle in the human report"

# An empty directory does not complete it, and says so.
mkdir "$T/empty"
run_check empty "localhost:$PORT" --roots "$P/root.pem" --json --intermediates "$T/empty"
expect_rc 2 "empty directory"
jcheck "$T/empty.out" 'j["fix"]["complete"] is False and j["fix"]["bundle"] is None and "chainfix test int2" in j["fix"]["error"]' "the missing issuer named"

# A directory that cannot be read is a usage error, before connecting.
run_check missing "localhost:$PORT" --roots "$P/root.pem" --intermediates "$T/nonexistent"
expect_rc 3 "unreadable directory"
grep_out "$T/missing.log" "nonexistent" "the directory named"

# A server already sending the complete chain: nothing to change.
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"
check_serve good "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"
run_check good "localhost:$PORT" --roots "$P/root.pem" --json --intermediates "$P/intermediates"
expect_rc 0 "good server"
jcheck "$T/good.out" 'j["fix"]["already_sent"] is True' "already sent"
pass
