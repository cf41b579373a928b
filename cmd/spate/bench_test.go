package main

import (
	"runtime"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestSetBenchProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	produce := append(benchFlags(0), producerFlags()...)
	e2e := append(append(benchFlags(0), producerFlags()...), consumerFlags()...)
	for _, tc := range []struct {
		flags []cli.Flag
		args  []string
		want  int
	}{
		{produce, []string{"produce"}, 1},
		{e2e, []string{"e2e", "--producers", "2"}, min(3, runtime.NumCPU())},
		{produce, []string{"produce", "--procs", "3"}, 3},
	} {
		got := 0
		app := &cli.App{Flags: tc.flags, Action: func(c *cli.Context) error { got = setBenchProcs(c); return nil }}
		if err := app.Run(tc.args); err != nil {
			t.Fatal(err)
		}
		if got != tc.want || runtime.GOMAXPROCS(0) != tc.want {
			t.Errorf("%v: setBenchProcs = %d, GOMAXPROCS %d; want %d", tc.args, got, runtime.GOMAXPROCS(0), tc.want)
		}
	}
}
