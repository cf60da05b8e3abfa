// Package lockmgr is the lock table of the lock service: a deterministic
// state machine applied from the Raft log. Every replica that applies the
// same commands at the same log indexes holds byte-identical state
// (Manager.Snapshot), produces the same Results and the same Events. It
// does no I/O, reads no clock and starts no goroutine; time only enters as
// durations carried by commands (a session's TTL, a wait's timeout), and
// the decisions that need a clock are taken by the leader and logged as
// commands (ExpireSession, CancelWait).
//
// # Sessions
//
// A client opens a session (OpenSession); its id is the log index of that
// entry. Locks and waits belong to sessions. The leader arms a TTL timer
// per session, restarted by each KeepAlive; when it fires it proposes
// ExpireSession with the renewal index it saw, so an expiry that raced
// with a KeepAlive is refused (ErrSessionRenewed). Closing or expiring a
// session releases its locks, grants what that frees, and aborts its wait.
//
// # Locks
//
// Shared locks are compatible with each other, Exclusive with nothing.
// Each resource has a FIFO wait queue and there is no barging: a request
// is granted at once only if the resource is free, or if it and the holders
// are Shared and nobody is queued. A holder asking again in its mode (or
// for Shared while holding Exclusive) gets its token back. A shared holder
// asking for Exclusive is upgraded at once when it is the only holder;
// otherwise it queues ahead of the ordinary waiters, behind earlier
// upgrades (the ordinary waiters wait for its shared lock anyway; at the
// tail it would deadlock with every exclusive waiter). Releasing a lock
// whose upgrade is pending aborts the upgrade (ErrReleased).
//
// A session waits for at most one lock at a time (ErrAlreadyWaiting), like
// a transaction in a database lock manager: this makes each waiting
// session one node with one request in the wait-for graph, so the victim
// of a deadlock is exactly one request.
//
// # Fencing tokens
//
// A lock's token is the log index of the entry that granted it: the
// Acquire's own for an immediate grant, the freeing entry's (a Release, a
// CancelWait, an ExpireSession...) for a waiter granted later. Indexes only
// grow, so each grant on a resource carries a larger token than all grants
// before it; compatible waiters granted by the same entry share its token.
//
// # Deadlocks
//
// A queued request gets wait-for edges (package deadlock) to every holder
// and every earlier waiter of its resource whose mode conflicts with its
// own, and the edges of a queue are recomputed whenever its holders or
// waiters change. A DFS from each waiter whose edges grew finds any cycle;
// the youngest request in it (largest log index) is aborted with
// ErrDeadlockVictim. New paths in the graph only appear when an Acquire
// queues (a grant keeps its waiter's conflicts, a release or an abort only
// removes edges, and the edges an immediate upgrade adds duplicate paths
// through the exclusive waiter ahead), so every cycle runs through that
// request, the newest waiting one: the victim is always the Acquire being
// applied, its Result is the rejection, and the table is left as it was.
// The property tests check that no other request is ever a victim.
//
// # Exactly once
//
// Client commands carry (Client, Seq). The table remembers each client's
// last Seq and Result: a repeat returns the cached Result unapplied, an
// older Seq is rejected (ErrStaleSequence). A Queued result is updated when
// that wait ends, so a retry learns the grant or the abort. Clients with
// live sessions are kept; clients without are kept in an LRU list bounded
// by Config.MaxIdleClients, so the table holds at most MaxSessions +
// MaxIdleClients clients.
//
// # Results and events
//
// Apply returns the Result of the command for its proposer. Waits that end
// during the apply because of it (grants behind a released lock, aborts)
// are reported by Events, for the node to answer the waiting clients.
//
// # Memory
//
// A held lock without contention is a map entry, the name, a 24-byte
// resource and its entry in the session's sorted list; the holder list
// and the queue are allocated only under contention. The benchmarks
// (BenchmarkMemoryPerHeldLock, BenchmarkMemoryPerWaiter) measure about
// 98 bytes per held lock and 130-135 bytes per waiter at 100k, below the
// original design's ~100 and ~200.
package lockmgr
