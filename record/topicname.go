package record

import "fmt"

// The topic-name rule lives here, beside the batch format, because record
// is the one package that both the broker's engine and the client import:
// the client refuses a bad name at once with the same words the broker
// would answer, instead of retrying a request the broker can never accept.

// MaxTopicNameLength is Kafka's limit: a partition directory name
// "<topic>-<partition>" (plus Kafka's ".<uuid>-delete" suffix when deleting)
// must fit in the 255 bytes of a file name.
const MaxTopicNameLength = 249

// CheckTopicName returns nil when name follows Kafka's rules (1 to 249
// characters of [a-zA-Z0-9._-], not "." or ".."), else an error that says
// which rule it breaks. The error wraps no sentinel: the broker wraps it
// with its ErrInvalidTopic, the client with wire.ErrInvalidTopic.
func CheckTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("the topic name %q is not allowed", name)
	case len(name) > MaxTopicNameLength:
		return fmt.Errorf("the topic name is %d characters, above the limit of %d", len(name), MaxTopicNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("the topic name %q has %q at byte %d; only ASCII letters, digits, '.', '_' and '-' are allowed", name, c, i)
		}
	}
	return nil
}
