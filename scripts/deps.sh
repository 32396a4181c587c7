#!/usr/bin/env bash
# scripts/deps.sh: install what chainfix needs to build, test and run its
# demo, from Debian 12's packages.  Idempotent: apt runs only when something
# is missing.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config
	libssl-dev libevent-dev libinih-dev libsystemd-dev
	# tests: unit framework, peers and strict clients
	libcmocka-dev clang openssl ca-certificates curl gnutls-bin python3
	systemd procps iproute2 strace
	# the fleet test: a real L4 load balancer in front of two instances
	haproxy
	# tests: the man pages rendered (man -l) and linted
	man-db groff-base mandoc
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing+=("$p")
done
# The Dockerfile linter runs through npx; a machine whose Node.js came
# from elsewhere already has it, and Debian's npm would conflict there.
command -v npx >/dev/null 2>&1 || missing+=(npm)
# `kubectl kustomize` renders deploy/kubernetes offline (the manifest test);
# any kubectl will do, Debian's is in kubernetes-client.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
