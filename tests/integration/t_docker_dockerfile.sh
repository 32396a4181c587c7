#!/bin/bash
# t_docker_dockerfile: what the image promises, checked on the Dockerfile
# without a container engine: a multi-stage build on Debian 12 slim, a
# runtime stage that installs no compiler or -dev package but every library
# the built binary links, a non-root user, /etc/chainfix as a volume, SIGTERM
# as the stop signal, a HEALTHCHECK, the entrypoint script and the shipped
# data (public intermediates, Android stores) where the binary finds it.
. "${CHAINFIX_TEST_ROOT:-$(dirname "$0")/..}/lib/lib.sh"

need readelf dpkg awk
TOP="$CHAINFIX_TEST_ROOT/.."
DOCKERFILE="$TOP/Dockerfile"
[ -f "$DOCKERFILE" ] || fail "no Dockerfile at $DOCKERFILE"

# Instructions one per line, continuation lines joined, comments dropped.
awk '
	/^[ \t]*#/ { next }
	{ line = line $0 }
	/\\$/ { sub(/\\$/, " ", line); next }
	{ print line; line = "" }
' "$DOCKERFILE" >"$T/instr"
# The runtime stage: everything after the last FROM.
awk '/^FROM / { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
    "$T/instr" >"$T/runtime"

[ "$(grep -c '^FROM ' "$T/instr")" -ge 2 ] || fail "not a multi-stage build"
grep -Eq '^FROM debian:12-slim AS [a-z]+' "$T/instr" ||
    fail "the build stage is not a named debian:12-slim"
grep -Eq '^FROM debian:12-slim *$' "$T/runtime" ||
    fail "the runtime stage is not debian:12-slim"
grep -Eq '^COPY --from=[a-z]+ .*/chainfix /usr/bin/chainfix' "$T/runtime" ||
    fail "the runtime does not take the binary from the build stage"
ok "multi-stage on debian:12-slim"

# The runtime's packages.
sed -n 's/.*apt-get install -y --no-install-recommends \(.*\)&& rm -rf.*/\1/p' \
    "$T/runtime" | tr -s ' \t' '\n' | grep -v '^$' | sort -u >"$T/pkgs"
[ -s "$T/pkgs" ] || fail "no apt-get install in the runtime stage"
if grep -Eq -- '-dev$|^(build-essential|gcc|cc|make|cmake|pkg-config|clang)$' \
    "$T/pkgs"; then
	fail "the runtime installs build tools: $(tr '\n' ' ' <"$T/pkgs")"
fi
grep -qx ca-certificates "$T/pkgs" ||
    fail "no ca-certificates: roots = system and backend_verify need it"
ok "runtime packages: $(tr '\n' ' ' <"$T/pkgs")"

# Every shared library the binary needs comes from one of those packages
# (the C library is in the base image; sanitizer runtimes are test builds).
readelf -d "$CHAINFIX" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$T/needed"
[ -s "$T/needed" ] || fail "readelf found no NEEDED entry in $CHAINFIX"
while read -r lib; do
	case "$lib" in
	libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|ld-linux*) continue ;;
	libasan.so.*|libubsan.so.*|liblsan.so.*|libtsan.so.*) continue ;;
	esac
	pkg=$(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] || fail "no Debian package owns $lib"
	grep -qx "$pkg" "$T/pkgs" ||
	    fail "$CHAINFIX needs $lib from $pkg, which the runtime stage lacks"
done <"$T/needed"
ok "the runtime installs every library the binary links"

# Never root, and a numeric uid so runAsNonRoot can tell.
user=$(sed -n 's/^USER \([^ ]*\).*/\1/p' "$T/runtime" | tail -1)
[ -n "$user" ] || fail "no USER in the runtime stage: it would run as root"
case "${user%%:*}" in
0|root)	fail "USER is root" ;;
*[!0-9]*) fail "USER $user is not numeric" ;;
esac
ok "runs as uid ${user%%:*}"

grep -Eq '^VOLUME .*/etc/chainfix' "$T/runtime" || fail "/etc/chainfix is not a volume"
grep -Eq '^STOPSIGNAL SIGTERM *$' "$T/runtime" || fail "STOPSIGNAL is not SIGTERM"
grep -Eq '^HEALTHCHECK .*CMD .*healthcheck' "$T/runtime" || fail "no HEALTHCHECK"
grep -Eq '^ENTRYPOINT \["/usr/bin/chainfix-entrypoint"\]' "$T/runtime" ||
    fail "the entrypoint is not chainfix-entrypoint (exec form)"
ok "volume, stop signal, healthcheck, entrypoint"

# What the stages COPY exists, the entrypoint is executable, and
# .dockerignore does not hide what the build needs.
grep -q '^COPY docker/entrypoint.sh /usr/bin/chainfix-entrypoint' "$T/runtime" ||
    fail "the entrypoint script is not copied"
[ -x "$TOP/docker/entrypoint.sh" ] || fail "docker/entrypoint.sh is not executable"
[ -f "$TOP/conf/chainfix.conf" ] || fail "conf/chainfix.conf is missing"
# The shipped data goes where the binary looks: PREFIX/share/chainfix.
grep -Eq '^COPY data/? /usr/share/chainfix/?$' "$T/runtime" ||
    fail "the runtime does not copy data/ to /usr/share/chainfix"
[ -f "$TOP/data/int-bundle.crt" ] && [ -f "$TOP/data/LICENSE" ] ||
    fail "data/ lacks the public intermediates or their licence"
if [ -f "$TOP/.dockerignore" ]; then
	for p in src include conf docker data CMakeLists.txt; do
		if grep -Eqx "$p(/.*)?|/$p" "$TOP/.dockerignore"; then
			fail ".dockerignore excludes $p, which the build needs"
		fi
	done
fi
ok "copied files exist; .dockerignore keeps the sources and data/"

pass
