package broker

import (
	"strconv"
	"testing"

	"github.com/spate-io/spate/wire"
)

// TestProduceErrorMessage: a v1 produce answer says why a batch was
// refused, with the size and the limit; a v0 client gets the v0 layout.
func TestProduceErrorMessage(t *testing.T) {
	b := startTestBroker(t, func(c *Config) { c.MaxMessageBytes = 4096; c.AutoCreateTopics = true })
	c := dialTest(t, b)
	batch := testBatch(t, 1, 5000)
	for _, version := range []int16{0, 1} {
		frame := wire.AppendRequestFrame(nil, 1, &wire.ProduceRequest{Version: version, Acks: wire.AcksLeader, TimeoutMs: 5000,
			Topics: []wire.ProduceTopic{{Name: "big", Partitions: []wire.ProducePartition{{Partition: 0, Records: batch}}}}})
		pr := wire.ProduceResponse{Version: version}
		if err := pr.Decode(c.do(t, frame)); err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		got := pr.Topics[0].Partitions[0]
		want := ""
		if version == 1 {
			want = "big-0: batch at byte 0: " + strconv.Itoa(len(batch)) + " bytes > max.message.bytes 4096"
		}
		if got.ErrorCode != wire.MessageTooLarge || got.ErrorMessage != want {
			t.Errorf("v%d: %s %q, want MESSAGE_TOO_LARGE %q", version, got.ErrorCode, got.ErrorMessage, want)
		}
	}
}
