package cluster

// Behavior: controller calls made on a node that is not the controller are
// forwarded to the one that is, over the controller listener, as Kafka's
// brokers reach their KRaft controller (BrokerRegistration, BrokerHeartbeat,
// forwarded CreateTopics). A call connection opens with the handshake of
// handshake.go under the magic "SPRQ", so only nodes of this cluster can
// make calls; then it carries requests and answers, one at a time:
//
//	request  bytes  field
//	         0-3    length of the rest, uint32 (at most maxCallBytes)
//	         4      op (below)
//	         5-     arguments, in the field types of doc.go
//
//	answer   0-3    length of the rest, uint32 (at most maxCallBytes)
//	         4      0 ok, 1 error
//	         5-     ok: the results; error: kind uint8 (index in
//	                callErrors, 255 another) then message string
//
//	op  call                 arguments                                   results
//	1   RegisterBroker       RegisterBroker record body                  broker epoch int64
//	2   Heartbeat            broker id int32, epoch int64, applied int64 fenced uint8
//	3   ControlledShutdown   broker id int32, epoch int64                -
//	4   CreateTopic          name string, partitions int32, rf int32,    offset int64
//	                         configs
//	5   DeleteTopic          name string                                 offset int64
//	6   CreatePartitions     name string, total int32                    offset int64
//	7   AlterPartition       topic string, partition, leader,            offset int64
//	                         leader epoch, partition epoch int32, isr
//	8   AllocateProducerIDs  broker id int32, epoch int64                first int64, count int32
//	9   Liveness             -                                           count, each broker id int32,
//	                                                                     fenced uint8, last seen unix ms int64,
//	                                                                     applied int64, lag int64
//	10  AlterConfigs         name string, set configs, delete [string]   offset int64
//	11  Controller           -                                           controller address string (empty: none known)
//	12  ReassignPartition    topic string, partition int32, target        offset int64
//	                         [int32]
//	13  AdoptTopics          broker id int32, epoch int64,               offset int64
//	                         producer id end int64, count, each
//	                         name string, partitions int32, configs
//
// Controller is answered by any node, not only the controller: a broker
// that is not yet a member of the quorum (a non-voter before its first
// registration) does not learn the controller from raft, so it asks the
// voters.
//
// Every call, made on the controller itself or forwarded, goes through the
// same dispatch, so a forwarded call does exactly what a local one does.
// Calls whose result is the metadata (CreateTopic, AlterPartition,
// ReassignPartition) return
// the entry's offset and the caller waits until its own node applied it, so
// a forwarded call's answer reflects its change as a local one's does.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

const (
	opRegisterBroker byte = iota + 1
	opHeartbeat
	opControlledShutdown
	opCreateTopic
	opDeleteTopic
	opCreatePartitions
	opAlterPartition
	opAllocateProducerIDs
	opLiveness
	opAlterConfigs
	opController
	opReassignPartition
	opAdoptTopics
)

// maxCallBytes bounds a call or answer: a create's configs, a liveness
// list of a few thousand brokers.
const maxCallBytes = 1 << 20

// callTimeout bounds one forwarded call, from dial to answer; a controller
// call waits for raft at most proposeTimeout.
const callTimeout = proposeTimeout + 5*time.Second

// callErrors are the error kinds an answer names, so errors.Is works on a
// forwarded call's error as on a local one's.
var callErrors = []error{ErrCorrupt, ErrStaleEpoch, ErrInvalidChange, ErrUnknownBroker, ErrUnknownTopic,
	ErrTopicExists, ErrInvalidReplicationFactor, ErrBrokerIDInUse, ErrNotController, ErrDataDir, ErrClosed}

