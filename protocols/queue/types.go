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
	// a dedup hit), or of the delivered message.
	ID uint64
	// Receipt identifies a Dequeue's delivery; Ack and Nack name it.
	Receipt uint64
	// Deliveries is how many times the delivered message has been
	// delivered, this delivery included.
	Deliveries uint32
	// Payload is the delivered message's payload. It is shared with the
	// Manager's state and must not be modified.
	Payload []byte
	// Duplicate is set on an Enqueue that hit the dedup window.
	Duplicate bool
	// Err is set exactly when Status is StatusRejected; it wraps one of the
	// package's sentinel errors and names the field and value at fault.
	Err error
}

// Stats are the partition's metrics. The counters are cumulative; Ready and
// InFlight are gauges.
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
	// Ready is the number of messages waiting to be delivered.
	Ready uint64
	// InFlight is the number of delivered, unacked messages.
	InFlight uint64
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
}

// The defaults of Config.
const (
	DefaultDedupWindow   = 5 * time.Minute
	DefaultMaxDeliveries = 5
	DefaultMaxPayload    = 1 << 20
)

// withDefaults fills zero fields and panics on an impossible bound: a
// misconfigured replica must not start.
func (c Config) withDefaults() Config {
	if c.DedupWindow < 0 || c.MaxPayload < 0 || c.MaxPayload > MaxWirePayload {
		panic(fmt.Sprintf("queue: bad config %+v", c))
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
	return c
}
