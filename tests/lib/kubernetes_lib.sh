# shellcheck shell=bash
# tests/lib/kubernetes_lib.sh: helpers of the Kubernetes manifest tests
# (t_kubernetes_*.sh).  Source it after lib.sh.

# k8s_validator: put tests/kubernetes (validate.mjs, jobpod.mjs and their
# node modules, kubernetes-models and yaml) in $V, next to the build; npm
# installs the modules once, again only when the lock file changes.  Skips
# the test when npm cannot fetch them.  Serialised: tests may run at once.
k8s_validator() {
	V=$(dirname "$CHAINFIX")/kubernetes-validate
	mkdir -p "$V"
	exec 9>"$V.lock"
	flock 9
	cp "$CHAINFIX_TEST_ROOT"/kubernetes/{package.json,package-lock.json,validate.mjs,jobpod.mjs} "$V/"
	if [ ! -f "$V/node_modules/.installed" ] ||
	    ! cmp -s "$V/package-lock.json" "$V/node_modules/.installed"; then
		if ! (cd "$V" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1; then
			flock -u 9
			skip "npm ci could not install kubernetes-models (no npm registry?): $(tail -3 "$T/npm.log")"
		fi
		cp "$V/package-lock.json" "$V/node_modules/.installed"
	fi
	flock -u 9
	exec 9>&-
}
