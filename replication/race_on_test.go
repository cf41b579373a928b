//go:build race

package replication

// randomRuns divides the random tests' runs: the core runs on one
// goroutine, so the race detector finds nothing in them and would only
// make them ten times slower on a shared machine.
const randomRuns = 5
