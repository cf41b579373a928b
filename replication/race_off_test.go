//go:build !race

package replication

const randomRuns = 1