// remoteError is an error the controller answered with: its message, and
// the kind errors.Is matches.
type remoteError struct {
	kind error // nil: none of callErrors
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// invoke runs call op with args: here when this node is the controller,
// else on the controller. With no controller elected it fails at once
// with ErrNotController (naming what it knows), for the caller to retry.
func (n *Node) invoke(op byte, args []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		addr, id := n.raft.LeaderWithID()
		if id == "" {
			addr = n.askVoters()
		}
		cc, timeout := &n.calls, callTimeout
		if op == opHeartbeat {
			// A heartbeat must wait neither behind another call (a create
			// waiting on raft) nor on a controller that stopped answering
			// (paused, cut off): meanwhile its elected successor would fence
			// this broker after the session timeout. So heartbeats have
			// their own connection and half a session to be answered, and
			// the next one goes to whoever is controller then.
			cc, timeout = &n.hbCalls, n.cfg.SessionTimeout/2
		}
		var res []byte
		var err error
		switch {
		case id == "" && addr == "":
			return nil, n.notController()
		case id == serverID(n.cfg.BrokerID):
			res, err = n.dispatch(op, args)
		default:
			res, err = cc.call(n, string(addr), op, args, timeout)
		}
		// Leadership moved between looking and calling: once more, at
		// the new controller, if raft already knows it.
		if errors.Is(err, ErrNotController) && attempt < 3 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return res, err
	}
}

// callArgs is one decoded call; each op uses the fields its arguments name.
type callArgs struct {
	op      byte
	reg     RegisterBroker
	lossy   bool  // RegisterBroker: the start may lack acknowledged records
	id      int32 // broker id
	epoch   int64 // broker epoch
	applied int64
	name    string // topic
	count   int32  // partitions (CreateTopic) or total (CreatePartitions)
	rf      int32
	configs map[string]string
	del     []string // AlterConfigs
	// AlterPartition; ReassignPartition uses partition and isr (the target)
	partition, leader, leaderEpoch, partitionEpoch int32
	isr                                            []int32
	// AdoptTopics
	adopt         []AdoptedTopic
	producerIDEnd int64
}

// decodeCall decodes call op's arguments, refusing unknown ops, short or
// trailing bytes with ErrCorrupt (FuzzDecodeCall).
func decodeCall(op byte, args []byte) (callArgs, error) {
	c := callArgs{op: op}
	r := &reader{buf: args, what: "controller call"}
	switch op {
	case opRegisterBroker:
		r.buf = append([]byte{byte(TypeRegisterBroker)}, args...)
		c.reg, _ = decodeRecord(r).(RegisterBroker)
		c.lossy = r.byte("lossy") != 0
	case opHeartbeat:
		c.id, c.epoch, c.applied = r.int32("broker id"), r.int64("epoch"), r.int64("applied")
	case opControlledShutdown, opAllocateProducerIDs:
		c.id, c.epoch = r.int32("broker id"), r.int64("epoch")
	case opCreateTopic:
		c.name, c.count, c.rf, c.configs = r.string("name"), r.int32("partitions"), r.int32("replication factor"), r.configs("configs")
	case opDeleteTopic:
		c.name = r.string("name")
	case opCreatePartitions:
		c.name, c.count = r.string("name"), r.int32("total")
	case opAlterPartition:
		c.name, c.partition, c.leader = r.string("topic"), r.int32("partition"), r.int32("leader")
		c.leaderEpoch, c.partitionEpoch, c.isr = r.int32("leader epoch"), r.int32("partition epoch"), r.int32s("isr")
	case opAlterConfigs:
		c.name, c.configs, c.del = r.string("name"), r.configs("set"), r.strings("delete")
	case opReassignPartition:
		c.name, c.partition, c.isr = r.string("topic"), r.int32("partition"), r.int32s("target")
	case opAdoptTopics:
		c.id, c.epoch, c.producerIDEnd = r.int32("broker id"), r.int64("epoch"), r.int64("producer id end")
		c.adopt = readAdoptedTopics(r)
	case opLiveness, opController:
	default:
		r.fail("unknown op %d", op)
	}
	r.end()
	return c, r.err
}

// askVoters asks the configured voters, other than this node, which node
// is the controller, and returns its address, or "" if none knows.
func (n *Node) askVoters() raft.ServerAddress {
	for _, v := range n.cfg.Voters {
		if v.ID == n.cfg.BrokerID {
			continue
		}
		res, err := n.calls.call(n, v.Addr, opController, nil, callTimeout)
		if err != nil {
			continue
		}
		r := &reader{buf: res, what: "controller answer"}
		addr := r.string("controller addr")
		if r.end(); r.err == nil && addr != "" {
			return raft.ServerAddress(addr)
		}
	}
	return ""
}

