#!/bin/bash
# chainfix check against a server sending a complete, ordered chain: OK.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
check_cat "$T/chain.pem" "$P/int2.pem" "$P/int1.pem"
check_serve server "$P/leaf.pem" "$P/leaf.key" "$T/chain.pem"

run_check human "localhost:$PORT" --roots "$P/root.pem"
expect_rc 0 "complete chain, human report"
head -n 1 "$T/human.out" | grep -Eq "^OK localhost:$PORT: " ||
    fail "the verdict line is not first: $(head -n 1 "$T/human.out")"
ok "verdict line first"
grep_out "$T/human.out" "^Chain as sent: 3 certificates" "chain listed"
grep_out "$T/human.out" "subject: +CN=chainfix test int1" "subjects listed"
grep_out "$T/human.out" "sha256: +([0-9A-F]{2}:){31}[0-9A-F]{2}$" "fingerprints listed"
grep_out "$T/human.out" "TLS 1.2: yes +TLS 1.3: yes" "both protocol versions"

run_check json "localhost:$PORT" --roots "$P/root.pem" --json
expect_rc 0 "complete chain, JSON"
jcheck "$T/json.out" 'j["verdict"] == "OK" and j["exit_code"] == 0 and codes == []' "no problems"
jcheck "$T/json.out" 'j["chain"]["count"] == 3 and j["chain"]["verified"] and j["chain"]["trusted"]' "verified and trusted"
jcheck "$T/json.out" '[c["role"] for c in j["chain"]["sent"]] == ["leaf", "intermediate", "intermediate"]' "roles"
jcheck "$T/json.out" '[p["sent_index"] for p in j["chain"]["path"]] == [0, 1, 2, None] and j["chain"]["path"][3]["subject"] == "CN=chainfix test root"' "path ends at the root from --roots"
jcheck "$T/json.out" 'j["tls"]["tls1_2"] is True and j["tls"]["tls1_3"] is True and j["tls"]["protocol"] == "TLSv1.3"' "TLS versions"
jcheck "$T/json.out" 'all(c["key_type"] in ("RSA", "EC") and c["key_bits"] >= 256 and len(c["sha256"]) == 64 and c["der_size"] > 0 for c in j["chain"]["sent"])' "per-certificate details"
jcheck "$T/json.out" 'j["chain"]["certificate_message_size"] == 7 + sum(3 + c["der_size"] for c in j["chain"]["sent"]) and j["chain"]["initial_window"] == 14600' "message size"
jcheck "$T/json.out" 'j["fix"] is None and j["activesync"] is None and j["error"] is None' "nothing else"

# The same server by address: the leaf covers IP:127.0.0.1, no SNI is sent.
run_check ip "127.0.0.1:$PORT" --roots "$P/root.pem" --json
expect_rc 0 "by IP address"
jcheck "$T/ip.out" 'j["target"]["servername"] is None and j["target"]["checked_name"] == "127.0.0.1"' "no SNI for an address"

# --roots as a directory of PEM files.
mkdir "$T/roots"
cp "$P/root.pem" "$P/root-old.pem" "$T/roots/"
run_check rootdir "localhost:$PORT" --roots "$T/roots" --json
expect_rc 0 "--roots DIR"
jcheck "$T/rootdir.out" 'j["target"]["roots_count"] == 2 and codes == []' "both roots loaded, chain trusted"

# A --roots that cannot be read is a usage error.
run_check noroots "localhost:$PORT" --roots "$T/nonexistent.pem"
expect_rc 3 "unreadable --roots"
grep_out "$T/noroots.log" "nonexistent.pem" "the file named"

# Trusting only the system roots, the same chain is not trusted.
run_check system "localhost:$PORT" --json
expect_rc 2 "system roots do not know the test root"
jcheck "$T/system.out" '"incomplete" in codes and j["chain"]["missing_issuer"]["subject"] == "CN=chainfix test root"' "missing root named"

# --warn-days larger than the remaining life: a warning.
run_check warn "localhost:$PORT" --roots "$P/root.pem" --json --warn-days 400
expect_rc 1 "expiring within --warn-days"
jcheck "$T/warn.out" '"leaf_expiring" in codes and "intermediate_expiring" in codes and j["verdict"] == "WARNING"' "expiry warnings"
pass
