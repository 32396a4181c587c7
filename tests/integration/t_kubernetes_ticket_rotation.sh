#!/bin/bash
# The optional ticket key rotation of deploy/kubernetes/ticket-rotation.
#
# The manifests: rendered with `kubectl kustomize` (offline), alone and,
# like the README's overlay, beside the base with both images pinned; every
# object matches its Kubernetes schema and tests/kubernetes/validate.mjs
# --ticket-rotation checks the invariants (daily, Forbid, a Role that may
# get and patch the one Secret by name, non-root, read-only root, seccomp,
# the rotate command on the replicas' key file with --keep 3, the
# write-back on that Secret, ...).  Broken copies must fail the same check.
#
# The pod, outside Kubernetes (no cluster and no container engine here):
# its two commands, taken from the rendered CronJob with the script from the
# rendered ConfigMap, run on a directory laid out like the pod's.  The
# Secret is a JSON object in a fake API store, mounted the kubelet's way
# (the ..data symlink); `kubectl` on PATH is a fake that records its
# arguments, its input and the patch it sends, and applies the patch to the
# store with the real kubectl's own JSON patch (`kubectl patch --local`,
# "test" operation included).  A rotation lands once; a retried write-back,
# a rotation racing another one, a broken key file and a Secret without
# the key write nothing.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"
. "$CHAINFIX_TEST_ROOT/lib/kubernetes_lib.sh"
need kubectl node npm flock python3
DEPLOY=$CHAINFIX_TEST_ROOT/../deploy/kubernetes
REAL_KUBECTL=$(command -v kubectl)
k8s_validator

# --- the manifests ----------------------------------------------------------
kubectl kustomize "$DEPLOY" >"$T/base.yaml" 2>"$T/kustomize.log" ||
    fail "kubectl kustomize of the base failed: $(cat "$T/kustomize.log")"
kubectl kustomize "$DEPLOY/ticket-rotation" >"$T/rotation.yaml" 2>"$T/kustomize.log" ||
    fail "kubectl kustomize of ticket-rotation failed: $(cat "$T/kustomize.log")"
ok "kubectl kustomize renders deploy/kubernetes/ticket-rotation"

# validate NAME FILE...: schemas and invariants of the base with the rotation.
validate() {
	local name=$1
	shift
	node "$V/validate.mjs" --ticket-rotation "$@" >"$T/$name.log" 2>&1 ||
	    fail "$name does not validate: $(grep FAIL "$T/$name.log")"
	grep -c "matches the .* schema" "$T/$name.log" | grep -qx 10 ||
	    fail "$name: not the 10 objects validated: $(cat "$T/$name.log")"
	grep -q '^ok rotate: .* --keep 3 /etc/chainfix/tickets/ticket.keys /work/.*: Secret chainfix-ticket-keys key ticket.keys, mounted on /etc/chainfix/tickets, --keep 3$' \
	    "$T/$name.log" || fail "$name: the rotate command: $(grep rotate "$T/$name.log")"
	grep -qx 'ok Role chainfix-ticket-rotation: get, patch on secrets/chainfix-ticket-keys only' \
	    "$T/$name.log" || fail "$name: the Role: $(grep Role "$T/$name.log")"
}
validate separate "$T/base.yaml" "$T/rotation.yaml"
ok "base + ticket-rotation: 10 objects match their schemas; invariants hold: $(grep -c '^ok' "$T/separate.log") checks"
grep '^ok \(schedule\|concurrencyPolicy\|history\|write-back\|only\|RoleBinding:\|rotate:\)' \
    "$T/separate.log" | sed 's/^ok /  /'

# The README's overlay: both directories, both images pinned.  Directories
# in resources need kustomize 2.1 or later (kubectl 1.21 or later).
kver=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\)\..*/\1/p')
if [ "${kver:-0}" -ge 3 ]; then
	mkdir -p "$T/tree/deploy" "$T/tree/overlay"
	cp -r "$DEPLOY" "$T/tree/deploy/"
	cat >"$T/tree/overlay/kustomization.yaml" <<'YAML'
resources:
  - ../deploy/kubernetes
  - ../deploy/kubernetes/ticket-rotation
images:
  - {name: chainfix, newName: registry.example/chainfix, newTag: "1.4"}
  - {name: registry.k8s.io/kubectl, newName: mirror.example/kubectl, newTag: v1.34.2}
