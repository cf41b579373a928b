package broker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/segment"
	"github.com/spate-io/spate/wire"
)

// startTestBroker runs a broker in this process on port 0 and a temp dir.
func startTestBroker(t testing.TB, mutate func(*Config)) *Broker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.DirectWriteBytes = segment.DirectWriteThreshold // as brokertest: no ~400 MB probe per test
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// testConn sends pre-encoded frames and reads responses into a reused buffer.
type testConn struct {
	c    net.Conn
	r    *bufio.Reader
	buf  []byte
	size [4]byte // a field, so reading it allocates nothing per call
}

func dialTest(t testing.TB, b *Broker) *testConn {
	t.Helper()
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testConn{c: c, r: bufio.NewReaderSize(c, 1<<20)}
}

// do writes frame and returns the body of the response (valid until the next call).
func (c *testConn) do(t testing.TB, frame []byte) []byte {
	if _, err := c.c.Write(frame); err != nil {
		t.Fatal(err)
	}
	return c.readResponse(t)
}

// readResponse reads the next response and returns its body (valid until
// the next call).
func (c *testConn) readResponse(t testing.TB) []byte {
	if _, err := io.ReadFull(c.r, c.size[:]); err != nil {
		t.Fatal(err)
	}
	n := int(binary.BigEndian.Uint32(c.size[:]))
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	if _, err := io.ReadFull(c.r, c.buf); err != nil {
		t.Fatal(err)
	}
	_, body, err := wire.ParseResponseHeader(c.buf)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func testBatch(t testing.TB, records, valueSize int) []byte {
	var bld record.Builder
	bld.Reset(nil, record.Options{})
	v := make([]byte, valueSize)
	for i := 0; i < records; i++ {
		bld.Append(1700000000000, nil, v, nil)
	}
	out, err := bld.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func produceFrame(topic string, acks int16, batch []byte) []byte {
	return wire.AppendRequestFrame(nil, 1, &wire.ProduceRequest{Acks: acks, TimeoutMs: 5000, Topics: []wire.ProduceTopic{{
		Name: topic, Partitions: []wire.ProducePartition{{Partition: 0, Records: batch}},
	}}})
}

func fetchFrame(topic string, offset int64, maxBytes int32) []byte {
	return wire.AppendRequestFrame(nil, 2, &wire.FetchRequest{ReplicaID: wire.ConsumerReplicaID, MaxBytes: maxBytes, Topics: []wire.FetchTopic{{
		Name: topic, Partitions: []wire.FetchPartition{{Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: offset, PartitionMaxBytes: maxBytes}},
	}}})
}

func TestMetricsAndHealth(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	var pr wire.ProduceResponse
	for i := 0; i < 3; i++ {
		if err := pr.Decode(c.do(t, produceFrame("metered", wire.AcksLeader, testBatch(t, 10, 100)))); err != nil {
			t.Fatal(err)
		}
		if code := pr.Topics[0].Partitions[0].ErrorCode; code != wire.None {
			t.Fatalf("produce: %s", code)
		}
	}
	var fr wire.FetchResponse
	if err := fr.Decode(c.do(t, fetchFrame("metered", 0, 1<<20))); err != nil {
		t.Fatal(err)
	}
	if got := fr.Topics[0].Partitions[0]; got.ErrorCode != wire.None || got.HighWatermark != 30 || len(got.Records) == 0 {
		t.Fatalf("fetch: code %s hw %d, %d record bytes", got.ErrorCode, got.HighWatermark, len(got.Records))
	}

	metrics := httpGet(t, "http://"+b.AdminAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{
		`spate_requests_total{api="Produce"} 3`,
		`spate_requests_total{api="Fetch"} 1`,
		`spate_request_duration_seconds_count{api="Produce"} 3`,
		`spate_partition_log_end_offset{partition="0",topic="metered"} 30`,
		`spate_partition_high_watermark{partition="0",topic="metered"} 30`,
		`spate_partitions 1`,
		`spate_network_bytes_in_total `,
		`spate_network_bytes_out_total `,
		"spate_connections_open 1\n",
		"spate_connections_total 1\n",
		"spate_connections_closed_on_error_total 0\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
	// A frame above socket.request.max.bytes closes its connection on an
	// error; the well-behaved connection closing normally is not one.
	bad := dialTest(t, b)
	bad.c.Write([]byte{0x7f, 0xff, 0xff, 0xff})
	c.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := httpGet(t, "http://"+b.AdminAddr()+"/metrics", http.StatusOK)
		if strings.Contains(m, "spate_connections_open 0\n") && strings.Contains(m, "spate_connections_total 2\n") &&
			strings.Contains(m, "spate_connections_closed_on_error_total 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one bad and one normal close, /metrics:\n%s", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := httpGet(t, "http://"+b.AdminAddr()+"/debug/pprof/goroutine?debug=1", http.StatusOK); !strings.Contains(got, "goroutine profile:") {
		t.Errorf("/debug/pprof/goroutine answered %.80q", got)
	}
	if got := httpGet(t, "http://"+b.AdminAddr()+"/health", http.StatusOK); got != "ok\n" {
		t.Errorf("/health = %q", got)
	}
	for _, name := range []string{"spate_accept_fd_exhausted_total 0\n", "spate_connections_refused_total 0\n"} {
		if m := httpGet(t, "http://"+b.AdminAddr()+"/metrics", http.StatusOK); !strings.Contains(m, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	b.stopping.Store(true)
	if got := httpGet(t, "http://"+b.AdminAddr()+"/health", http.StatusServiceUnavailable); got != "shutdown: stopping\n" {
		t.Errorf("/health while stopping = %q", got)
	}
}

// TestHealthFailsWhileOutOfDescriptors: the listener check fails for
// fdHealthWindow after an accept ran out of descriptors, then holds again.
func TestHealthFailsWhileOutOfDescriptors(t *testing.T) {
	for _, tc := range []struct {
		ago      time.Duration
		happened bool
		want     string
	}{
		{0, false, ""},
		{1500 * time.Millisecond, true, "cannot accept connections: out of file descriptors 1.5s ago (RLIMIT_NOFILE)"},
		{fdHealthWindow, true, ""},
	} {
		got := fdProblem(func() (time.Duration, bool) { return tc.ago, tc.happened })
		if got != tc.want {
			t.Errorf("exhausted %v ago (%v): problem %q, want %q", tc.ago, tc.happened, got, tc.want)
		}
	}
}

// TestHealthReportsFullLogDir: while the log dir is below
// log.dir.min.free.bytes /health answers 503 naming the dir, and a produce
// gets KAFKA_STORAGE_ERROR.
func TestHealthReportsFullLogDir(t *testing.T) {
	b := startTestBroker(t, func(c *Config) { c.MinFreeBytes = 1 << 62 })
	got := httpGet(t, "http://"+b.AdminAddr()+"/health", http.StatusServiceUnavailable)
	dir := "log dir " + b.DataDir()
	if !strings.HasPrefix(got, dir+": full, ") || !strings.Contains(got, "bytes free of") {
		t.Errorf("/health on a full log dir = %q", got)
	}
	m := httpGet(t, "http://"+b.AdminAddr()+"/metrics", http.StatusOK)
	if want := `spate_log_dir_state{dir="` + b.DataDir() + `",state="full"} 1`; !strings.Contains(m, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

func httpGet(t *testing.T, url string, wantStatus int) string {
	t.Helper()
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, wantStatus)
	}
	return string(body)
}

// TestAPIVersionsAdvertisesOnlyServedAPIs: every API the broker advertises
// is answered (not UNSUPPORTED_VERSION), and an API wire knows but the
// broker does not serve is not advertised.
func TestAPIVersionsAdvertisesOnlyServedAPIs(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	var resp wire.APIVersionsResponse
	if err := resp.Decode(c.do(t, wire.AppendRequestFrame(nil, 1, &wire.APIVersionsRequest{}))); err != nil {
		t.Fatal(err)
	}
	advertised := map[wire.APIKey]bool{}
	for _, a := range resp.APIs {
		advertised[a.Key] = true
	}
	for _, want := range []wire.APIKey{wire.MetadataKey, wire.ProduceKey, wire.FetchKey, wire.InitProducerIDKey} {
		if !advertised[want] {
			t.Errorf("%s not advertised", want)
		}
	}
	for _, v := range wire.SupportedVersions() {
		if advertised[v.Key] {
			continue
		}
		// Known to wire, not advertised: the broker must refuse it, or the
		// advertisement is wrong the other way.
		body := c.do(t, []byte{0, 0, 0, 8, byte(v.Key >> 8), byte(v.Key), 0, 0, 0, 0, 0, 2})
		if wire.ErrorCode(binary.BigEndian.Uint16(body)) != wire.UnsupportedVersion {
			t.Errorf("%s is not advertised but answered %x", v.Key, body[:2])
		}
	}
}

// TestNofileHint: an open that ran out of descriptors at start names the
// limit and the cost per partition; other errors get no hint.
func TestNofileHint(t *testing.T) {
	emfile := fmt.Errorf("open t-245: %w", &os.PathError{Op: "open", Path: "x.index", Err: syscall.EMFILE})
	if got := nofileHint(emfile, 256); !strings.Contains(got, "RLIMIT_NOFILE is 256") || !strings.Contains(got, "ulimit -n") {
		t.Errorf("hint for EMFILE = %q", got)
	}
	if got := nofileHint(errors.New("disk on fire"), 256); got != "" {
		t.Errorf("hint for another error = %q, want none", got)
	}
}
