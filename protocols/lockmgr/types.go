package lockmgr

import (
	"fmt"
	"time"
)

// Resource names a lockable thing. It is non-empty and at most
// MaxResourceBytes long; Apply rejects anything else.
type Resource string

// MaxResourceBytes bounds a resource name, so a lock table entry, a command
// and a snapshot record stay small.
const MaxResourceBytes = 256

// ClientID names a client: the unit of exactly-once deduplication. It is
// non-empty and at most MaxClientBytes long.
type ClientID string

// MaxClientBytes bounds a client id, for the same reason as MaxResourceBytes.
const MaxClientBytes = 256

// SessionID identifies a session: the log index of the OpenSession entry
// that created it, so it is unique, ordered by age, and never zero.
type SessionID uint64

// Token is a fencing token: the log index of the entry at which a lock was
// granted. A storage service that remembers the highest token it has seen
// for a resource can refuse a write from a holder whose lock has since
// been lost, because every later grant carries a larger token.
type Token uint64

// Mode is the mode of a lock: Shared locks are compatible with each other,
// an Exclusive lock with nothing. The zero Mode is invalid, so a request
// that forgets to set it is rejected instead of silently taking a default.
type Mode uint8

// The two lock modes.
const (
	Shared Mode = iota + 1
	Exclusive
)

