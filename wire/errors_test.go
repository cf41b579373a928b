package wire

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestErrorCodes(t *testing.T) {
	seenCode := map[ErrorCode]bool{}
	seenName := map[string]bool{}
	for _, e := range Errors() {
		if seenCode[e.Code] || seenName[e.Name] {
			t.Fatalf("duplicate code %d or name %s", e.Code, e.Name)
		}
		seenCode[e.Code], seenName[e.Name] = true, true
		if e.Code == None || e.Message == "" {
			t.Fatalf("bad table entry %+v", e)
		}
		if got := e.Code.Err(); got != error(e) {
			t.Fatalf("%s.Err() = %v", e.Name, got)
		}
		if e.Code.String() != e.Name || e.Code.Retriable() != e.Retriable {
			t.Fatalf("%s: String %q Retriable %v", e.Name, e.Code.String(), e.Code.Retriable())
		}
		wrapped := fmt.Errorf("topic %q partition %d: %w", "orders", 3, e)
		if !errors.Is(wrapped, e) || CodeOf(wrapped) != e.Code || IsRetriable(wrapped) != e.Retriable {
			t.Fatalf("%s does not survive wrapping", e.Name)
		}
	}
	// Kafka's numbers, spot-checked, so the Kafka front end can map 1:1.
	for code, name := range map[ErrorCode]string{-1: "UNKNOWN_SERVER_ERROR", 1: "OFFSET_OUT_OF_RANGE", 3: "UNKNOWN_TOPIC_OR_PARTITION",
		6: "NOT_LEADER_OR_FOLLOWER", 19: "NOT_ENOUGH_REPLICAS", 35: "UNSUPPORTED_VERSION", 36: "TOPIC_ALREADY_EXISTS", 42: "INVALID_REQUEST", 76: "UNSUPPORTED_COMPRESSION_TYPE"} {
		if code.String() != name {
			t.Fatalf("code %d is %s, Kafka calls it %s", code, code, name)
		}
	}
	if None.Err() != nil || CodeOf(nil) != None || None.String() != "NONE" {
		t.Fatal("None is not nil")
	}
	if CodeOf(errors.New("disk on fire")) != UnknownServerError || IsRetriable(errors.New("x")) {
		t.Fatal("a plain error must map to UNKNOWN_SERVER_ERROR, not retriable")
	}
	unknown := ErrorCode(999).Err()
	if CodeOf(unknown) != 999 || IsRetriable(unknown) || !strings.Contains(unknown.Error(), "999") || ErrorCode(999).String() != "UNKNOWN_CODE_999" {
		t.Fatalf("unknown code: %v", unknown)
	}
}

// TestProtocolDocListsEveryError keeps docs/protocol.md's error table in
// step with the code.
func TestProtocolDocListsEveryError(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatalf("read protocol doc: %v", err)
	}
	for _, e := range Errors() {
		retriable := "no"
		if e.Retriable {
			retriable = "yes"
		}
		row := fmt.Sprintf("| %d | %s | %s |", e.Code, e.Name, retriable)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/protocol.md lacks the row %q", row)
		}
	}
	for _, v := range SupportedVersions() {
		row := fmt.Sprintf("| %d | %s | %d | %d |", v.Key, v.Key, v.MinVersion, v.MaxVersion)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/protocol.md lacks the row %q", row)
		}
	}
}

// TestSupportedIndexedByKey guards the invariants Supports relies on: the
// list is in strictly increasing key order and every key in it (and no
// other) is supported.
func TestSupportedIndexedByKey(t *testing.T) {
	listed := map[APIKey]bool{}
	for i, v := range SupportedVersions() {
		if i > 0 && v.Key <= SupportedVersions()[i-1].Key || !Supports(v.Key, v.MinVersion) || Supports(v.Key, v.MaxVersion+1) {
			t.Fatalf("supported[%d] = %+v", i, v)
		}
		listed[v.Key] = true
	}
	for k := APIKey(-1); k <= 40; k++ {
		if !listed[k] && Supports(k, 0) {
			t.Fatalf("Supports accepts key %d, which is not in the table", k)
		}
	}
}
