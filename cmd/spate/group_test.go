package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// TestGroupCommandsInProcess runs consume --group and the group
// subcommands against one broker: a group reads everything once, describe
// shows no lag, reset-offsets plans without --execute and moves offsets
// with it, refuses while a member is active, and delete removes the group.
func TestGroupCommandsInProcess(t *testing.T) {
	addr := brokertest.Start(t, func(c *broker.Config) { c.GroupInitialRebalanceDelay = 0 }).Addr()
	const topic, group, parts, perPartition = "orders", "billing", 3, 100
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := []client.Opt{client.SeedBrokers(addr)}
	a, err := client.NewAdmin(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, topic, parts, 1, nil); err != nil {
		t.Fatal(err)
	}
	p, err := client.NewProducer(client.SeedBrokers(addr), client.Partitioner(client.PartitionManual))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*client.Record
	for i := 0; i < parts*perPartition; i++ {
		recs = append(recs, &client.Record{Topic: topic, Partition: int32(i % parts), Value: []byte(strconv.Itoa(i))})
	}
	if err := p.ProduceSync(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	p.Close()

	f, err := parseFormat(`%v\n`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := consumeConfig{topic: topic, from: client.Earliest(), format: f, exitIdle: 2 * time.Second, opts: opts,
		group: group, sessionTimeout: 6 * time.Second}
	if n, err := consume(ctx, cfg, io.Discard); err != nil || n != parts*perPartition {
		t.Fatalf("consume --group: %d records, %v; want %d", n, err, parts*perPartition)
	}
	// Close committed everything: a second run reads nothing.
	if n, err := consume(ctx, cfg, io.Discard); err != nil || n != 0 {
		t.Fatalf("consume --group again: %d records, %v; want 0", n, err)
	}

	var out bytes.Buffer
	if err := describeGroup(ctx, a, group, output{Writer: &out}); err != nil {
		t.Fatal(err)
	}
	checkDescribe(t, out.String(), parts, "100", "100", "0")

	out.Reset()
	var notes bytes.Buffer
	reset := resetConfig{group: group, topic: topic, to: toOffset, offset: 40}
	if err := resetOffsets(ctx, a, reset, output{Writer: &out}, &notes); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes.String(), "dry run") || !strings.Contains(out.String(), "billing  orders  2          100             40") {
		t.Errorf("dry run printed %q and %q", out.String(), notes.String())
	}
	offsets, err := a.FetchGroupOffsets(ctx, group)
	if err != nil || offsets[client.TopicPartition{Topic: topic, Partition: 0}] != 100 {
		t.Errorf("after a dry run: offsets %v, %v; want them unchanged at 100", offsets, err)
	}
	reset.execute = true
	if err := resetOffsets(ctx, a, reset, output{Writer: io.Discard}, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := describeGroup(ctx, a, group, output{Writer: &out}); err != nil {
		t.Fatal(err)
	}
	checkDescribe(t, out.String(), parts, "40", "100", "60")
	reset = resetConfig{group: group, topic: topic, to: toOffset, offset: 1000, execute: true}
	if err := resetOffsets(ctx, a, reset, output{Writer: io.Discard}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if offsets, err = a.FetchGroupOffsets(ctx, group); err != nil || offsets[client.TopicPartition{Topic: topic, Partition: 1}] != 100 {
		t.Errorf("--to-offset 1000: offsets %v, %v; want clamped to the high watermark 100", offsets, err)
	}

	// A live member: reset refuses, delete fails, describe names it.
	assigned := make(chan struct{}, 1)
	gc, err := client.NewGroupConsumer(group, []string{topic}, client.GroupSettings{SessionTimeout: 6 * time.Second,
		OnAssigned: func([]client.TopicPartition) { assigned <- struct{}{} }}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the member was never assigned")
	}
	reset.to = toEarliest
	if err := resetOffsets(ctx, a, reset, output{Writer: io.Discard}, io.Discard); err == nil || !strings.Contains(err.Error(), "active members") {
		t.Errorf("reset with a live member: %v, want a refusal", err)
	}
	if err := deleteGroups(ctx, a, []string{group}, output{Writer: io.Discard}); err == nil {
		t.Error("deleting a group with a live member succeeded")
	}
	out.Reset()
	if err := listGroups(ctx, a, output{Writer: &out}); err != nil || !strings.Contains(out.String(), "billing  Stable") {
		t.Errorf("group list: %q, %v", out.String(), err)
	}
	out.Reset()
	if err := describeGroup(ctx, a, group, output{Writer: &out}); err != nil || strings.Count(out.String(), "127.0.0.1") != parts {
		t.Errorf("describe with a member: %q, %v; want every partition on a member at 127.0.0.1", out.String(), err)
	}
	if err := gc.Close(); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if err := deleteGroups(ctx, a, []string{group}, output{Writer: &out}); err != nil || out.String() != "deleted group billing\n" {
		t.Fatalf("group delete: %q, %v", out.String(), err)
	}
	if err := describeGroup(ctx, a, group, output{Writer: io.Discard}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("describe after delete: %v, want does not exist", err)
	}
}

// checkDescribe checks the header of `group describe` and that each of the
// parts rows has the given current offset, log end offset and lag.
func checkDescribe(t *testing.T, out string, parts int, current, logEnd, lag string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER", "HOST"}
	if strings.Join(strings.Fields(lines[0]), " ") != strings.Join(want, " ") || len(lines) != parts+1 {
		t.Fatalf("describe printed:\n%s", out)
	}
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if f[2] != strconv.Itoa(i) || f[3] != current || f[4] != logEnd || f[5] != lag || f[6] != "-" || f[7] != "-" {
			t.Errorf("describe row %q; want partition %d at %s of %s, lag %s, no member", l, i, current, logEnd, lag)
		}
	}
}

// runParsed runs cmd's flag parsing with args and returns its action's
// error; action replaces the command's own so nothing connects.
func runParsed(t *testing.T, cmd *cli.Command, action func(c *cli.Context, args []string) error, args ...string) error {
	t.Helper()
	cmd.Action = withArgs(action)
	app := &cli.App{Name: "spate", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard}
	return app.Run(append([]string{"spate", cmd.Name}, args...))
}

func TestConsumeGroupFlags(t *testing.T) {
	var cfg consumeConfig
	parse := func(c *cli.Context, args []string) (err error) { cfg, err = consumeConfigFrom(c, args); return err }
	if err := runParsed(t, consumeCommand(), parse, "t", "--group", "g", "--from", "end", "--session-timeout", "8s"); err != nil {
		t.Fatal(err)
	}
	if cfg.group != "g" || cfg.sessionTimeout != 8*time.Second || cfg.from != client.Latest() {
		t.Errorf("parsed %+v", cfg)
	}
	if err := runParsed(t, consumeCommand(), parse, "t", "--group", "g"); err != nil || cfg.sessionTimeout != 45*time.Second {
		t.Errorf("default session timeout %v, %v; want 45s", cfg.sessionTimeout, err)
	}
	if err := runParsed(t, consumeCommand(), parse, "t", "--group", "g", "--assignor", "cooperative-sticky,range", "--assignor", "range"); err != nil ||
		!slices.Equal(cfg.assignors, []string{client.AssignCooperativeSticky, client.AssignRange}) {
		t.Errorf("--assignor parsed as %q, %v; want cooperative-sticky then range", cfg.assignors, err)
	}
	for _, bad := range [][]string{
		{"t", "--group", "g", "--assignor", "fair"},
		{"t", "--assignor", "range"},
		{"t", "--group", "g", "--from", "42"},
		{"t", "--group", "g", "--partition", "1"},
		{"t", "--group", "g", "--session-timeout", "5s"},
		{"t", "--session-timeout", "8s"},
		{"t", "--instance-id", "host-1"},
	} {
		if err := runParsed(t, consumeCommand(), parse, bad...); err == nil {
			t.Errorf("consume %q parsed", bad)
		}
	}
}

// TestGroupResetFlags: each bad command line fails for its own reason, and
// the documented order (GROUP first, then the flags) runs.
func TestGroupResetFlags(t *testing.T) {
	run := func(args ...string) error {
		app := &cli.App{Name: "spate", Commands: []*cli.Command{groupCommand()}, Writer: io.Discard, ErrWriter: io.Discard}
		return app.Run(append([]string{"spate", "group"}, args...))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reset-offsets", "g", "--topic", "t"}, "want exactly one of"},
		{[]string{"reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest"}, "want exactly one of"},
		{[]string{"reset-offsets", "g", "--topic", "t", "--to-offset", "-1"}, "at least 0"},
		{[]string{"reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"}, "RFC 3339"},
		{[]string{"reset-offsets", "--topic", "t", "--to-earliest"}, "want one GROUP argument"},
		{[]string{"reset-offsets", "g", "--to-earliest"}, "--topic is required"},
	} {
		if err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("group %q: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	b := brokertest.Start(t, nil)
	if err := b.CreateTopic("t", 2, -1, nil); err != nil {
		t.Fatal(err)
	}
	if err := run("reset-offsets", "g", "--topic", "t", "--to-earliest", "--brokers", b.Addr()); err != nil {
		t.Fatalf("reset-offsets g --topic t --to-earliest (the README's order): %v", err)
	}
}
