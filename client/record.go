package client

import (
	"time"

	"github.com/spate-io/spate/record"
)

// Header is one record header (a key and a nullable value).
type Header = record.Header

// Record is one record, produced or consumed.
//
// Producing: Topic, Key, Value, Headers and Timestamp are read by Produce,
// which copies Key, Value and Headers into the batch before it returns, so
// the caller may reuse those slices at once. The *Record itself is kept
// until its callback runs (Offset and Partition are set then): do not
// change or reuse it before. A zero Timestamp is set to time.Now().
//
// Consuming: Key, Value and Headers alias the fetched response (or the
// decompression buffer) and are valid only until the next Poll; the Record
// an iterator returns is itself overwritten by the next Next. Copy what must
// outlive that.
type Record struct {
	Topic     string
	Partition int32 // the chosen partition; read on Produce only with PartitionManual
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
	Offset    int64 // set when the record is acknowledged (-1 under AcksNone) or consumed
}

// encodedSizeBound is an upper bound of the bytes a record takes in an
// uncompressed batch; the producer reserves it against MaxBufferedBytes.
func encodedSizeBound(r *Record) int64 {
	// length, attributes, timestamp delta, offset delta, key and value
	// lengths, header count: at most 5+1+10+5+5+5+5 bytes of varints.
	n := int64(36 + len(r.Key) + len(r.Value))
	for i := range r.Headers {
		n += int64(10 + len(r.Headers[i].Key) + len(r.Headers[i].Value))
	}
	return n
}
