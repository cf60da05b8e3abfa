package mesi

import "time"

// Protocol is one node's coherence controller, whichever the protocol:
// what the node layer drives and the checkers inspect. Directory and
// Broadcast implement it.
type Protocol interface {
	// Name returns the protocol's name: "directory" or "broadcast".
	Name() string
	// Self returns the node's id.
	Self() NodeID

	// Get reads key; see Directory.Get and Broadcast.Get.
	Get(req uint64, key string, now time.Duration) error
	// Put writes value to key; see Directory.Put and Broadcast.Put.
	Put(req uint64, key string, value []byte, now time.Duration) error
	// Deliver hands the node a message addressed to it.
	Deliver(m Message, now time.Duration)
	// Outbox returns the messages to send, in order, and forgets them.
	Outbox() []Message
	// Completions returns the finished client operations and forgets
	// them.
	Completions() []Completion
	// Crash models a crash and restart: the cache side is lost, memory is
	// kept.
	Crash()

	// LostWrites returns the number of M lines lost by crashes.
	LostWrites() uint64
	// Stats returns the node's counters.
	Stats() Stats
	// Lines returns copies of the stable lines in the cache, sorted by
	// key.
	Lines() []Line
	// Line returns a copy of the stable line of key, if any.
	Line(key string) (Line, bool)
	// Cache returns the node's cache, for inspection only.
	Cache() *Cache
	// Memory returns the backing store's value and version of key; ok is
	// false unless this node keeps key's memory (its home, or the memory
	// node).
	Memory(key string) (value []byte, version uint64, ok bool)
	// Idle reports whether the cache side has nothing in progress.
	Idle() bool
	// Busy reports whether the cache side has anything in progress for
	// key.
	Busy(key string) bool
	// WritingBack reports whether a write of key to memory by this node's
	// cache side is in flight.
	WritingBack(key string) bool
	// Settled reports whether nothing this node has started may still
	// change key's memory: CheckData may then compare memory with the
	// last write once every node is settled.
	Settled(key string) bool
	// CheckLocal checks the node's internal consistency.
	CheckLocal() error
}

var (
	_ Protocol = (*Directory)(nil)
	_ Protocol = (*Broadcast)(nil)
)

// Name returns "directory".
func (d *Directory) Name() string { return "directory" }

// Settled reports whether no PutM of key by this node is in flight and,
// if this node is key's home, the home waits for no owner's Data(home)
// for key.
func (d *Directory) Settled(key string) bool {
	if d.WritingBack(key) {
		return false
	}
	if d.cfg.Home(key) != d.cfg.Self {
		return true
	}
	e := d.entries[key]
	return e == nil || e.busy == nil
}
