package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/spate-io/spate/client"
)

// SweepConfig is a grid of produce runs: one per combination of batch
// size, linger, record size and acks (an empty list means Base's value).
type SweepConfig struct {
	// Base is every run's config; its Topic is the prefix of the fresh
	// topic each run gets ("<Topic>.<unix seconds>.<run>").
	Base        Config
	BatchSizes  []int
	Lingers     []time.Duration
	RecordSizes []Sizes
	Acks        []client.Acks
	// KeepTopics keeps each run's topic; by default it is deleted once its
	// high watermarks have been read, so a sweep does not fill the disk.
	KeepTopics bool
	// OnRow, when set, is called after each run (to print progress).
	OnRow func(Result)
}

// Sweep runs the grid in order (batch size varying fastest) and returns a
// row per run. Each row is a produce Result, so its JSON carries
// batch_size, records_per_sec, mb_per_sec, p50_ms, p99_ms, p999_ms and
// max_ms among the rest.
func Sweep(ctx context.Context, sc SweepConfig) ([]Result, error) {
	base := sc.Base
	batchSizes := orDefault(sc.BatchSizes, base.BatchSize)
	lingers := orDefault(sc.Lingers, base.Linger)
	sizes := orDefault(sc.RecordSizes, base.RecordSize)
	acks := orDefault(sc.Acks, base.Acks)
	runID := time.Now().Unix()
	var rows []Result
	for _, a := range acks {
		for _, size := range sizes {
			for _, linger := range lingers {
				for _, batch := range batchSizes {
					c := base
					c.Acks, c.RecordSize, c.Linger, c.BatchSize = a, size, linger, batch
					c.Topic = fmt.Sprintf("%s.%d.%d", base.Topic, runID, len(rows))
					r, err := Produce(ctx, c)
					if err != nil {
						return rows, fmt.Errorf("loadgen: sweep run batch=%s,linger=%s,record=%s,acks=%s: %w",
							FormatSize(batch), linger, size, acksName(a), err)
					}
					if !sc.KeepTopics {
						if err := deleteTopic(ctx, &c); err != nil {
							return rows, err
						}
					}
					rows = append(rows, *r)
					if sc.OnRow != nil {
						sc.OnRow(*r)
					}
				}
			}
		}
	}
	return rows, nil
}

func orDefault[T any](list []T, def T) []T {
	if len(list) == 0 {
		return []T{def}
	}
	return list
}

func deleteTopic(ctx context.Context, c *Config) error {
	admin, err := client.NewAdmin(c.clientOpts()...)
	if err != nil {
		return fmt.Errorf("loadgen: admin: %w", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if err := admin.DeleteTopic(ctx, c.Topic); err != nil {
		return fmt.Errorf("loadgen: delete topic %q: %w", c.Topic, err)
	}
	return nil
}
