// Package queue is the state machine of a replicated queue partition.
//
// # Placement and replication
//
// A queue is placed by the consistent-hash ring (protocols/hashring): its
// partition is a Raft group over the first R nodes of the queue's preference
// list, and every replica of the group applies this state machine, a
// Manager, from the group's log. An Enqueue is acknowledged to the producer
// once its entry is committed, that is written and synced on a majority of
// the group (group-committed with its neighbours), so no acknowledged message
// is lost while a majority of the group survives. An Ack is applied in log
// order like everything else, so a message once acked is never delivered
// again: any Dequeue later in the log sees it gone. A delivery that is not
// acked before its visibility deadline is made ready again by a Tick, which
// gives at-least-once delivery; a message delivered Config.MaxDeliveries
// times without an ack moves to the dead-letter queue "<queue>.dlq".
//
// The node assembly (nodes/queue) and the replication wiring (proposing
// commands to the Raft group, stamping them with the leader's clock,
// proposing Ticks, routing by the ring) are not built yet; this package is
// only the deterministic state machine they will apply.
//
// # Determinism
//
// Apply is pure: no goroutines, no clock, no I/O, no random source. Time
// enters only through commands: the leader stamps Enqueue, Dequeue and Tick
// with its clock (Now, unix nanoseconds), so every replica that applies the
// same entries at the same indexes holds the same state, byte for byte
// (Snapshot). Maps are only ever walked in sorted key order.
//
// # Identities
//
// A message's id is the log index of the Enqueue that created it; a
// delivery's Receipt is the log index of the Dequeue that made it. Both are
// unique and increase with the log, so ready messages are served in id order
// (FIFO by enqueue; a redelivered message goes back to its place by id), and
// a receipt names one delivery only: once the message is redelivered, the
// old receipt is refused.
//
// # Exactly-once
//
// Client commands carry (Client, Seq). A Manager remembers each client's last
// sequence number and its Result: a retry of the last Seq returns the cached
// Result without applying again, an older Seq is rejected with
// ErrStaleSequence. Producers can also set Enqueue.DedupID: a second Enqueue
// with the same (queue, DedupID) within Config.DedupWindow of command time
// returns the original message id and enqueues nothing.
package queue
