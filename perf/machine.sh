# Sourced by the perf scripts: machine_lines DIR prints the lines every
# result file starts with (commit, date, Go, CPU, kernel, the filesystem
# of DIR, the load average), so results from different scripts compare.
machine_lines() {
	echo "commit:   $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!perf' || echo ' (plus uncommitted changes)')"
	echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go:       $(go version)"
	echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores"
	echo "kernel:   $(uname -r)"
	echo "disk:     $(df -T "$1" | awk 'NR==2 {print $2" on "$1}')"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
}
