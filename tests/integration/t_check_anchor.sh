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
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true

# A self-signed server certificate: not trusted, unless it is a root itself.
check_serve self "$P/self.pem" "$P/self.key"
run_check self "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 2 "self-signed leaf"
jcheck "$T/self.out" 'codes == ["untrusted_root"] and "self-signed" in probs["untrusted_root"]["message"] and j["chain"]["sent"][0]["role"] == "leaf"' "self-signed leaf is untrusted"
run_check selfok "localhost:$PORT" --roots "$P/self.pem" --json
expect_rc 0 "self-signed leaf among the roots"
jcheck "$T/selfok.out" 'codes == [] and j["chain"]["verified"]' "trusted when pinned as a root"
pass
