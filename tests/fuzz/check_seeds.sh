#!/usr/bin/env bash
# check_seeds.sh PKI OUT: seeds for fuzz_check (its input format: a flags
# byte, then 3-byte length + DER per certificate) from the test PKI in PKI
# (chainfix-mkpki), one file per chain a server might send.
set -euo pipefail
pki=$1 out=$2
mkdir -p "$out"

# seed NAME FLAGS CERT...: write $out/NAME.
seed() {
	local name=$1 flags=$2 c
	shift 2
	{
		printf "\\x$flags"
		for c in "$@"; do
			openssl x509 -in "$pki/$c.pem" -outform DER >"$out/.der"
			local n
			n=$(stat -c %s "$out/.der")
			printf "\\x$(printf %02x $((n >> 16)))\\x$(printf %02x $(((n >> 8) & 255)))\\x$(printf %02x $((n & 255)))"
			cat "$out/.der"
		done
	} >"$out/$name"
	rm -f "$out/.der"
}

seed leaf-only 00 leaf
seed complete 01 leaf int2 int1 root
seed complete-fix 13 leaf int2 int1
seed misordered 03 leaf int1 int2 root
seed expired-twin 01 leaf int2 int1-expired int1 root
seed cross-sign 02 leaf int2 int1-cross root-old
seed decoy 00 leaf int2 int1-decoy
seed duplicate 08 leaf int2 int2 int1
seed self-signed 05 self
seed by-ip 04 leaf2 int2
seed empty 00
