#!/bin/bash
# The Kubernetes base in deploy/kubernetes: rendered with `kubectl
# kustomize` (offline), every object validated against the Kubernetes
# schemas (the npm package kubernetes-models), and the invariants checked
# (tests/kubernetes/validate.mjs: replicas, non-root, read-only root,
# capabilities dropped, resources, probes, no subPath, grace period >
# shutdown_timeout, ...).  A broken copy must fail the same check.  Then the
# shipped chainfix.conf runs in the real daemon, its mounts replaced by
# local directories (and its Exchange health page check by a TLS check of
# the test backend): configtest accepts it and every probe answers 200.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/kubernetes_lib.sh"
need kubectl node npm flock
BASE=$CHAINFIX_TEST_ROOT/../deploy/kubernetes

kubectl kustomize "$BASE" >"$T/rendered.yaml" 2>"$T/kustomize.log" ||
    fail "kubectl kustomize failed: $(cat "$T/kustomize.log")"
ok "kubectl kustomize renders the base"

# The validator's node modules, installed once next to the build.
k8s_validator

node "$V/validate.mjs" "$T/rendered.yaml" >"$T/validate.log" 2>&1 ||
    fail "the base does not validate: $(grep FAIL "$T/validate.log")"
grep -c "matches the .* schema" "$T/validate.log" | grep -qx 5 ||
    fail "not every object was validated: $(cat "$T/validate.log")"
ok "5 objects match their schemas; invariants hold: $(grep -c '^ok' "$T/validate.log") checks"

# The checks catch what they are for.
sed -e 's/^\(\s*\)- mountPath: \/etc\/chainfix\/tls$/&\n\1  subPath: tls.crt/' \
    -e 's/^\(\s*\)mountPath: \/etc\/chainfix\/tls$/&\n\1subPath: tls.crt/' \
    -e 's/terminationGracePeriodSeconds: .*/terminationGracePeriodSeconds: 30/' \
    -e 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' \
    -e 's/^\(\s*\)- ALL$/\1- NET_RAW/' \
    "$T/rendered.yaml" >"$T/broken.yaml"
if node "$V/validate.mjs" "$T/broken.yaml" >"$T/broken.log" 2>&1; then
	fail "a broken base passed the checks"
fi
for what in "uses subPath" "terminationGracePeriodSeconds 30 <=" \
    "root filesystem is writable" "capabilities are not all dropped"; do
	grep -q "FAIL.*$what" "$T/broken.log" ||
	    fail "the check missed: $what ($(cat "$T/broken.log"))"
done
ok "subPath, a short grace period, a writable root and kept capabilities are caught"

# The shipped configuration in the real daemon: the pod's mounts become
# directories here, the PKI stands in for the Secret.
mkpki "$T/pki"
P=$T/pki
E=$T/etc
mkdir -p "$E/config" "$E/tls" "$E/tickets" "$E/intermediates"
cp "$P/leaf.pem" "$E/tls/tls.crt"
cp "$P/leaf.key" "$E/tls/tls.key"
cp "$P"/intermediates/*.pem "$P"/intermediates/*.der "$E/intermediates/" 2>/dev/null || true
# Twice, as the README says: the shipped configuration stages the first key.
"$CHAINFIX" ticket-keys rotate "$E/tickets/ticket.keys" >/dev/null
"$CHAINFIX" ticket-keys rotate "$E/tickets/ticket.keys" >/dev/null
chmod -R go-rwx "$E"
py_backend backend --cert "$P/leaf-full.pem" --key "$P/leaf.key"
BPORT=$BG_PORT
# (allow_root: the suite runs as root; the pod never does.)
sed -e "s|/etc/chainfix|$E|g" \
    -e "s|^\[global\]|[global]\nallow_root = yes|" \
    -e "s|^admin_listen = .*:8441|admin_listen = 127.0.0.1:0|" \
    -e "s|^listen = .*:8443|listen = 127.0.0.1:0|" \
    -e "s|^backend = .*|backend = 127.0.0.1:$BPORT|" \
    -e "s|^backend_sni = .*|backend_sni = localhost|" \
    -e "s|^backend_check = .*|backend_check = tls|" \
    -e "s|^roots = system|roots = $P/root.pem\nbackend_ca = $P/root.pem|" \
    "$BASE/chainfix.conf" >"$E/config/chainfix.conf"
grep -q "admin_listen = 127.0.0.1:0" "$E/config/chainfix.conf" ||
    fail "the shipped chainfix.conf has no admin_listen on 8441"
"$CHAINFIX" configtest --no-selftest -c "$E/config/chainfix.conf" >"$T/configtest.log" 2>&1 ||
    fail "configtest refuses the shipped chainfix.conf: $(tail -5 "$T/configtest.log")"
grep -q "warning" "$T/configtest.log" &&
    fail "the shipped chainfix.conf draws warnings: $(grep warning "$T/configtest.log")"
grep -Eq "^session tickets: 2 keys from .*, encrypting with key [0-9a-f]{16}, next key [0-9a-f]{16} staged\$" \
    "$T/configtest.log" ||
    fail "the shipped chainfix.conf does not stage the ticket keys: $(grep "session tickets" "$T/configtest.log")"
grep -q "^listen = 127.0.0.1:0" "$E/config/chainfix.conf" ||
    fail "the shipped chainfix.conf has no listen on 8443"
chainfix_start chainfix "$E/config/chainfix.conf"
ADMIN=$(cfx_admin_port)
# The shipped configuration's one site, whatever its name.
PPORT=$(awk '$2 == "listen" { sub(/.*:/, "", $3); print $3; exit }' "$CFX_REPORT")
while read -r _ kind path; do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN$path")
	[ "$code" = 200 ] || fail "the $kind probe $path answers $code"
	ok "the $kind probe $path answers 200"
done < <(grep '^probe ' "$T/validate.log")
[ "$(peer client --port "$PPORT" --cafile "$P/root.pem" who)" = backend ] ||
    fail "the shipped configuration does not relay"
chainfix_stop_clean
pass
