#!/bin/bash
# Data integrity: 64 MiB through chainfix in each direction, checksummed
# end to end (the client and the backend compare SHA-256 digests).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
N=$((64 * 1024 * 1024))

py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" bulk 0 "$BPORT"
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port bulk)

peer client --port "$PPORT" --cafile "$P/root.pem" up "$N" >"$T/up.log" 2>&1 ||
    fail "upload of $N bytes failed: $(cat "$T/up.log")"
ok "64 MiB client -> backend intact"
peer client --port "$PPORT" --cafile "$P/root.pem" down "$N" >"$T/down.log" 2>&1 ||
    fail "download of $N bytes failed: $(cat "$T/down.log")"
ok "64 MiB backend -> client intact"

# The session lines count the bytes: at least N each way.
wait_log "$T/chainfix.log" "site=bulk .* in=[0-9]{8,} out="
wait_log "$T/chainfix.log" "site=bulk .* in=[0-9]+ out=[0-9]{8,} "
chainfix_stop_clean
pass
