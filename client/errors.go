package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
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
	// ErrSequenceRestarted: an idempotent producer's batch was in flight
	// (or waiting for a retry) with another batch of its partition that
	// failed for good, restarting the partition's sequence; this one then
	// failed or needed a retry, and resent it could be written out of
	// order or twice (see MaxInFlightPerPartition). It wraps the batch's
	// own error.
	ErrSequenceRestarted = errors.New("client: another batch of the partition failed and restarted its sequence")
	// ErrInvalidOption: an option is out of range.
	ErrInvalidOption = errors.New("client: invalid option")
	// ErrNoPartitions: the topic has no partitions (or the manual partition
	// does not exist).
	ErrNoPartitions = errors.New("client: no such partition")
)

// ConnectError is a failed attempt to open a connection to a broker (the
// TCP dial, not a connection lost later). It reads "cannot connect to
// 127.0.0.1:9192: connection refused" and wraps both the dial error and
// wire.ErrNetworkException, so it is retriable and errors.Is(err,
// syscall.ECONNREFUSED) works. errors.As(err, &ce) on any error of this
// package tells a caller that no connection was made.
type ConnectError struct {
	Addr string
	Err  error
}

// Error implements error.
func (e *ConnectError) Error() string { return "cannot connect to " + e.Addr + ": " + dialCause(e.Err) }

// Unwrap implements errors.Is and errors.As.
func (e *ConnectError) Unwrap() []error { return []error{e.Err, wire.ErrNetworkException} }

// dialCause is the reason of a dial error without what ConnectError says
// already: "connection refused", not "dial tcp 127.0.0.1:9192: connect:
// connection refused".
func dialCause(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// unreachable reports whether err says that no connection could be opened.
func unreachable(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce)
}

// joinConnectErrors reports the failed dials of one pass over the brokers
// on one line: the error itself when there is one, else each separated by
// "; " (errors.Join would put each on a line of its own).
func joinConnectErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return &joined{msg: "no broker reachable: " + strings.Join(msgs, "; "), errs: errs}
}

// joined is errors.Join with a message of its choosing.
type joined struct {
	msg  string
	errs []error
}

func (j *joined) Error() string   { return j.msg }
func (j *joined) Unwrap() []error { return j.errs }

// withMessage returns the error of code with the broker's message for it:
// "INVALID_CONFIG: retention.ms: \"soon\" is not an integer" rather than the
// code's generic explanation; errors.Is(err, wire.ErrInvalidConfig) works.
// Without a message it is code.Err().
func withMessage(code wire.ErrorCode, message string) error {
	err := code.Err()
	var we *wire.Error
	if message == "" || !errors.As(err, &we) {
		return err
	}
	return &brokerError{code: we, message: message}
}

type brokerError struct {
	code    *wire.Error
	message string
}

func (e *brokerError) Error() string { return e.code.Name + ": " + e.message }
func (e *brokerError) Unwrap() error { return e.code }

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
