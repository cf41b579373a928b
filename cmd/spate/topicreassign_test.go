package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/cluster"
)

func TestReassignMovesArguments(t *testing.T) {
	got, err := reassignMoves([]string{"events"}, 2, "3, 1,2", "")
	if err != nil || len(got) != 1 || got[0].Topic != "events" || got[0].Partition != 2 || !slices.Equal(got[0].Replicas, []int32{3, 1, 2}) {
		t.Fatalf("one move: %+v, %v", got, err)
	}
	for name, args := range map[string]struct {
		args      []string
		partition int
		replicas  string
	}{
		"no name":         {nil, 0, "1"},
		"no partition":    {[]string{"t"}, -1, "1"},
		"no replicas":     {[]string{"t"}, 0, ""},
		"bad id":          {[]string{"t"}, 0, "1,x"},
		"negative id":     {[]string{"t"}, 0, "1,-2"},
		"two topic names": {[]string{"t", "u"}, 0, "1"},
	} {
		if _, err := reassignMoves(args.args, args.partition, args.replicas, ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	plan, err := parsePlan("p.json", []byte(`[{"topic":"a","partition":0,"replicas":[1,2]},{"topic":"b","partition":3,"replicas":[4]}]`))
	if err != nil || len(plan) != 2 || plan[1].Topic != "b" || plan[1].Partition != 3 || !slices.Equal(plan[1].Replicas, []int32{4}) {
		t.Fatalf("plan: %+v, %v", plan, err)
	}
	for _, bad := range []string{`[]`, `{`, `[{"topic":"a","partition":0}]`, `[{"partition":0,"replicas":[1]}]`, `[{"topic":"a","partition":-1,"replicas":[1]}]`} {
		if _, err := parsePlan("p.json", []byte(bad)); err == nil {
			t.Errorf("plan %s: accepted", bad)
		}
	}
}

// TestUnderReplicatedInProcess: on 3 brokers, a stopped broker's replica
// makes its partition under-replicated (listed, with no reassignment);
// reassigning the partition to the two live brokers finishes at once and
// the list is empty again.
func TestUnderReplicatedInProcess(t *testing.T) {
	c := brokertest.StartCluster(t, 3, nil)
	if err := c.Brokers[0].CreateTopic("ur", 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	p := c.WaitLeaders("ur").Partitions[0]
	gone := p.Replicas[0]
	if gone == p.Leader {
		gone = p.Replicas[1]
	}
	seed := c.Brokers[p.Leader-1].Addr()
	if err := c.Brokers[gone-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[gone-1] = nil
	c.Wait("stopped broker out of the ISR", func(img *cluster.Image) bool { return len(img.UnderReplicatedPartitions()) == 1 })
	a, err := client.NewAdmin(client.SeedBrokers(seed))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows := func() []underReplicated {
		var out bytes.Buffer
		if err := describeUnderReplicated(ctx, a, output{Writer: &out, json: true}); err != nil {
			t.Fatal(err)
		}
		var rs []underReplicated
		if err := json.Unmarshal(out.Bytes(), &rs); err != nil {
			t.Fatalf("%v in %s", err, out.String())
		}
		return rs
	}
	// The broker asked may apply the ISR change a moment after the one
	// c.Wait read: ask again until it has.
	rs := rows()
	for deadline := time.Now().Add(10 * time.Second); len(rs) == 0 && time.Now().Before(deadline); rs = rows() {
		time.Sleep(50 * time.Millisecond)
	}
	if len(rs) != 1 || rs[0].Topic != "ur" || slices.Contains(rs[0].ISR, gone) || rs[0].Target != nil {
		t.Fatalf("under-replicated with broker %d stopped: %+v", gone, rs)
	}
	live := slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return id == gone })
	var out bytes.Buffer
	if err := reassign(ctx, a, []move{{Topic: "ur", Partition: 0, Replicas: live}}, output{Writer: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "reassigning ur-0 to ") {
		t.Fatalf("reassign printed %q", out.String())
	}
	c.Wait("replica set without the stopped broker", func(img *cluster.Image) bool {
		return slices.Equal(img.Topic("ur").Partitions[0].Replicas, live)
	})
	deadline := time.Now().Add(brokertest.Deadline)
	for len(rows()) != 0 { // the asked broker's metadata may lag a moment
		if time.Now().After(deadline) {
			t.Fatalf("still under-replicated: %+v", rows())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
