#!/bin/bash
# Many sessions at once across the workers: 64 clients each move 1 MiB up
# and 1 MiB down (checksummed) while the configuration is reloaded twice;
# every transfer completes and the daemon exits cleanly (ASan/LSan too).
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
need /usr/bin/python3

mkpki "$T/pki"
P=$T/pki
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
global_conf "$T/chainfix.conf"
site_conf "$T/chainfix.conf" c 0 "$BPORT"
sed -i 's/^workers = 2$/workers = 4/' "$T/chainfix.conf"
chainfix_start chainfix "$T/chainfix.conf"
PPORT=$(cfx_port c)

cat >"$T/clients.py" <<'PY'
import subprocess, sys
peer, port, ca = sys.argv[1:4]
procs = []
for i in range(64):
    cmd = "up" if i % 2 == 0 else "down"
    procs.append(subprocess.Popen(["/usr/bin/python3", peer, "client",
        "--port", port, "--cafile", ca, cmd, str(1 << 20)]))
bad = sum(1 for p in procs if p.wait() != 0)
print("failed transfers: %d" % bad)
sys.exit(1 if bad else 0)
PY
bg clients /usr/bin/python3 "$T/clients.py" "$PEER" "$PPORT" "$P/root.pem"
CLIENTS=$BG_PID
sleep 1
kill -HUP "$CFX_PID"
sleep 0.5
kill -HUP "$CFX_PID"
wait "$CLIENTS" || fail "$(cat "$T/clients.log")"
ok "64 concurrent checksummed transfers across two reloads"
wait_log "$T/chainfix.log" "reloaded .*generation 3"
n=$(grep -c "site=c .* out=" "$T/chainfix.log")
[ "$n" -ge 64 ] || fail "only $n session lines for 64 sessions"
ok "one line per session ($n)"
chainfix_stop_clean
pass
