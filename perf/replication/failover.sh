#!/usr/bin/env bash
# Failover time (issue 13): from SIGKILL of a partition's leader to the
# producer's next acknowledged write, 10 times, with the fault suite's
# three real brokers (e2e TestFailoverFigure), once per session timeout.
# Usage: perf/replication/failover.sh [OUT]   (default perf/replication/failover.txt)
# Env:   SESSIONS (default "9000 3000"): broker.session.timeout.ms values
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/replication/failover.txt}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
res=$(mktemp)
trap 'rm -f "$res"' EXIT
machine_lines "${TMPDIR:-/tmp}" >"$out"
for s in ${SESSIONS:-9000 3000}; do
	echo "command:  SPATE_FAILOVER=1 SPATE_FAILOVER_SESSION_MS=$s go test -count=1 -timeout 20m -run TestFailoverFigure -v ./e2e" >>"$out"
	SPATE_FAILOVER=1 SPATE_FAILOVER_SESSION_MS=$s SPATE_FAILOVER_REPORT="$res" \
		go test -count=1 -timeout 20m -run TestFailoverFigure -v ./e2e | grep -E 'SIGKILL of |^(--- |ok|FAIL)'
	cat "$res" >>"$out"
done
cat "$out"
