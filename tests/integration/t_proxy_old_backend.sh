#!/usr/bin/env bash
# An Exchange 2010 on Windows Server 2008 R2 speaks TLS 1.0 only.  With
# backend_min_protocol = TLSv1 its site relays to it (the backend leg is
# TLS 1.0, verified), with a startup warning about the lowered security
# level; a second site in front of the same backend, without the key, still
# refuses it: the level is lowered for that one backend context only.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl curl

mkpki "$T/pki"
P=$T/pki

s_server old 127.0.0.1 -www -tls1 -cipher DEFAULT:@SECLEVEL=0 \
    -cert "$P/leaf.pem" -key "$P/leaf.key" -cert_chain "$P/leaf-full.pem" \
    -naccept 100000
OLD=$BG_PORT

global_conf "$T/chainfix.conf"
# The same certificate on both sites: an address of its own for each.
site_block "$T/chainfix.conf" exch2010 127.0.0.1:0 "127.0.0.1:$OLD" \
    "backend_ca = $P/root.pem" "backend_min_protocol = TLSv1"
site_block "$T/chainfix.conf" strict 127.0.0.2:0 "127.0.0.1:$OLD" \
    "backend_ca = $P/root.pem"
chainfix_start chainfix "$T/chainfix.conf"
P_OLD=$(cfx_port exch2010)
P_NEW=$(cfx_port strict)
L=$T/chainfix.log

grep -q "warning: site exch2010: backend_min_protocol TLSv1: .*security level lowered to 0 for them (only them)" "$L" ||
	fail "no startup warning about the lowered security level"
grep -q "site strict: backend_min_protocol" "$L" &&
	fail "the strict site was warned about too"
ok "startup warning for the one site that allows TLS 1.0 toward its backend"

# s_server -www answers with a page describing the connection it got.
curl -sS --max-time 20 --cacert "$P/root.pem" --resolve "localhost:$P_OLD:127.0.0.1" \
    "https://localhost:$P_OLD/" >"$T/old.out" 2>"$T/old.err" ||
	fail "no answer through the TLS 1.0 backend: $(cat "$T/old.err")"
grep -Eq "Protocol *: TLSv1$" "$T/old.out" ||
	fail "the backend leg is not TLS 1.0: $(head -n 20 "$T/old.out")"
ok "a strict client reaches the TLS 1.0-only backend; the backend leg is TLSv1"

if curl -sS --max-time 20 --cacert "$P/root.pem" --resolve "localhost:$P_NEW:127.0.0.2" \
    "https://localhost:$P_NEW/" >"$T/new.out" 2>&1 && grep -q "Protocol" "$T/new.out"; then
	fail "the site without backend_min_protocol reached the TLS 1.0 backend"
fi
wait_log "$L" "site=strict .*no backend reachable"
ok "the other site's backend context still refuses TLS 1.0"
chainfix_stop_clean
pass
