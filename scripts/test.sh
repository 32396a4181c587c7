#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, from a fresh Debian 12 machine.
# Installs the dependencies, then builds and runs every unit and integration
# test: a normal (-Werror) build; one under AddressSanitizer +
# UndefinedBehaviorSanitizer (leaks fail the run too); one under
# ThreadSanitizer (the workers are threads).  A clang -Werror build runs the
# unit tests (the other compiler's warnings), and the parsers get a short
# libFuzzer run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "=== build (release, -Werror)"
cmake -S . -B build -DCHAINFIX_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "=== tests (release)"
ctest --test-dir build --output-on-failure --timeout 600 | tee build/ctest.log

echo "=== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCHAINFIX_SANITIZE=ON \
    -DCHAINFIX_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "=== tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure --timeout 900 |
    tee build-asan/ctest.log

echo "=== build (clang, -Werror)"
CC=clang cmake -S . -B build-clang -DCHAINFIX_WERROR=ON >/dev/null
cmake --build build-clang -j"$jobs"
echo "=== tests (clang: unit)"
ctest --test-dir build-clang -R '^unit\.' --output-on-failure --timeout 600 |
    tee build-clang/ctest.log

echo "=== build (ThreadSanitizer)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCHAINFIX_TSAN=ON \
    -DCHAINFIX_WERROR=ON >/dev/null
cmake --build build-tsan -j"$jobs"
echo "=== tests (ThreadSanitizer): the integration suite"
# TSan needs its fixed memory layout; on kernels with more mmap
# randomisation than it allows, run without ASLR (suppressions: ctest sets
# TSAN_OPTIONS from tests/tsan.supp).
norand=()
build-tsan/chainfix --version >/dev/null 2>&1 || norand=(setarch "$(uname -m)" -R)
"${norand[@]}" ctest --test-dir build-tsan -R '^it\.' --output-on-failure \
    --timeout 900 | tee build-tsan/ctest.log

echo "=== fuzz smoke (libFuzzer, clang): parsers of administrator-supplied files and downloaded corpora, check's analysis of server-sent chains, the ClientHello reader"
CC=clang cmake -S . -B build-fuzz -DCHAINFIX_FUZZ=ON -DCHAINFIX_TESTS=OFF \
    >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_certload fuzz_config \
    fuzz_ticketkeys fuzz_check fuzz_corpus fuzz_clienthello
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
build/tests/chainfix-mkpki "$corpus/pki" >/dev/null
mkdir "$corpus/certs" "$corpus/conf" "$corpus/keys" "$corpus/intermediates"
find "$corpus/pki" -type f -exec cp -t "$corpus/certs" {} + 2>/dev/null || true
# Committed seeds: inputs that once crashed a loader (tests/fuzz/corpus/).
cp tests/fuzz/corpus/certload/* "$corpus/certs/"
cp conf/chainfix.conf "$corpus/conf/"
build/chainfix ticket-keys rotate "$corpus/keys/two" >/dev/null
build/chainfix ticket-keys rotate "$corpus/keys/two" >/dev/null
head -c 80 /dev/urandom >"$corpus/keys/nginx80"
head -c 48 /dev/urandom >"$corpus/keys/nginx48"
bash tests/fuzz/check_seeds.sh "$corpus/pki" "$corpus/chains"
# Seeds for the corpus parser: a PEM bundle and a CSV report.
cat "$corpus/pki/int1.pem" "$corpus/pki/int2.pem" >"$corpus/intermediates/bundle.pem"
{ echo '"CA Owner","PEM Info"'; printf '"x","'"'"; cat "$corpus/pki/int1.pem"; echo "'\""; } \
    >"$corpus/intermediates/report.csv"
bash tests/fuzz/clienthello_seeds.sh "$corpus/hellos"
for f in certload:certs config:conf ticketkeys:keys check:chains \
    corpus:intermediates clienthello:hellos; do
	build-fuzz/tests/fuzz/fuzz_${f%%:*} -max_total_time=30 -close_fd_mask=2 \
	    "$corpus/${f#*:}" 2>&1 | tail -n 1
done

# One closing line for the whole run (a failure above has already stopped it).
total=0 skipped=0
for log in build/ctest.log build-asan/ctest.log build-clang/ctest.log \
    build-tsan/ctest.log; do
	n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log")
	s=$(grep -c '(Skipped)' "$log" || true)
	total=$((total + n - s))
	skipped=$((skipped + s))
done
echo "all: $((total + 6)) passed, 0 failed, $skipped skipped"
