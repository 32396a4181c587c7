#!/usr/bin/env bash
# A daemon logging to a file (not the journal) stamps each line with the
# UTC time; the tools (configtest) do not.  /metrics names the build:
# chainfix_build_info{version,openssl,libevent} 1.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need openssl curl

mkpki "$T/pki"
P=$T/pki
backend_s_server backend "$P/leaf.pem" "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
sed -i "s/^\[global\]\$/[global]\nadmin_listen = 127.0.0.1:0/" "$T/chainfix.conf"
site_conf "$T/chainfix.conf" mail 0 "$BPORT"
# As under systemd with stderr redirected: JOURNAL_STREAM names another file.
JOURNAL_STREAM=1:1 chainfix_start chainfix "$T/chainfix.conf"
APORT=$(cfx_admin_port)
PPORT=$(cfx_port mail)
# A snapshot: the daemon goes on writing (its self-test) meanwhile.
L=$T/snapshot.txt
cp "$T/chainfix.log" "$L"
n=$(grep -c . "$L")
s=$(grep -Ec '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}Z chainfix: (info|warning|error|debug): ' "$L")
[ "$n" -gt 3 ] && [ "$s" = "$n" ] || fail "$s of $n log lines are timestamped: $(head -n 3 "$L")"
grep -q "^<[0-9]>" "$L" && fail "journald prefixes on a stream that is not the journal"
ok "daemon log lines carry the UTC time ($n lines)"

curl -sS "http://127.0.0.1:$APORT/metrics" >"$T/metrics.txt"
v=$("$CHAINFIX" --version | awk '{ print $2 }')
grep -Eq "^chainfix_build_info\{version=\"$v\",openssl=\"3\.[0-9.]+\",libevent=\"2\.1\.[^\"]+\"\} 1\$" "$T/metrics.txt" ||
	fail "no chainfix_build_info for $v: $(grep build_info "$T/metrics.txt")"
ok "chainfix_build_info names version $v, OpenSSL and libevent"
chainfix_stop_clean

"$CHAINFIX" configtest --no-selftest -c "$T/chainfix.conf" >"$T/ct.log" 2>&1 ||
	fail "configtest failed"
grep -Eq '^20[0-9]{2}-' "$T/ct.log" && fail "configtest's messages are timestamped"
ok "the tools print without timestamps"
pass
