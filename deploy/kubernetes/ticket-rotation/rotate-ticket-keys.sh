#!/bin/bash
# rotate-ticket-keys.sh: the first step of the ticket key rotation CronJob
# (deploy/kubernetes/ticket-rotation), run in the chainfix image.
#
#   rotate-ticket-keys.sh --keep N MOUNTED_KEY_FILE PATCH_FILE
#
# Copies MOUNTED_KEY_FILE (a key of the Secret, mounted read-only) into the
# directory of PATCH_FILE (an emptyDir), rotates the copy there with
# `chainfix ticket-keys rotate COPY --keep N`, and writes PATCH_FILE: a JSON
# patch (RFC 6902) for the Secret that replaces the key's value only if the
# Secret still holds exactly what was mounted: a "test" of the old value,
# then a "replace" by the new one.  The CronJob's second container sends it
# (kubectl patch --type=json --patch-file PATCH_FILE); the API server applies
# both operations or neither.
#
# Any failure exits non-zero and leaves no PATCH_FILE, so nothing is written
# back: Kubernetes does not even start the second container after a failed
# init container.  A patch left by an earlier try of the same pod is removed
# first.  Key material never reaches the log: `rotate` prints key ids only.
set -euo pipefail
umask 077

CHAINFIX_BIN=${CHAINFIX_BIN:-chainfix}
me=rotate-ticket-keys

die() {
	echo "$me: error: $*" >&2
	exit 1
}

usage() {
	echo "usage: $me --keep N MOUNTED_KEY_FILE PATCH_FILE" >&2
	exit 2
}

if [ $# -ne 4 ] || [ "$1" != --keep ]; then
	usage
fi
keep=$2
src=$3
patch=$4

# Staged (ticket_keys_staged = yes): next, current and previous key.
case "$keep" in
'' | *[!0-9]*) die "--keep $keep: not a number" ;;
esac
[ "$keep" -ge 3 ] ||
    die "--keep $keep: staged rotation needs 3 keys or more (next, current, previous)"

work=$(dirname "$patch")
key=$(basename "$src")
# The name of the Secret's key, and so a JSON Pointer and a JSON string
# that need no escaping.
case "$key" in
'' | *[!A-Za-z0-9._-]*) die "$src: '$key' is not a Secret key name" ;;
esac
copy=$work/$key
trap 'rm -f "$copy" "$patch.tmp"' EXIT

rm -f "$patch" "$patch.tmp" "$copy"
if [ ! -d "$work" ] || [ ! -w "$work" ]; then
	die "$work: not a writable directory"
fi
[ -e "$src" ] ||
    die "$src: no such file: the Secret mounted on $(dirname "$src") has no key $key (create it first: chainfix ticket-keys rotate, twice)"
[ -s "$src" ] || die "$src: empty: the Secret's key $key holds no ticket keys"

# One read of the mounted file: the kubelet may swap it meanwhile, and the
# value tested must be the one rotated.
cat "$src" >"$copy"
old=$(base64 -w0 "$copy")
"$CHAINFIX_BIN" ticket-keys rotate "$copy" --keep "$keep" ||
    die "$src: not rotated: nothing written back"
new=$(base64 -w0 "$copy")
[ "$new" != "$old" ] || die "$src: rotate changed nothing"

printf '[{"op":"test","path":"/data/%s","value":"%s"},{"op":"replace","path":"/data/%s","value":"%s"}]\n' \
    "$key" "$old" "$key" "$new" >"$patch.tmp"
mv "$patch.tmp" "$patch"
echo "$me: $patch: the Secret's key $key, rotated, if it still holds what was mounted"