// dispatch runs call op on this node, which must be the controller
// (except for opController, which any node answers).
func (n *Node) dispatch(op byte, args []byte) ([]byte, error) {
	c, err := decodeCall(op, args)
	if err != nil {
		return nil, err
	}
	switch op {
	case opRegisterBroker:
		epoch, err := n.registerBroker(c.reg, c.lossy)
		return appendInt64(nil, epoch), err
	case opHeartbeat:
		fenced, err := n.heartbeat(c.id, c.epoch, c.applied)
		return []byte{boolByte(fenced)}, err
	case opControlledShutdown:
		return nil, n.controlledShutdown(c.id, c.epoch)
	case opCreateTopic:
		off, err := n.createTopic(c.name, int(c.count), int(c.rf), c.configs)
		return appendInt64(nil, off), err
	case opDeleteTopic:
		off, err := n.deleteTopic(c.name)
		return appendInt64(nil, off), err
	case opCreatePartitions:
		off, err := n.createPartitions(c.name, int(c.count))
		return appendInt64(nil, off), err
	case opAlterPartition:
		off, err := n.alterPartition(c.name, c.partition, c.leader, c.leaderEpoch, c.partitionEpoch, c.isr)
		return appendInt64(nil, off), err
	case opAllocateProducerIDs:
		first, count, err := n.allocateProducerIDs(c.id, c.epoch)
		return appendInt32(appendInt64(nil, first), count), err
	case opAlterConfigs:
		off, err := n.alterConfigs(c.name, c.configs, c.del)
		return appendInt64(nil, off), err
	case opReassignPartition:
		off, err := n.reassignPartition(c.name, c.partition, c.isr)
		return appendInt64(nil, off), err
	case opAdoptTopics:
		off, err := n.adoptTopics(c.id, c.epoch, c.adopt, c.producerIDEnd)
		return appendInt64(nil, off), err
	case opController:
		addr, _ := n.raft.LeaderWithID()
		return appendString(nil, string(addr)), nil
	default: // opLiveness; decodeCall refused the rest
		ls, err := n.liveness()
		return appendLiveness(nil, ls), err
	}
}

func appendLiveness(dst []byte, ls []BrokerLiveness) []byte {
	dst = appendUvarint(dst, len(ls))
	for _, l := range ls {
		dst = appendInt32(dst, l.BrokerID)
		dst = append(dst, boolByte(l.Fenced))
		dst = appendInt64(dst, l.LastSeen.UnixMilli())
		dst = appendInt64(dst, l.AppliedOffset)
		dst = appendInt64(dst, l.MetadataLag)
	}
	return dst
}

func readLiveness(r *reader) []BrokerLiveness {
	n := r.count("brokers", 4+1+8+8+8)
	out := make([]BrokerLiveness, 0, n)
	for range n {
		l := BrokerLiveness{BrokerID: r.int32("broker id"), Fenced: r.byte("fenced") != 0}
		l.LastSeen = time.UnixMilli(r.int64("last seen"))
		l.AppliedOffset, l.MetadataLag = r.int64("applied"), r.int64("lag")
		out = append(out, l)
	}
	return out
}