YAML
	kubectl kustomize "$T/tree/overlay" >"$T/overlay.yaml" 2>"$T/kustomize.log" ||
	    fail "kubectl kustomize of the overlay failed: $(cat "$T/kustomize.log")"
	validate overlay "$T/overlay.yaml"
	[ "$(grep -c 'image: registry.example/chainfix:1.4$' "$T/overlay.yaml")" = 2 ] ||
	    fail "the overlay did not pin the chainfix image of the Deployment and the CronJob: $(grep image: "$T/overlay.yaml")"
	[ "$(grep -c 'image: mirror.example/kubectl:v1.34.2$' "$T/overlay.yaml")" = 1 ] ||
	    fail "the overlay did not pin the kubectl image: $(grep image: "$T/overlay.yaml")"
	ok "the README's overlay renders and validates; its images: pins chainfix (Deployment and CronJob) and kubectl"
else
	echo "note: kustomize ${kver:-?} takes no directories in resources: the overlay render is left out"
fi

# The checks catch what they are for.
sed -e 's/concurrencyPolicy: Forbid/concurrencyPolicy: Allow/' \
    -e 's/^\(\s*\)- "3"$/\1- "2"/' \
    -e 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' \
    -e 's/type: RuntimeDefault/type: Unconfined/' \
    -e 's/^\(\s*\)app.kubernetes.io\/name: chainfix-ticket-rotation$/\1app.kubernetes.io\/name: chainfix/' \
    -e 's/^\(\s*\)schedule: .*/\1schedule: "*\/5 * * * *"/' \
    -e 's/^  - patch$/  - patch\n  - list/' \
    "$T/rotation.yaml" >"$T/broken1.yaml"
sed -e '/^  resourceNames:$/d' -e '/^  - chainfix-ticket-keys$/d' \
    -e 's/^\(\s\{10,\}\)- chainfix-ticket-keys$/\1- chainfix-other/' \
    -e 's/automountServiceAccountToken: false/automountServiceAccountToken: true/' \
    -e 's/^\(\s*\)- --keep$/\1- --keepx/' \
    "$T/rotation.yaml" >"$T/broken2.yaml"
for b in broken1 broken2; do
	if node "$V/validate.mjs" --ticket-rotation "$T/base.yaml" "$T/$b.yaml" >"$T/$b.log" 2>&1; then
		fail "a broken rotation ($b) passed the checks"
	fi
done
while IFS='|' read -r b what; do
	grep -q "FAIL.*$what" "$T/$b.log" || fail "the check missed: $what ($(cat "$T/$b.log"))"
done <<'EOF'
broken1|concurrencyPolicy Allow: two rotations could run at once
broken1|rotate keeps 2 keys: staged rotation needs 3
broken1|container rotate: the root filesystem is writable
broken1|container write-back: no RuntimeDefault seccomp profile
broken1|the Service selects the rotation pod
broken1|the PodDisruptionBudget selects the rotation pod
broken1|not once a day
broken1|may get, patch, list: get and patch
broken2|more than the Secret chainfix-ticket-keys, by name
broken2|write-back patches the Secret chainfix-other, the replicas read chainfix-ticket-keys
broken2|the service account token is mounted into every container
broken2|rotate keeps (no --keep) keys
EOF
ok "Allow, --keep 2, a writable root, no seccomp, a pod the Service selects, an hourly schedule, more verbs, no resourceNames, another Secret, the token everywhere are caught"

# --- the pod, outside Kubernetes --------------------------------------------
# (Key files as chainfix wants them: for nobody else.)
umask 077
mkdir -p "$T/bin" "$T/store"
ln -s "$CHAINFIX" "$T/bin/chainfix"
# The fake kubectl: `kubectl patch secret NAME --type=json --patch-file=F`
# against the store, applied by the real kubectl's client-side JSON patch.
cat >"$T/bin/kubectl" <<EOF
#!/bin/bash
set -u
n=\$((\$(cat "$T/kubectl.n" 2>/dev/null || echo 0) + 1))
echo "\$n" >"$T/kubectl.n"
printf '%s\n' "\$*" >>"$T/kubectl.calls"
cat >"$T/kubectl.stdin.\$n"
[ \$# = 5 ] && [ "\$1 \$2" = "patch secret" ] && [ "\$4" = --type=json ] &&
    [ "\${5#--patch-file=}" != "\$5" ] || { echo "fake kubectl: not a JSON patch of a secret" >&2; exit 1; }
f=\${5#--patch-file=}
cp "\$f" "$T/kubectl.patch.\$n" || exit 1
s="$T/store/\$3.json"
[ -f "\$s" ] || { echo "Error from server (NotFound): secrets \"\$3\" not found" >&2; exit 1; }
HOME=$T "$REAL_KUBECTL" patch --local -f "\$s" --type=json -p "\$(cat "\$f")" -o json >"\$s.new" ||
    { rm -f "\$s.new"; exit 1; }
mv "\$s.new" "\$s"
echo "secret/\$3 patched"
EOF
chmod +x "$T/bin/kubectl"
calls() { wc -l <"$T/kubectl.calls" 2>/dev/null || echo 0; }

# store_put NAME FILE [KEY]: the Secret NAME holds FILE as KEY (ticket.keys).
store_put() {
	"$REAL_KUBECTL" create secret generic "$1" --from-file="${3:-ticket.keys}=$2" \
	    --dry-run=client -o json >"$T/store/$1.json"
}
# store_get NAME OUT: the Secret's ticket.keys, decoded.
store_get() {
	python3 -c 'import base64, json, sys
sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["data"]["ticket.keys"]))' \
	    "$T/store/$1.json" >"$2"
}

