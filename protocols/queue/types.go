package queue

import (
	"fmt"
	"time"
)

// ClientID names a client: the unit of exactly-once deduplication. It is
// non-empty and at most MaxNameBytes long.
type ClientID string

// MaxNameBytes bounds a queue name, a client id and a DedupID.
const MaxNameBytes = 255

// MaxVisibility is the longest visibility timeout a Dequeue may ask for.
const MaxVisibility = 12 * time.Hour

// DLQSuffix is appended to a queue's name to name its dead-letter queue.
// A queue whose name already ends with it never dead-letters (its messages
// are redelivered until acked), so dead-letter queues do not chain; nor
// does a queue whose DLQ name would exceed MaxNameBytes.
const DLQSuffix = ".dlq"

// Status is the outcome of a command.
type Status uint8

// The statuses of a Result.
const (
	// StatusOK: the command took effect.
	StatusOK Status = iota + 1
	// StatusEmpty: a Dequeue found no ready message.
	StatusEmpty
	// StatusRejected: the command failed; Result.Err says why and the state
	// is untouched.
	StatusRejected
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusEmpty:
		return "empty"
	case StatusRejected:
		return "rejected"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Result is what applying a command returns to its proposer, and what the
// exactly-once table caches for a client's last command.
type Result struct {
	Status Status
	// ID is the message id: of the enqueued message (the original one on
	// a dedup hit), or of the delivered message. A Seal's Result carries
	// the epoch the queue was sealed at; an Import's, whatever its outcome,
	// the number of the next chunk its Source must send.
	ID uint64
	// Receipt identifies a Dequeue's delivery; Ack and Nack name it.
	Receipt uint64
	// Deliveries is how many times the delivered message has been
	// delivered, this delivery included.
	Deliveries uint32
	// Payload is the delivered message's payload. It is shared with the
	// Manager's state and must not be modified.
	Payload []byte
	// Duplicate is set on an Enqueue that hit the dedup window, and on an
	// Import of a chunk applied before (a no-op).
	Duplicate bool
	// Gone is set on a retried Dequeue's cached Result when the delivery
	// the retry asks about is over: acked, expired or nacked (or left
	// behind by a move); its payload is no longer here, so Payload is nil.
	// ID, Receipt and Deliveries still name the delivery. A retry while
	// the delivery is in flight under the same Receipt gets the Payload
	// instead.
	Gone bool
	// Err is set exactly when Status is StatusRejected; it wraps one of the
	// package's sentinel errors and names the field and value at fault.
	Err error
}

// Stats are the partition's metrics. The counters are cumulative; Ready,
// InFlight and Bytes are gauges. Conservation: Enqueued + Imported = Ready + InFlight
// + Acked + DeadLettered.
type Stats struct {
	// Enqueued counts messages that entered a queue: accepted Enqueues
	// (dedup hits excluded) and dead-letter moves into a DLQ.
	Enqueued uint64
	// Delivered counts deliveries (successful Dequeues).
	Delivered uint64
	// Redelivered counts deliveries of a message delivered before.
	Redelivered uint64
	// Acked counts messages deleted by Ack.
	Acked uint64
	// DeadLettered counts messages moved out of their queue into its DLQ.
	DeadLettered uint64
	// Expired counts deliveries whose visibility deadline passed (Tick).
	Expired uint64
	// DedupHits counts Enqueues answered from the dedup window.
	DedupHits uint64
	// Imported counts messages that entered by Import.
	Imported uint64
	// ImportSkipped counts imported messages skipped because a message
	// with the same id was already here.
	ImportSkipped uint64
	// Ready is the number of messages waiting to be delivered.
	Ready uint64
	// InFlight is the number of delivered, unacked messages.
	InFlight uint64
	// Bytes is the total payload size of the messages held, ready and in
	// flight, in every queue (dead-letter queues included).
	Bytes uint64
}

// Config bounds the partition. Every replica must use the same Config. A
// zero field takes its default.
type Config struct {
	// DedupWindow is how long (in command time) an Enqueue's DedupID is
	// remembered (default 5m).
	DedupWindow time.Duration
	// MaxDeliveries is how many deliveries a message gets before it is
	// dead-lettered (default 5).
	MaxDeliveries uint32
	// MaxPayload bounds a payload in bytes (default 1 MiB, at most
	// MaxWirePayload).
	MaxPayload int
	// IDPrefix is the high part of every message id and receipt the group
	// makes (see MakeID); it must be at most MaxIDPrefix. The node sets it
	// to the ring epoch the group was created at, so that ids are unique
	// across groups and a newer placement's ids sort after an older one's.
	// Zero is a valid prefix (no default).
	IDPrefix uint64
	// MaxClients bounds the exactly-once client table (default 10,000).
	// A new client beyond it evicts the client whose last command is the
	// oldest in the log.
	MaxClients int
	// MaxBytes bounds the total payload bytes the partition holds (Stats.Bytes:
	// ready and in flight, dead-letter queues included), so that its
	// snapshot fits the Raft snapshot limit (default 24 MiB; at least
	// MaxPayload). An Enqueue that would take the total above it is
	// rejected with ErrQueueFull. An Import is never refused for size: it
	// comes from a partition under the same bound, and refusing it would
	// strand the moved messages; the total may then exceed MaxBytes for a
	// while, and Enqueues are refused until consumers bring it back under.
	MaxBytes int64
	// MaxMessages bounds the number of messages the partition holds
	// (Ready + InFlight), so that the per-message overhead of a snapshot
	// is bounded too (default 100,000). An Enqueue beyond it is rejected
	// with ErrQueueFull; an Import is never refused for it (see MaxBytes).
	MaxMessages int
}

// The defaults of Config.
const (
	DefaultDedupWindow   = 5 * time.Minute
	DefaultMaxDeliveries = 5
	DefaultMaxPayload    = 1 << 20
	DefaultMaxClients    = 10_000
	DefaultMaxBytes      = 24 << 20
	DefaultMaxMessages   = 100_000
)

// IDIndexBits is the number of low bits of an id that hold the log index;
// the bits above hold the group's Config.IDPrefix.
const IDIndexBits = 40

// MaxIDPrefix is the largest Config.IDPrefix.
const MaxIDPrefix = 1<<(64-IDIndexBits) - 1

// MaxLogIndex is the largest log index a Manager applies.
const MaxLogIndex = 1<<IDIndexBits - 1

// MakeID returns the id of the message enqueued, or the receipt of the
// delivery made, at log index index by a group whose Config.IDPrefix is
// prefix: prefix<<IDIndexBits | index. It panics if prefix exceeds
// MaxIDPrefix or index exceeds MaxLogIndex.
func MakeID(prefix, index uint64) uint64 {
	if prefix > MaxIDPrefix || index > MaxLogIndex {
		panic(fmt.Sprintf("queue: MakeID(%d, %d): prefix above %d or index above %d", prefix, index, uint64(MaxIDPrefix), uint64(MaxLogIndex)))
	}
	return prefix<<IDIndexBits | index
}

// splitID returns the prefix and the log index of an id.
func splitID(id uint64) (prefix, index uint64) { return id >> IDIndexBits, id & MaxLogIndex }

// withDefaults fills zero fields and panics on an impossible bound: a
// misconfigured replica must not start.
func (c Config) withDefaults() Config {
	if c.DedupWindow < 0 || c.MaxPayload < 0 || c.MaxPayload > MaxWirePayload || c.IDPrefix > MaxIDPrefix || c.MaxClients < 0 ||
		c.MaxBytes < 0 || c.MaxMessages < 0 {
		panic(fmt.Sprintf("queue: bad config %+v", c))
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = DefaultMaxMessages
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = DefaultMaxDeliveries
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.MaxBytes < int64(c.MaxPayload) {
		panic(fmt.Sprintf("queue: bad config %+v: MaxBytes %d below MaxPayload %d", c, c.MaxBytes, c.MaxPayload))
	}
	return c
}
