#!/bin/bash
# chainfix-entrypoint: the container's entry point.
#
#   run (default)   check the configuration, then become the daemon
#                   (exec, so it is PID 1 and gets the stop signal itself)
#   configtest      check the configuration, print every chain, exit
#   healthcheck     GET /healthz on the admin endpoint; exit 0 if it says 200
#   chainfix ARGS / bundle / check / --version ...
#                   run chainfix with those arguments (the tools)
#   anything else   run it as a command (e.g. bash, for debugging)
#
# Environment:
#   CHAINFIX_CONF    the configuration file (/etc/chainfix/chainfix.conf)
#   CHAINFIX_BIN     the binary (/usr/bin/chainfix)
#   CHAINFIX_HEALTH  host:port of admin_listen for healthcheck (127.0.0.1:8441)
set -eu

CHAINFIX_CONF=${CHAINFIX_CONF:-/etc/chainfix/chainfix.conf}
CHAINFIX_BIN=${CHAINFIX_BIN:-/usr/bin/chainfix}
CHAINFIX_HEALTH=${CHAINFIX_HEALTH:-127.0.0.1:8441}

say() {
	echo "chainfix-entrypoint: $*" >&2
}

need_conf() {
	if [ ! -e "$CHAINFIX_CONF" ]; then
		say "error: no configuration at $CHAINFIX_CONF: mount a" \
		    "directory holding chainfix.conf on /etc/chainfix" \
		    "(docker run -v /srv/chainfix:/etc/chainfix:ro ...);" \
		    "an annotated example is /usr/share/chainfix/chainfix.conf.example"
		exit 1
	fi
	if [ ! -r "$CHAINFIX_CONF" ]; then
		say "error: $CHAINFIX_CONF is not readable by uid $(id -u):" \
		    "make it (and the keys) readable by that uid or group"
		exit 1
	fi
}

# healthcheck: one HTTP/1.0 request over bash's /dev/tcp; the image has no
# curl.  The engine's --timeout kills a hung check; read -t bounds it too.
healthcheck() {
	local host port status line
	case "$CHAINFIX_HEALTH" in
	\[*\]:*)	# [v6]:port
		host=${CHAINFIX_HEALTH%]:*}
		host=${host#[}
		port=${CHAINFIX_HEALTH##*]:}
		;;
	*:*)
		host=${CHAINFIX_HEALTH%:*}
		port=${CHAINFIX_HEALTH##*:}
		;;
	*)
		say "error: CHAINFIX_HEALTH=$CHAINFIX_HEALTH is not host:port"
		exit 2
		;;
	esac
	case "$host" in
	""|"*"|0.0.0.0)	host=127.0.0.1 ;;
	::)		host=::1 ;;
	esac
	if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
		say "unhealthy: nothing listens on $CHAINFIX_HEALTH"
		exit 1
	fi
	printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
	status=""
	IFS= read -r -t 4 line <&3 || true
	status=$(printf '%s' "$line" | cut -d' ' -f2)
	exec 3<&-
	if [ "$status" = 200 ]; then
		exit 0
	fi
	say "unhealthy: /healthz on $CHAINFIX_HEALTH answered" \
	    "'${line%$'\r'}'"
	exit 1
}

cmd=${1:-run}
case "$cmd" in
run)
	need_conf
	# configtest prints every chain: to stderr with the rest of the logs.
	# The daemon runs the backend self-test itself, in the background: a
	# backend still starting (compose) must not hold up this one.
	if ! "$CHAINFIX_BIN" configtest --no-selftest -c "$CHAINFIX_CONF" >&2; then
		say "error: configtest failed for $CHAINFIX_CONF: not starting"
		exit 1
	fi
	exec "$CHAINFIX_BIN" -c "$CHAINFIX_CONF"
	;;
configtest)
	need_conf
	exec "$CHAINFIX_BIN" configtest -c "$CHAINFIX_CONF"
	;;
healthcheck)
	healthcheck
	;;
chainfix)
	shift
	exec "$CHAINFIX_BIN" "$@"
	;;
-*|bundle|check|help)
	exec "$CHAINFIX_BIN" "$@"
	;;
*)
	exec "$@"
	;;
esac
