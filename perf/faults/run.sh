#!/usr/bin/env bash
# The fault-injection suite's full run (issue 13): e2e TestFaults with
# SPATE_FAULTS=full (five rounds of the eight fault kinds, 40 faults, under
# log.flush.policy=never; with SPATE_FAULTS_FLUSH=always, of the nine kinds
# that include a power loss of every broker at once, 45 faults), its
# report written after the machine lines. `make faults` runs both.
# Usage: [SPATE_FAULTS_FLUSH=always] perf/faults/run.sh [OUT]   (default perf/faults/latest.txt)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/faults/latest.txt}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
mkdir -p "$(dirname "$out")"
report=$(mktemp)
cmd="SPATE_FAULTS=full SPATE_FAULTS_FLUSH=${SPATE_FAULTS_FLUSH:-never} go test -count=1 -timeout 40m -run 'TestFaults\$' -v ./e2e"
{
	machine_lines "${TMPDIR:-/tmp}"
	echo "command:  $cmd"
	echo
} >"$out"
log=${TMPDIR:-/tmp}/spate-faults-$$.log
trap 'rm -f "$report"' EXIT
status=0
artifacts=${TMPDIR:-/tmp}/spate-faults-$$
mkdir -p "$artifacts"
SPATE_FAULTS=full SPATE_FAULTS_REPORT="$report" go test -count=1 -timeout 40m -run 'TestFaults$' -v -artifacts -outputdir "$artifacts" ./e2e >"$log" 2>&1 || status=$?
grep -E '^(--- |PASS|FAIL|ok)' "$log" || true
if [ -s "$report" ]; then
	cat "$report" >>"$out"
else # the faults so far and why the test stopped
	grep -E '(faults|faultscluster|faultscheck)_test.go:[0-9]+:' "$log" >>"$out" || true
fi
echo "exit status: $status" >>"$out"
echo "test output: $log; broker logs: $artifacts/_artifacts/*/broker-*.log"
cat "$out"
exit "$status"