// String returns "shared", "exclusive" or "Mode(n)".
func (m Mode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Exclusive:
		return "exclusive"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// valid reports whether m is Shared or Exclusive.
func (m Mode) valid() bool { return m == Shared || m == Exclusive }

// conflicts reports whether a lock in mode a and one in mode b cannot be
// held together by different sessions.
func conflicts(a, b Mode) bool { return a == Exclusive || b == Exclusive }

// WaitKind says what an Acquire does when the lock is not free.
type WaitKind uint8

// The wait kinds. NoWait is the zero value: a try-lock.
const (
	// NoWait fails the Acquire with ErrWouldBlock instead of queuing.
	NoWait WaitKind = iota
	// Forever queues until the lock is granted, the wait is chosen as a
	// deadlock victim, or the session ends.
	Forever
	// Timeout queues like Forever, and the leader proposes a CancelWait
	// when WaitPolicy.Timeout has passed on its clock.
	Timeout
)

// String returns the kind's name.
func (k WaitKind) String() string {
	switch k {
	case NoWait:
		return "no-wait"
	case Forever:
		return "forever"
	case Timeout:
		return "timeout"
	}
	return fmt.Sprintf("WaitKind(%d)", uint8(k))
}

// WaitPolicy is how long an Acquire may wait. Timeout is used only with
// Kind Timeout, where it must be in (0, Config.MaxWaitTimeout]; with the
// other kinds it must be zero.
type WaitPolicy struct {
	Kind    WaitKind
	Timeout time.Duration
}

// Status is the outcome of a command.
type Status uint8

// The statuses of a Result.
const (
	// StatusOK: the command took effect (or was a harmless no-op).
	StatusOK Status = iota + 1
	// StatusGranted: the Acquire holds the lock; Result.Token is its
	// fencing token.
	StatusGranted
	// StatusQueued: the Acquire waits; an Event reports its end.
	StatusQueued
	// StatusRejected: the command failed; Result.Err says why, and the
	// lock table is untouched.
	StatusRejected
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusGranted:
		return "granted"
	case StatusQueued:
		return "queued"
	case StatusRejected:
		return "rejected"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Result is what applying a command returns to its proposer. It is also
// what the exactly-once table caches, so a retried command gets the same
// answer.
type Result struct {
	Status Status
	// Session is the new session of an OpenSession.
	Session SessionID
	// Token is the fencing token of a granted Acquire.
	Token Token
	// Request is the log index of the Acquire a Granted or Queued result
	// is about: the identity of the wait in later Events and CancelWait.
	Request uint64
	// Err is set exactly when Status is StatusRejected. It wraps one of the
	// package's sentinel errors (errors.Is works) and names the field and
	// value at fault.
	Err error
}

// EventKind says what happened to a waiting Acquire.
type EventKind uint8

// The event kinds.
const (
	// EventGranted: the waiter now holds the lock.
	EventGranted EventKind = iota + 1
	// EventAborted: the wait ended without the lock; Event.Err says why
	// (ErrDeadlockVictim, ErrTimeout, ErrSessionExpired, ErrSessionClosed
	// or ErrReleased).
	EventAborted
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventGranted:
		return "granted"
	case EventAborted:
		return "aborted"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is the asynchronous end of a wait, produced while applying some
// later command (a Release that frees the lock, a CancelWait, an
// ExpireSession...). The node layer turns it into the reply the waiting
// client is blocked on.
type Event struct {
	Kind     EventKind
	Client   ClientID
	Session  SessionID
	Resource Resource
	Mode     Mode
	// Request is the log index of the waiting Acquire.
	Request uint64
	// Token is the fencing token of a grant: the index of the entry that
	// freed the lock.
	Token Token
	// Err says why an aborted wait ended.
	Err error
}

// Stats are the lock manager's metrics, named after the original design's
// (active_locks, deadlocks_detected...).
type Stats struct {
	// Sessions is the number of live sessions.
	Sessions uint64
	// ActiveLocks is the number of held locks (one per holder and resource).
	ActiveLocks uint64
	// Waiting is the number of queued Acquires.
	Waiting uint64
	// Grants counts every grant ever made, immediate or after a wait.
	Grants uint64
	// Waits counts every Acquire that queued.
	Waits uint64
	// Deadlocks counts the cycles detected in the wait-for graph.
	Deadlocks uint64
	// Victims counts the waits aborted to break a deadlock.
	Victims uint64
	// Timeouts counts the waits cancelled by CancelWait.
	Timeouts uint64
	// Expired counts the sessions ended by ExpireSession.
	Expired uint64
}

// Config bounds the lock table. Every replica must use the same Config:
// the bounds decide which commands are rejected. A zero field takes its
// default.
type Config struct {
	// MaxTTL is the longest session TTL accepted (default 60s).
	MaxTTL time.Duration
	// MaxWaitTimeout is the longest WaitPolicy.Timeout accepted
	// (default 10m).
	MaxWaitTimeout time.Duration
	// MaxSessions bounds the live sessions (default 1<<20).
	MaxSessions int
	// MaxLocksPerSession bounds the locks one session holds
	// (default 1<<16).
	MaxLocksPerSession int
	// MaxQueueLength bounds the waiters of one resource (default 1024).
	// Each waiter has a wait-for edge to every conflicting holder and
	// earlier waiter, so a queue of n costs O(n*n) edges at worst.
	MaxQueueLength int
	// MaxIdleClients bounds the exactly-once entries of clients with no
	// live session (default 4096); the least recently used is evicted.
	MaxIdleClients int
}

// The defaults of Config.
const (
	DefaultMaxTTL             = 60 * time.Second
	DefaultMaxWaitTimeout     = 10 * time.Minute
	DefaultMaxSessions        = 1 << 20
	DefaultMaxLocksPerSession = 1 << 16
	DefaultMaxQueueLength     = 1024
	DefaultMaxIdleClients     = 4096
)

// withDefaults returns c with every zero field set to its default, and
// panics on a negative bound: a misconfigured replica must not start.
func (c Config) withDefaults() Config {
	if c.MaxTTL < 0 || c.MaxWaitTimeout < 0 || c.MaxSessions < 0 ||
		c.MaxLocksPerSession < 0 || c.MaxQueueLength < 0 || c.MaxIdleClients < 0 {
		panic(fmt.Sprintf("lockmgr: negative bound in config %+v", c))
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.MaxWaitTimeout == 0 {
		c.MaxWaitTimeout = DefaultMaxWaitTimeout
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxLocksPerSession == 0 {
		c.MaxLocksPerSession = DefaultMaxLocksPerSession
	}
	if c.MaxQueueLength == 0 {
		c.MaxQueueLength = DefaultMaxQueueLength
	}
	if c.MaxIdleClients == 0 {
		c.MaxIdleClients = DefaultMaxIdleClients
	}
	return c
}
