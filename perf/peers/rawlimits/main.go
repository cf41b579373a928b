// Command rawlimits is a perf harness, not library code: it measures the
// physical limits every Spate figure in perf/bench.md is a share of, on the
// same machine and in the same run: loopback TCP throughput between two
// processes, sequential file writes (into files deleted as retention
// would, and into files all kept, as a log that grows), first touches of
// fresh memory, and a 100-byte TCP ping-pong between two processes (the
// latency floor for one record in flight).
//
//	rawlimits tcp       -duration 5s          # prints JSON {mb_per_sec}
//	rawlimits disk      -dir DIR -duration 5s # prints JSON {mb_per_sec}
//	rawlimits disk-kept -dir DIR -duration 5s # prints JSON {mb_per_sec}
//	rawlimits disk-direct -dir DIR -duration 5s # prints JSON {mb_per_sec}
//	rawlimits disk-sync -dir DIR -duration 5s   # prints JSON {mb_per_sec}
//	rawlimits touch     -duration 5s          # prints JSON {mb_per_sec}
//	rawlimits ping      -duration 5s          # prints JSON {p50_ms,p99_ms,...}
//
// Why disk-kept and touch: on a VM whose host backs guest memory lazily
// (this one, perf/bench.md), a page the guest has not used lately costs a
// host fault on its first touch, so writing into new page-cache pages is
// bounded by the first-touch rate, while rewriting recently freed pages
// (disk, whose old files are deleted) is not. disk-direct writes with
// O_DIRECT from one reused buffer, past the page cache: the limit of
// Spate's path for batches of log.direct.write.bytes and more. disk-sync
// is a plain serial loop of 1 MiB write + fdatasync, one at a time: the
// floor that flush.policy=always with acks=all (group commit) must beat.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: rawlimits tcp|disk|ping|sink|echo [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "how long to measure")
	dir := fs.String("dir", os.TempDir(), "directory for the disk test")
	addr := fs.String("addr", "", "internal: address of the peer process")
	fs.Parse(os.Args[2:])
	out := json.NewEncoder(os.Stdout)
	switch os.Args[1] {
	case "tcp":
		out.Encode(map[string]any{"limit": "loopback tcp, 1 MiB writes, two processes", "mb_per_sec": tcpThroughput(*duration)})
	case "disk":
		out.Encode(map[string]any{"limit": "sequential 1 MiB writes into 256 MiB files, the oldest deleted beyond 1 GiB, no fsync", "mb_per_sec": diskThroughput(*dir, *duration, 4)})
	case "disk-kept":
		out.Encode(map[string]any{"limit": "sequential 1 MiB writes into 256 MiB files, all kept until the end, no fsync", "mb_per_sec": diskThroughput(*dir, *duration, 0)})
	case "disk-direct":
		out.Encode(map[string]any{"limit": "sequential 1 MiB O_DIRECT writes into 256 MiB files, all kept until the end, no fsync", "mb_per_sec": diskThroughput(*dir, *duration, -1)})
	case "disk-sync":
		out.Encode(map[string]any{"limit": "serial 1 MiB write + fdatasync into 256 MiB files, all kept until the end", "mb_per_sec": diskThroughput(*dir, *duration, syncEach)})
	case "touch":
		out.Encode(map[string]any{"limit": "first writes to fresh anonymous memory, one byte per 4 KiB page", "mb_per_sec": touchThroughput(*duration)})
	case "ping":
		out.Encode(pingPong(*duration))
	case "sink":
		sink(*addr)
	case "echo":
		echo(*addr)
	}
}

// peer starts this binary in another mode as a second process, listening
// on a port it picks; it returns the address and a stop function.
func peer(mode string) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], mode, "-addr", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, func() { cmd.Process.Kill(); cmd.Wait() }
}

func sink(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go io.Copy(io.Discard, c)
	}
}

func echo(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			buf := make([]byte, 100)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

func tcpThroughput(d time.Duration) float64 {
	addr, stop := peer("sink")
	defer stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		w, err := c.Write(buf)
		if err != nil {
			log.Fatal(err)
		}
		n += int64(w)
	}
	return float64(n) / time.Since(start).Seconds() / 1e6
}

// diskThroughput writes the way a broker's partition does under the
// settings perf/run-bench.sh gives Spate (256 MiB segments, 1 GiB retained):
// 1 MiB writes into 256 MiB files for d, deleting the oldest beyond keep
// files (0: none until the end; -1: none, and write with O_DIRECT).
// Deleted files' dirty pages never reach the disk, as with retention.
func diskThroughput(dir string, d time.Duration, keep int) float64 {
	sync := keep == syncEach
	if sync {
		keep = 0
	}
	buf := make([]byte, 1<<20)
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if keep < 0 {
		flags |= unix.O_DIRECT
		// O_DIRECT needs aligned memory: an anonymous mapping is page-aligned.
		m, err := unix.Mmap(-1, 0, len(buf), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			log.Fatal(err)
		}
		buf = m
	}
	const perFile = 256
	var files []string
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
		for _, p := range files {
			os.Remove(p)
		}
	}()
	var written int64
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		if i%perFile == 0 {
			if f != nil {
				f.Close()
			}
			p := filepath.Join(dir, fmt.Sprintf("rawlimits-%06d.tmp", i/perFile))
			var err error
			if f, err = os.OpenFile(p, flags, 0o644); err != nil {
				log.Fatal(err)
			}
			files = append(files, p)
			if keep > 0 && len(files) > keep {
				os.Remove(files[0])
				files = files[1:]
			}
		}
		if _, err := f.Write(buf); err != nil {
			log.Fatal(err)
		}
		if sync {
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				log.Fatal(err)
			}
		}
		written += int64(len(buf))
	}
	return float64(written) / time.Since(start).Seconds() / 1e6
}

// syncEach as diskThroughput's keep: keep every file and fdatasync after
// each write.
const syncEach = -2

// touchThroughput maps fresh anonymous memory 256 MiB at a time and writes
// one byte per page, for d: the rate at which the kernel can hand out new
// pages (each first write is a page fault, plus a host fault on a VM whose
// host backs guest memory lazily).
func touchThroughput(d time.Duration) float64 {
	const chunk = 256 << 20
	var touched int64
	start := time.Now()
	for time.Since(start) < d {
		m, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			log.Fatal(err)
		}
		for i := 0; i < chunk; i += 4096 {
			m[i] = 1
		}
		touched += chunk
		if err := unix.Munmap(m); err != nil {
			log.Fatal(err)
		}
	}
	return float64(touched) / time.Since(start).Seconds() / 1e6
}

func pingPong(d time.Duration) map[string]any {
	addr, stop := peer("echo")
	defer stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	hist := hdrhistogram.New(1, int64(time.Second/time.Microsecond), 3)
	buf := make([]byte, 100)
	start := time.Now()
	for time.Since(start) < d {
		t := time.Now()
		if _, err := c.Write(buf); err != nil {
			log.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			log.Fatal(err)
		}
		hist.RecordValue(max(time.Since(t).Microseconds(), 1))
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return map[string]any{"limit": "100-byte TCP ping-pong between two processes", "round_trips": hist.TotalCount(),
		"p50_ms": ms(hist.ValueAtQuantile(50)), "p99_ms": ms(hist.ValueAtQuantile(99)),
		"p999_ms": ms(hist.ValueAtQuantile(99.9)), "max_ms": ms(hist.Max())}
}