// serveRPC answers the calls of one connection until it closes or the
// node stops.
func (n *Node) serveRPC(c net.Conn) {
	select {
	case <-n.started:
	case <-time.After(handshakeTimeout): // Start failed, or is stuck
		c.Close()
		return
	}
	if !n.calls.track(c) {
		c.Close()
		return
	}
	defer n.calls.untrack(c)
	defer c.Close()
	for {
		op, args, err := readFrame(c)
		if err != nil {
			return
		}
		res, err := n.dispatch(op, args)
		var out []byte
		if err != nil {
			out = appendCallError([]byte{1}, err)
		} else {
			out = append([]byte{0}, res...)
		}
		c.SetWriteDeadline(time.Now().Add(callTimeout))
		if _, err := c.Write(binary.BigEndian.AppendUint32(nil, uint32(len(out)))); err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func appendCallError(dst []byte, err error) []byte {
	kind := byte(255)
	for i, k := range callErrors {
		if errors.Is(err, k) {
			kind = byte(i)
			break
		}
	}
	return appendString(append(dst, kind), err.Error())
}

// readFrame reads one length-prefixed frame and splits off its first byte.
func readFrame(c net.Conn) (byte, []byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(l[:])
	if size < 1 || size > maxCallBytes {
		return 0, nil, fmt.Errorf("%w: controller call frame of %d bytes", ErrCorrupt, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(c, b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

// decodeAnswer splits an answer into its results or its error.
func decodeAnswer(status byte, body []byte) ([]byte, error) {
	switch status {
	case 0:
		return body, nil
	case 1:
		r := &reader{buf: body, what: "controller answer"}
		kind, msg := r.byte("kind"), r.string("message")
		if r.end(); r.err != nil {
			return nil, r.err
		}
		e := &remoteError{msg: msg}
		if int(kind) < len(callErrors) {
			e.kind = callErrors[kind]
		}
		return nil, e
	default:
		return nil, fmt.Errorf("%w: controller answer status %d", ErrCorrupt, status)
	}
}

// callClient is a node's connection to the controller for forwarded calls,
// one call at a time (the controller serialises its calls anyway), and the
// server side's open connections.
type callClient struct {
	mu   sync.Mutex
	addr string
	conn net.Conn // nil until dialled, and after a failure

	srvMu  sync.Mutex
	srv    map[net.Conn]struct{}
	closed bool
}

// call sends one call to the controller at addr and returns its answer,
// failing with ErrNotController when there is none within timeout (dial
// and handshake included).
func (cc *callClient) call(n *Node, addr string, op byte, args []byte, timeout time.Duration) ([]byte, error) {
	if len(args)+1 > maxCallBytes {
		return nil, fmt.Errorf("%w: controller call of %d bytes, at most %d", ErrInvalidChange, len(args)+1, maxCallBytes)
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.conn != nil && cc.addr != addr {
		cc.conn.Close()
		cc.conn = nil
	}
	if cc.conn == nil {
		c, err := dialCall(n, addr, min(timeout, handshakeTimeout))
		if err != nil {
			return nil, err
		}
		cc.conn, cc.addr = c, addr
	}
	res, err := roundTrip(cc.conn, op, args, timeout)
	if err != nil {
		cc.conn.Close()
		cc.conn = nil
		return nil, fmt.Errorf("%w: call to the controller at %s: %w", ErrNotController, addr, err)
	}
	return decodeAnswer(res[0], res[1:])
}

func dialCall(n *Node, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: dial the controller at %s: %w", ErrNotController, addr, err)
	}
	c.SetDeadline(time.Now().Add(timeout))
	if _, err = c.Write(hello(rpcMagic, n.knownClusterID())); err == nil {
		err = readAnswer(c, addr, n.knownClusterID(), n.noteRefusal)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: handshake with the controller at %s: %w", ErrNotController, addr, err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func roundTrip(c net.Conn, op byte, args []byte, timeout time.Duration) ([]byte, error) {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 5+len(args)), uint32(1+len(args)))
	frame = append(append(frame, op), args...)
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	status, body, err := readFrame(c)
	if err != nil {
		return nil, err
	}
	return append([]byte{status}, body...), nil
}

// track records a served connection, unless the node is closing.
func (cc *callClient) track(c net.Conn) bool {
	cc.srvMu.Lock()
	defer cc.srvMu.Unlock()
	if cc.closed {
		return false
	}
	if cc.srv == nil {
		cc.srv = map[net.Conn]struct{}{}
	}
	cc.srv[c] = struct{}{}
	return true
}

func (cc *callClient) untrack(c net.Conn) {
	cc.srvMu.Lock()
	defer cc.srvMu.Unlock()
	delete(cc.srv, c)
}

// close closes the client connection and every served one.
func (cc *callClient) close() {
	cc.srvMu.Lock()
	cc.closed = true
	for c := range cc.srv {
		c.Close()
	}
	cc.srvMu.Unlock()
	cc.mu.Lock()
	if cc.conn != nil {
		cc.conn.Close()
		cc.conn = nil
	}
	cc.mu.Unlock()
}

// waitApplied waits until this node applied offset off and returns the
// image then.
func (n *Node) waitApplied(off int64) (*Image, error) {
	deadline := time.Now().Add(callTimeout)
	for {
		img := n.Image()
		if img.Offset() >= off {
			return img, nil
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster: broker %d applied the metadata to offset %d, not yet %d, after %v", n.cfg.BrokerID, img.Offset(), off, callTimeout)
		}
		select {
		case <-img.Changed():
		case <-time.After(100 * time.Millisecond):
		case <-n.stop:
			return nil, ErrClosed
		}
	}
}
