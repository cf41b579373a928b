package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/spate-io/spate/wire"
)

// Errors of the client itself. Broker errors are the wire.Err... values,
// wrapped with the topic and partition they concern, so
// errors.Is(err, wire.ErrNotLeader) works on any error this package returns.
// Connection loss wraps wire.ErrNetworkException and a request without an
// answer in RequestTimeout wraps wire.ErrRequestTimedOut, so both count as
// retriable (wire.IsRetriable).
var (
	// ErrClosed: the producer, consumer or admin was closed. Records still
	// buffered by a closed producer fail with it.
	ErrClosed = errors.New("client: closed")
	// ErrBufferFull: Produce under FailWhenBufferFull found
	// MaxBufferedBytes in use.
	ErrBufferFull = errors.New("client: producer buffer full")
	// ErrDeliveryTimeout: a record was not acknowledged within
	// DeliveryTimeout. It wraps the last retriable error seen, if any.
	ErrDeliveryTimeout = errors.New("client: delivery timeout")
	// ErrRecordTooLarge: a record does not fit a batch (its encoding is
	// above the 100 MiB frame limit or MaxBufferedBytes).
	ErrRecordTooLarge = errors.New("client: record too large")
	// ErrInvalidOption: an option is out of range.
	ErrInvalidOption = errors.New("client: invalid option")
	// ErrNoPartitions: the topic has no partitions (or the manual partition
	// does not exist).
	ErrNoPartitions = errors.New("client: no such partition")
)

// partitionErr wraps err with the topic and partition it concerns.
func partitionErr(topic string, partition int32, err error) error {
	return fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
}

// retriable reports whether a failed request may succeed if sent again.
func retriable(err error) bool { return wire.IsRetriable(err) }

// backoff returns the wait before attempt n (1 for the first retry):
// exponential from min to max, jittered by ±20%.
func backoff(min, max time.Duration, n int) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return d
}
