package cluster

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// MaxVoters is how many of the configured quorum members vote: the first
// three. Three voters survive the loss of one; more would slow every commit
// for no gain on a cluster this size. The others replicate the metadata as
// non-voters.
const MaxVoters = 3

// Voter is one member of controller.quorum.voters.
type Voter struct {
	ID   int32  // broker.id
	Addr string // its controller.addr, host:port
}

// ParseVoters parses controller.quorum.voters in Kafka's form
// "1@127.0.0.1:9193,2@127.0.0.1:9293,3@127.0.0.1:9393". Spaces around
// entries are ignored; an empty string is no voters. Errors wrap
// ErrInvalidVoters and name the entry at fault.
func ParseVoters(s string) ([]Voter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var voters []Voter
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		v, err := parseVoter(entry)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d %q: %w", ErrInvalidVoters, i+1, entry, err)
		}
		for _, prev := range voters {
			if prev.ID == v.ID {
				return nil, fmt.Errorf("%w: entry %d %q: broker id %d is listed twice", ErrInvalidVoters, i+1, entry, v.ID)
			}
			if prev.Addr == v.Addr {
				return nil, fmt.Errorf("%w: entry %d %q: address %s is also broker %d's", ErrInvalidVoters, i+1, entry, v.Addr, prev.ID)
			}
		}
		voters = append(voters, v)
	}
	return voters, nil
}

func parseVoter(entry string) (Voter, error) {
	idText, addr, ok := strings.Cut(entry, "@")
	if !ok {
		return Voter{}, fmt.Errorf("want ID@HOST:PORT, as 1@127.0.0.1:9193")
	}
	id, err := strconv.ParseInt(idText, 10, 32)
	if err != nil || id < 0 {
		return Voter{}, fmt.Errorf("broker id %q is not a number from 0 to 2147483647", idText)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return Voter{}, fmt.Errorf("address %q: want HOST:PORT", addr)
	}
	if host == "" {
		return Voter{}, fmt.Errorf("address %q has no host", addr)
	}
	if port, err := strconv.Atoi(portText); err != nil || port < 1 || port > 65535 {
		return Voter{}, fmt.Errorf("address %q: port %q is not a number from 1 to 65535", addr, portText)
	}
	return Voter{ID: int32(id), Addr: addr}, nil
}

// FormatVoters is the inverse of ParseVoters.
func FormatVoters(voters []Voter) string {
	parts := make([]string, len(voters))
	for i, v := range voters {
		parts[i] = strconv.Itoa(int(v.ID)) + "@" + v.Addr
	}
	return strings.Join(parts, ",")
}

// isVoter reports whether broker id is among the first MaxVoters voters.
func isVoter(voters []Voter, id int32) bool {
	return slices.ContainsFunc(voters[:min(len(voters), MaxVoters)], func(v Voter) bool { return v.ID == id })
}
