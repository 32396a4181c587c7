#!/usr/bin/env bash
# intermediates update: fetch a corpus over HTTPS from a local server
# (`openssl s_server -WWW`, certificate from the test PKI), as a PEM bundle
# and as Mozilla's CSV report; the server's certificate is verified (no
# --ca: refused), plain http is refused, nothing usable means nothing
# written, and `intermediates status` shows the update taking precedence.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need openssl python3
mkpki "$T/pki"
P=$T/pki
export CHAINFIX_STATEDIR="$T/state"
STATE_FILE="$T/state/int-bundle.crt"

mkdir "$T/www"
cat "$P/int1.pem" "$P/int2.pem" "$P/root.pem" "$P/leaf.pem" >"$T/www/bundle.pem"
cat "$P/root.pem" >"$T/www/roots-only.pem"
# Mozilla's report: the PEM, in single quotes, in the last quoted field.
python3 - "$P" "$T/www/report.csv" <<'EOF'
import sys
pki, out = sys.argv[1], sys.argv[2]
def pem(name):
    return "'" + open(f"{pki}/{name}.pem").read().strip() + "'"
rows = ['"CA Owner","Certificate Name","SHA-256 Fingerprint","PEM Info"']
rows.append(f'"Example, Inc.","chainfix test int1","AA","{pem("int1")}"')
rows.append(f'"Example, Inc.","chainfix test int2","BB","{pem("int2")}"')
open(out, "w", newline="").write("\r\n".join(rows) + "\r\n")
EOF
cat "$P/int2.pem" "$P/int1.pem" >"$T/chain.pem"

# -WWW serves files relative to its working directory.
cd "$T/www"
s_server www 127.0.0.1 -WWW -cert "$P/leaf.pem" -key "$P/leaf.key" \
    -cert_chain "$T/chain.pem"
cd - >/dev/null
port=$BG_PORT
URL=https://localhost:$port

# The test root is not in the system store: the download is refused.
if "$CHAINFIX" intermediates update --from "$URL/bundle.pem" \
    >"$T/noca.out" 2>"$T/noca.log"; then
	fail "an unverified server was accepted"
fi
grep -q "does not verify" "$T/noca.log" || fail "no verification error: $(cat "$T/noca.log")"
[ ! -e "$STATE_FILE" ] || fail "a corpus was written from an unverified server"
ok "the server's certificate is verified (refused without --ca)"

# Plain http is refused before anything is sent.
if "$CHAINFIX" intermediates update --from "http://localhost:$port/bundle.pem" \
    >/dev/null 2>"$T/http.log"; then
	fail "plain http was accepted"
fi
grep -q "refusing plain http" "$T/http.log" || fail "http: $(cat "$T/http.log")"
ok "plain http refused"

# A PEM bundle: intermediates kept, the root and the leaf left out.
"$CHAINFIX" intermediates update --from "$URL/bundle.pem" --ca "$P/root.pem" \
    >"$T/pem.out" 2>"$T/pem.log" || fail "update from a PEM bundle failed: $(cat "$T/pem.log")"
grep -q "public intermediates: 2 certificates" "$T/pem.out" || fail "pem: $(cat "$T/pem.out")"
grep -q "1 not a CA, 1 self-signed" "$T/pem.out" || fail "pem skipped: $(cat "$T/pem.out")"
[ "$(pem_subjects "$STATE_FILE" | sort | tr '\n' '|')" = "chainfix test int1|chainfix test int2|" ] ||
	fail "the corpus written holds $(pem_subjects "$STATE_FILE" | tr '\n' ' ')"
grep -q "^# source: $URL/bundle.pem" "$STATE_FILE" || fail "no provenance line in the corpus"
"$CHAINFIX" intermediates status >"$T/status.out" 2>&1 || fail "status failed"
grep -q "uses $STATE_FILE (updated by" "$T/status.out" || fail "status: $(cat "$T/status.out")"
grep -q "2 certificates: 2 intermediates used (0 of them expired)" "$T/status.out" || fail "status: $(cat "$T/status.out")"
ok "PEM bundle over HTTPS: 2 intermediates in the state directory, status shows it"

# Mozilla's CSV report.
rm -f "$STATE_FILE"
"$CHAINFIX" intermediates update --from "$URL/report.csv" --ca "$P/root.pem" \
    >"$T/csv.out" 2>"$T/csv.log" || fail "update from a CSV report failed: $(cat "$T/csv.log")"
grep -q "public intermediates: 2 certificates" "$T/csv.out" || fail "csv: $(cat "$T/csv.out")"
[ "$(pem_count "$STATE_FILE")" = 2 ] || fail "the CSV gave $(pem_count "$STATE_FILE") certificates"
ok "CSV report over HTTPS: 2 intermediates"

# Only a root: nothing written, the corpus in place is kept.
cp "$STATE_FILE" "$T/before.pem"
if "$CHAINFIX" intermediates update --from "$URL/roots-only.pem" --ca "$P/root.pem" \
    >/dev/null 2>"$T/roots.log"; then
	fail "a corpus without intermediates was accepted"
fi
grep -q "nothing written" "$T/roots.log" || fail "roots: $(cat "$T/roots.log")"
cmp -s "$STATE_FILE" "$T/before.pem" || fail "the corpus in place changed"
ok "no intermediate in the answer: nothing written"
pass