# pod_start NAME: a new pod of the CronJob under $T/NAME: its volumes, the
# Secret mounted as the kubelet does (files behind ..data), its commands.
pod_start() {
	local root=$T/$1 path secret
	mkdir -p "$root" "$T/$1.argv"
	node "$V/jobpod.mjs" "$T/rotation.yaml" "$root" "$T/$1.argv" >"$T/$1.mounts" ||
	    fail "jobpod.mjs: cannot lay out the pod"
	while read -r _ path secret; do
		python3 - "$T/store/$secret.json" "$root$path" <<'PY'
import base64, json, os, sys
d = json.load(open(sys.argv[1]))["data"]
ts = os.path.join(sys.argv[2], "..2026_12_05_03_17_00.000000001")
os.makedirs(ts)
for k, v in d.items():
    open(os.path.join(ts, k), "wb").write(base64.b64decode(v))
    os.chmod(os.path.join(ts, k), 0o440)
    os.symlink(os.path.join("..data", k), os.path.join(sys.argv[2], k))
os.symlink(os.path.basename(ts), os.path.join(sys.argv[2], "..data"))
PY
	done <"$T/$1.mounts"
	grep -q "^secret /etc/chainfix/tickets chainfix-ticket-keys$" "$T/$1.mounts" ||
	    fail "the pod mounts no Secret chainfix-ticket-keys: $(cat "$T/$1.mounts")"
}
# pod_exec NAME N: run the pod's Nth container (1 rotate, 2 write-back);
# its status, output in $T/NAME-N.log.
pod_exec() {
	local argv=("$T/$1.argv/$2"-*.argv) cmd
	mapfile -d '' cmd <"${argv[0]}"
	PATH=$T/bin:$PATH "${cmd[@]}" </dev/null >"$T/$1-$2.log" 2>&1
}
# pod_run NAME: a whole pod, as Kubernetes runs it: write-back only after
# rotate succeeded.  Returns the failing step's status.
pod_run() {
	pod_start "$1"
	pod_exec "$1" 1 || return
	pod_exec "$1" 2
}

# As the README creates it: rotated twice.
"$CHAINFIX" ticket-keys rotate "$T/k0" >/dev/null
"$CHAINFIX" ticket-keys rotate "$T/k0" >/dev/null
store_put chainfix-ticket-keys "$T/k0"

# 1. A run: one rotation written back.
pod_run a || fail "the rotation pod failed: $(cat "$T"/a-*.log)"
grep -q "new encrypting key [0-9a-f]\{16\}; 3 keys in the file (0 dropped)" "$T/a-1.log" ||
    fail "rotate did not say what it did: $(cat "$T/a-1.log")"
[ "$(calls)" = 1 ] || fail "write-back called kubectl $(calls) times"
grep -qx "patch secret chainfix-ticket-keys --type=json --patch-file=$T/a/work/ticket-keys.patch.json" \
    "$T/kubectl.calls" || fail "write-back ran: $(cat "$T/kubectl.calls")"
[ ! -s "$T/kubectl.stdin.1" ] || fail "write-back fed kubectl something on its input"
grep -qx "secret/chainfix-ticket-keys patched" "$T/a-2.log" || fail "write-back: $(cat "$T/a-2.log")"
store_get chainfix-ticket-keys "$T/k1"
[ "$(wc -l <"$T/k1")" = 3 ] || fail "the Secret holds $(wc -l <"$T/k1") keys, not 3"
[ "$(sed -n 2,3p "$T/k1")" = "$(cat "$T/k0")" ] ||
    fail "the Secret's keys are not one fresh key before the two it held"
grep -qxF "$(head -1 "$T/k1")" "$T/k0" && fail "the first key is not a fresh one"
[ "$(head -1 "$T/k1" | base64 -d | wc -c)" = 80 ] || fail "the fresh key is not 80 bytes"
cp "$T/k1" "$T/k1.check"
"$CHAINFIX" ticket-keys rotate "$T/k1.check" >"$T/k1.check.log" 2>&1 ||
    fail "chainfix does not read the key file written back: $(cat "$T/k1.check.log")"
