#!/bin/bash
# chainfix check against a server that also sends its root: contains anchor.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem" "$P/root.pem"
check_serve server "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 1 "root sent is a warning"
jcheck "$T/json.out" 'codes == ["contains_anchor"] and j["chain"]["sent"][3]["role"] == "anchor" and j["chain"]["sent"][3]["self_signed"]' "contains_anchor"
jcheck "$T/json.out" 'j["chain"]["verified"] and j["chain"]["trusted"]' "still verifies"

# Trusting another root, the sent root is an untrusted anchor: critical.
run_check other "localhost:$PORT" --roots "$P/root-old.pem" --json
expect_rc 2 "untrusted root"
jcheck "$T/other.out" '"untrusted_root" in codes and "contains_anchor" in codes' "untrusted_root"
pass
