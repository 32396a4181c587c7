#!/bin/bash
# check's reach per device, and check --chain FILE (a bundle checked before
# it is deployed, without a server): one line per trust store in the human
# report, a "reach" object in --json; on stores of the test's own (a data
# directory whose Android stores hold the test root), the modelled clients
# accept the chain; with the system store, a real chain that no old Android
# verifies is a warning naming the devices, and its legacy chain (from
# bundle --legacy-roots android) is not.  check --fix completes a leaf-only
# chain from the public intermediates.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/check_lib.sh"
need openssl python3
check_pki
DATA=${CHAINFIX_DATADIR:-$CHAINFIX_TEST_ROOT/../data}

check_cat "$T/full.pem" "$P/leaf.pem" "$P/int2.pem" "$P/int1.pem"
run_check full --chain "$T/full.pem" --servername localhost --roots "$P/root.pem" --json
expect_rc 0 "--chain: a complete bundle, private roots"
jcheck "$T/full.out" 'j["tls"] is None and j["target"]["chain_file"].endswith("full.pem")' "no TLS facts, the file named"
jcheck "$T/full.out" 'j["reach"]["system"] is True and not any(j["reach"][k] for k in ("android-2.2", "android-2.3", "android-3", "android-4.0", "android-4.4"))' "reach: the roots yes, no Android store"
jcheck "$T/full.out" '"android_unreachable" not in codes' "no Android warning for a private root"
run_check fullh --chain "$T/full.pem" --servername localhost --roots "$P/root.pem"
expect_rc 0 "human report"
grep_out "$T/fullh.out" "^Read from .*full.pem, as if a server sent it" "read, not connected"
grep_out "$T/fullh.out" "^Reach \(where the chain as sent verifies\):$" "reach section"
grep_out "$T/fullh.out" "^  roots .*root.pem: yes$" "reach: the roots"
grep_out "$T/fullh.out" "^  Android 4.4: no \(unable to get local issuer certificate\)$" "reach: Android 4.4"

# The name is checked only when given.
run_check wrongname --chain "$T/full.pem" --servername other.example --roots "$P/root.pem" --json
expect_rc 2 "a name the leaf does not cover"
jcheck "$T/wrongname.out" '"hostname_mismatch" in codes' "hostname checked"

# A leaf-only bundle: incomplete, nowhere.
run_check leaf --chain "$P/leaf.pem" --roots "$P/root.pem" --json
expect_rc 2 "--chain: a leaf alone"
jcheck "$T/leaf.out" '"incomplete" in codes and j["reach"]["system"] is False' "incomplete, verifies nowhere"

# check --fix: the public intermediates (a corpus of the test's own).
check_cat "$T/corpus.pem" "$P/int2.pem" "$P/int1.pem"
run_check fix --chain "$P/leaf.pem" --roots "$P/root.pem" --fix --public-intermediates "$T/corpus.pem"
expect_rc 2 "--fix on a leaf alone: still critical"
grep_out "$T/fix.out" "^Fix from what the server sent and the public intermediates:$" "fix section"
grep_out "$T/fix.out" "^1 CN=chainfix test int2 .*corpus.pem  \(public intermediate\)$" "where it came from"
sed -n '/^Fix from/,$p' "$T/fix.out" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' >"$T/fix.pem"
strict_verify "$P/root.pem" "$T/fix.pem" "$P/leaf.pem" || fail "the fix does not verify"
ok "the fix verifies against the root alone"

# Stores of the test's own: the modelled devices verify it.
mkdir -p "$T/data/trusted_roots"
for s in froyo gingerbread honeycomb ics kitkat; do cp "$P/root.pem" "$T/data/trusted_roots/$s.pem"; done
CHAINFIX_DATADIR=$T/data run_check mine --chain "$T/full.pem" --roots "$P/root.pem" --json
expect_rc 0 "stores of our own"
jcheck "$T/mine.out" 'all(j["reach"].values())' "every store verifies it"
mkdir -p "$T/nodata"
CHAINFIX_DATADIR=$T/nodata run_check none --chain "$T/full.pem" --roots "$P/root.pem" --json
jcheck "$T/none.out" 'j["reach"]["system"] is True and j["reach"]["android-4.4"] is None' "a missing store is null, not false"

# Errors: a file that is not there, one without a certificate.
run_check nofile --chain "$T/nonexistent.pem" --roots "$P/root.pem"
expect_rc 3 "--chain: no such file"
grep_out "$T/nofile.out" "nonexistent.pem: cannot open" "the file named"
echo "hello" >"$T/junk.pem"
run_check junk --chain "$T/junk.pem" --roots "$P/root.pem" --json
expect_rc 3 "--chain: no certificate"
jcheck "$T/junk.out" 'j["reach"] is None and "no certificate" in j["error"]' "said so"

# The system store and real certificates: Amazon's Server CA 1B ends at
# Amazon Root CA 1, which no old Android has; its legacy chain does.
openssl crl2pkcs7 -nocrl -certfile "$DATA/int-bundle.crt" |
    openssl pkcs7 -print_certs >"$T/corpus.txt"
awk '/^subject=.*OU = Server CA 1B, CN = Amazon$/ { on = 1 }
    on { print } on && /END CERTIFICATE/ { exit }' "$T/corpus.txt" |
    sed -n '/BEGIN/,/END/p' >"$T/amazon.pem"
"$CHAINFIX" bundle --cert "$T/amazon.pem" --legacy-roots android \
    --legacy-out "$T/amazon-legacy.pem" >"$T/amazon-full.pem" 2>"$T/amazon.log" ||
    skip "no chain for Amazon Server CA 1B here: $(tail -1 "$T/amazon.log")"
[ "$(pem_count "$T/amazon-full.pem")" = 1 ] && [ -s "$T/amazon-legacy.pem" ] ||
    skip "the system store does not end Amazon's chain at Amazon Root CA 1 itself"
run_check amazon --chain "$T/amazon-full.pem" --json
expect_rc 1 "a public chain no old Android verifies: a warning"
jcheck "$T/amazon.out" 'j["reach"]["system"] is True and "android_unreachable" in codes and "Android 2.2, 2.3, 3.x, 4.0 and 4.4" in probs["android_unreachable"]["message"]' "android_unreachable names the devices"
run_check legacy --chain "$T/amazon-legacy.pem" --json
jcheck "$T/legacy.out" 'j["reach"]["android-4.4"] is True and j["reach"]["android-2.3"] is True and j["reach"]["android-2.2"] is False and "android_unreachable" not in codes' "its legacy chain verifies on Android 2.3 to 4.4"
pass
