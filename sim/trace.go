package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/distsync/distsync/nodes"
)

// TraceKind says what a trace record is about.
type TraceKind uint8

// Trace record kinds. Their names (String) are part of the JSON Lines
// format and are stable.
const (
	TraceSend      TraceKind = iota + 1 // a node sent a message
	TraceDeliver                        // a message reached its node
	TraceDrop                           // the network dropped a message (loss or partition)
	TraceDuplicate                      // the network duplicated a message
	TraceTimer                          // a timer fired
	TraceStart                          // a node started or restarted
	TraceCrash                          // a node crashed
	TracePause                          // a node was paused
	TraceResume                         // a node was resumed
	TraceLog                            // a node's Env.Logf line
	TraceFault                          // the world changed: a fault was injected or healed
	TraceDead                           // an event reached a crashed node and was discarded
)

var traceKindNames = [...]string{
	TraceSend: "send", TraceDeliver: "deliver", TraceDrop: "drop", TraceDuplicate: "dup",
	TraceTimer: "timer", TraceStart: "start", TraceCrash: "crash", TracePause: "pause",
	TraceResume: "resume", TraceLog: "log", TraceFault: "fault", TraceDead: "dead",
}

// String returns the kind's stable name.
func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) && traceKindNames[k] != "" {
		return traceKindNames[k]
	}
	return "kind-" + strconv.Itoa(int(k))
}

// Record is one line of a trace.
type Record struct {
	Event uint64            // number of the scheduler event that produced it
	At    time.Duration     // virtual time
	Kind  TraceKind         // what happened
	Node  nodes.NodeID      // the node it happened on ("" for world-wide faults)
	Peer  nodes.NodeID      // the other end of a message, if any
	Msg   nodes.MessageType // message type, if any
	MsgID uint64            // message number, unique within the run
	Text  string            // log line, timer, or fault description
}

// DefaultTraceKeep is how many recent records a trace keeps in memory.
const DefaultTraceKeep = 4096

// Trace records what happens in a run: it keeps the last records in a ring
// (bounded memory), folds every record into a running 64-bit hash, and can
// stream every record as JSON Lines.
type Trace struct {
	hash  uint64
	count uint64
	ring  []Record
	next  int
	full  bool
	out   *bufio.Writer
	err   error
	// describe renders a message for the JSON stream; only called when
	// streaming, so it costs nothing otherwise.
	describe func(nodes.Message) string
	// watch, if set, sees every record as it is added (replay's
	// human-readable trace).
	watch func(r Record, msg nodes.Message)
}

// Watch calls fn with every later record and its message (nil if none), as
// it is added. (The record is passed by value so that tracing allocates
// nothing when no one watches.)
func (t *Trace) Watch(fn func(r Record, msg nodes.Message)) { t.watch = fn }

func newTrace(keep int) *Trace {
	if keep <= 0 {
		keep = DefaultTraceKeep
	}
	return &Trace{hash: 0xcbf29ce484222325, ring: make([]Record, keep)}
}

// Stream starts writing every later record to w as JSON Lines. Call Flush
// at the end of the run.
func (t *Trace) Stream(w io.Writer) { t.out = bufio.NewWriterSize(w, 64<<10) }

// Flush writes out buffered JSON Lines and reports the first write error.
func (t *Trace) Flush() error {
	if t.out != nil && t.err == nil {
		t.err = t.out.Flush()
	}
	return t.err
}

// Hash returns the running hash of every record so far.
func (t *Trace) Hash() uint64 { return t.hash }

// HashString renders the hash as the 16 hex digits printed after
// "trace-hash: ".
func (t *Trace) HashString() string { return fmt.Sprintf("%016x", t.hash) }

// Count returns how many records were traced.
func (t *Trace) Count() uint64 { return t.count }

// Recent returns the records still held in memory, oldest first.
func (t *Trace) Recent() []Record {
	if !t.full {
		return append([]Record(nil), t.ring[:t.next]...)
	}
	out := make([]Record, 0, len(t.ring))
	out = append(out, t.ring[t.next:]...)
	return append(out, t.ring[:t.next]...)
}

// add folds r into the hash, keeps it in the ring and streams it. The hash
// covers node indices (fixed by the configuration) rather than names, so
// hashing a record does not walk strings on the hot path; texts are hashed
// byte by byte.
func (t *Trace) add(r *Record, node, peer int32, msg nodes.Message) {
	h := t.hash
	h = mixIn(h, r.Event)
	h = mixIn(h, uint64(r.At))
	h = mixIn(h, uint64(r.Kind)|uint64(uint32(node))<<8|uint64(uint32(peer))<<40)
	h = mixIn(h, uint64(r.Msg)|r.MsgID<<16)
	for i := 0; i < len(r.Text); i++ {
		h = (h ^ uint64(r.Text[i])) * 0x100000001b3
	}
	t.hash = h
	t.count++
	t.ring[t.next] = *r
	t.next++
	if t.next == len(t.ring) {
		t.next = 0
		t.full = true
	}
	if t.out != nil && t.err == nil {
		t.writeJSON(r, msg)
	}
	if t.watch != nil {
		t.watch(*r, msg)
	}
}

// foldBytes folds b into the running hash: the simulator's wire check
// folds each delivered message's encoding, so that a difference in a
// message's content, not only in its type and route, changes the
// trace-hash.
func (t *Trace) foldBytes(b []byte) {
	h := t.hash
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	t.hash = mix64(h)
}

// mixIn folds one 64-bit word into the hash h.
func mixIn(h, v uint64) uint64 {
	return mix64(h ^ v)
}

type jsonRecord struct {
	Event uint64 `json:"event"`
	AtNS  int64  `json:"at_ns"`
	At    string `json:"at"`
	Kind  string `json:"kind"`
	Node  string `json:"node,omitempty"`
	Peer  string `json:"peer,omitempty"`
	Msg   string `json:"msg,omitempty"`
	MsgID uint64 `json:"msg_id,omitempty"`
	Text  string `json:"text,omitempty"`
	Body  string `json:"body,omitempty"`
}

func (t *Trace) writeJSON(r *Record, msg nodes.Message) {
	j := jsonRecord{
		Event: r.Event, AtNS: int64(r.At), At: r.At.String(), Kind: r.Kind.String(),
		Node: string(r.Node), Peer: string(r.Peer), MsgID: r.MsgID, Text: r.Text,
	}
	if r.Msg != 0 {
		j.Msg = nodes.TypeName(r.Msg)
	}
	if msg != nil && t.describe != nil && r.Kind == TraceSend {
		j.Body = t.describe(msg)
	}
	b, err := json.Marshal(j)
	if err == nil {
		b = append(b, '\n')
		_, err = t.out.Write(b)
	}
	if err != nil {
		t.err = fmt.Errorf("trace: write: %w", err)
	}
}