# Only key ids in the logs, never a key; nothing left beside the patch.
while read -r k; do
	grep -qF "$k" "$T"/a-*.log && fail "a key in the pod's log"
done <"$T/k1"
[ "$(ls -A "$T/a/work")" = ticket-keys.patch.json ] ||
    fail "the emptyDir holds more than the patch: $(ls -A "$T/a/work")"
[ "$(stat -c %a "$T/a/work/ticket-keys.patch.json")" = 600 ] ||
    fail "the patch is mode $(stat -c %a "$T/a/work/ticket-keys.patch.json")"
ok "a run rotates the Secret once: a fresh key first, the two old ones after (--keep 3), chainfix reads it; one kubectl patch, no key in the log"

# 2. The write-back again (a container restart after its patch landed):
# the patch's test fails, nothing changes.
cp "$T/store/chainfix-ticket-keys.json" "$T/before.json"
pod_exec a 2 && fail "a second write-back of the same patch succeeded"
grep -q "test failed" "$T/a-2.log" || fail "the retry failed otherwise: $(cat "$T/a-2.log")"
cmp -s "$T/before.json" "$T/store/chainfix-ticket-keys.json" ||
    fail "a retried write-back changed the Secret"
ok "a retried write-back writes nothing: never two rotations from one run"

# 3. Another rotation between this pod's read and its write-back (an
# administrator, as the README says): the administrator's stays.
pod_start b
pod_exec b 1 || fail "rotate failed: $(cat "$T/b-1.log")"
store_get chainfix-ticket-keys "$T/k2"
"$CHAINFIX" ticket-keys rotate "$T/k2" --keep 3 >/dev/null
store_put chainfix-ticket-keys "$T/k2"
cp "$T/store/chainfix-ticket-keys.json" "$T/before.json"
n=$(calls)
pod_exec b 2 && fail "a write-back over another rotation succeeded"
[ "$(calls)" = $((n + 1)) ] || fail "write-back did not try"
cmp -s "$T/before.json" "$T/store/chainfix-ticket-keys.json" ||
    fail "a write-back overwrote another rotation"
ok "a write-back racing another rotation writes nothing; the other rotation stays"

# 4. A broken key file: rotate fails, write-back never runs, and a patch left
# by an earlier try of the pod is gone.
printf 'not a ticket key\n' >"$T/bad.keys"
store_put chainfix-ticket-keys "$T/bad.keys"
cp "$T/store/chainfix-ticket-keys.json" "$T/before.json"
n=$(calls)
pod_start c
cp "$T/a/work/ticket-keys.patch.json" "$T/c/work/"
pod_exec c 1 && fail "rotate accepted a broken key file"
grep -q "not a valid ticket key file" "$T/c-1.log" ||
    fail "rotate did not say why: $(cat "$T/c-1.log")"
grep -q "$T/c/etc/chainfix/tickets/ticket.keys: not rotated: nothing written back" "$T/c-1.log" ||
    fail "the script did not say nothing is written: $(cat "$T/c-1.log")"
[ -z "$(ls -A "$T/c/work")" ] || fail "a failed rotate left $(ls -A "$T/c/work")"
[ "$(calls)" = "$n" ] || fail "kubectl ran after a failed rotate"
cmp -s "$T/before.json" "$T/store/chainfix-ticket-keys.json" || fail "the Secret changed"
ok "a failed rotate writes nothing (and removes an earlier try's patch)"

# 5. A Secret without the key: a clear error, nothing written.
store_put chainfix-ticket-keys "$T/k0" other.keys
pod_run d && fail "a Secret without ticket.keys was rotated"
grep -q "the Secret mounted on $T/d/etc/chainfix/tickets has no key ticket.keys" "$T/d-1.log" ||
    fail "rotate did not say what is missing: $(cat "$T/d-1.log")"
[ "$(calls)" = "$n" ] || fail "kubectl ran after a failed rotate"
ok "a Secret without ticket.keys: \"$(sed 's/.*error: //' "$T/d-1.log")\""

# 6. The script refuses fewer than 3 keys (staged: next, current, previous).
mapfile -d '' cmd <"$T/a.argv/1-rotate.argv"
PATH=$T/bin:$PATH "${cmd[0]}" "${cmd[1]}" --keep 2 "$T/k0" "$T/a/work/x.json" >"$T/keep.log" 2>&1 &&
    fail "--keep 2 was accepted"
grep -q "needs 3 keys or more" "$T/keep.log" || fail "--keep 2: $(cat "$T/keep.log")"
ok "--keep 2 is refused: $(sed 's/.*error: //' "$T/keep.log")"

pass
