package netio

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// closeHandler echoes frames, except "close", which closes the connection.
type closeHandler struct{}

func (closeHandler) ServeFrame(r *Responder, payload []byte) {
	if string(payload) == "close" {
		r.Close(errors.New("test: peer asked to be closed"))
		return
	}
	r.Reply(replyFrame(payload))
}

// TestResponderCloseAfterEarlierReplies: in ordered mode the replies of
// frames before the closing one are written, then the connection closes and
// later frames get nothing; another connection keeps working.
func TestResponderCloseAfterEarlierReplies(t *testing.T) {
	s := startServer(t, Config{Ordered: true}, closeHandler{})
	c := dial(t, s)
	var buf []byte
	for _, p := range []string{"one", "two", "close", "never"} {
		buf = AppendFrame(buf, []byte(p))
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"one", "two"} {
		got, err := readFrame(c)
		if err != nil || string(got) != want {
			t.Fatalf("reply %q: got %q, %v", want, got, err)
		}
	}
	if got, err := readFrame(c); !errors.Is(err, io.EOF) {
		t.Fatalf("after Close: got frame %q, err %v; want EOF", got, err)
	}

	other := dial(t, s)
	other.Write(AppendFrame(nil, []byte("still here")))
	other.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := readFrame(other); err != nil || !bytes.Equal(got, []byte("still here")) {
		t.Fatalf("other connection: got %q, %v", got, err)
	}
}
