package record_test

import (
	"fmt"

	"github.com/spate-io/spate/record"
)

// A producer builds a batch, the partition leader checks and stamps it, and a
// consumer iterates it.
func Example() {
	var bd record.Builder
	bd.Reset(nil, record.Options{Compression: record.Zstd})
	bd.Append(1_700_000_000_000, []byte("user-1"), []byte("signed up"), nil)
	bd.Append(1_700_000_000_250, nil, []byte("clicked"), []record.Header{{Key: []byte("trace"), Value: []byte("ab12")}})
	raw, err := bd.Finish()
	if err != nil {
		panic(err)
	}

	batch, err := record.Parse(raw)
	if err != nil {
		panic(err)
	}
	if err := batch.Validate(); err != nil {
		panic(err)
	}
	batch.SetBaseOffset(42) // outside the CRC: the batch stays valid
	batch.SetPartitionLeaderEpoch(3)

	var it record.Iter
	if err := it.Reset(batch); err != nil {
		panic(err)
	}
	for it.Next() {
		r := it.Record()
		fmt.Printf("offset %d ts %d key %q value %q headers %d\n", r.Offset, r.Timestamp, r.Key, r.Value, len(r.Headers))
	}
	if err := it.Err(); err != nil {
		panic(err)
	}
	// Output:
	// offset 42 ts 1700000000000 key "user-1" value "signed up" headers 0
	// offset 43 ts 1700000000250 key "" value "clicked" headers 1
}
