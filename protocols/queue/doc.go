// Package queue is the state machine of a replicated queue partition.
//
// # Placement and replication
//
// A queue is placed by the consistent-hash ring (protocols/hashring): its
// partition is a Raft group over the first R nodes of the queue's preference
// list, holding the queue and its dead-letter queue, and every replica of
// the group applies this state machine, a Manager, from the group's log.
// The node in nodes/queues runs the groups: it proposes the commands,
// stamps them with the leader's clock, proposes Ticks and routes by the
// ring. An Enqueue is acknowledged to the producer once its entry is
// committed, that is written and synced on a majority of the group
// (group-committed with its neighbours), so no acknowledged message is lost
// while a majority of the group survives. An Ack is applied in log order
// like everything else, so a message once acked is never delivered again:
// any Dequeue later in the log sees it gone. A delivery that is not acked
// before its visibility deadline is made ready again by a Tick, which gives
// at-least-once delivery; a message delivered Config.MaxDeliveries times
// without an ack moves to the dead-letter queue "<queue>.dlq".
//
// # Moves: Seal, Export, Import
//
// When the ring changes and a queue's replica set with it, the queue moves
// to a new group. The old group applies a Seal: from then on its state is
// frozen (every new client command and Import is rejected with ErrMoved,
// naming the epoch; Ticks do nothing, so deliveries in flight do not
// expire), except that a retry of a client's last command still returns
// its cached Result. Manager.Export reads the frozen state in chunks, the
// same on every replica: the import-source table, the exactly-once client
// table, the dedup window and every message, ready or in flight, in id
// order. Each chunk is proposed to the new group as an Import command,
// which may already hold newer messages: an imported message becomes
// ready with its delivery count (a delivery in flight at the seal will be
// made again), client entries merge by the larger sequence number, dedup
// entries are added where absent. The new group remembers, per Source,
// the next chunk it expects, so a chunk is applied once and in order, and
// the Result's ID tells the exporter which chunk to send next; the table
// keeps at most MaxImportSources sources, forgetting the ones finished
// longest ago. A sealed group's export carries its own import progress, and
// a message whose id is already present is skipped, so a move interrupted
// by another one resumes where it was. (A message acked in the new group
// and then imported again, by a second path, is delivered again: at least
// once still holds.)
//
// # Limits
//
// A partition's state must fit one Raft snapshot (64 MiB). Payloads are
// bounded by Config.MaxPayload each and Config.MaxBytes in all (ready and
// in flight, dead-letter queues included: Stats.Bytes); messages by
// Config.MaxMessages, which bounds their per-message snapshot overhead; the
// client table by Config.MaxClients, its Results carrying no payload. An
// Enqueue that would cross MaxBytes or MaxMessages is rejected with
// ErrQueueFull (a dedup hit is answered as always: it adds nothing). An
// Import is never refused for size: it comes from a partition under the
// same bounds, and refusing it would strand the moved messages; a group
// that receives one on top of its own messages may hold more than the
// bounds for a while, and refuses Enqueues until consumers bring it back
// under them.
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
// A message's id is MakeID(Config.IDPrefix, index) = IDPrefix<<40 | index,
// where index is the log index of the Enqueue that created it; a
// delivery's Receipt is made the same way from the log index of the
// Dequeue that made it. Every replica of a group uses the same IDPrefix,
// the ring epoch the group was created at, so ids are unique across groups
// and those of an older placement sort before a newer one's. Ready
// messages are served in id order: FIFO by enqueue, a redelivered message
// goes back to its place by id, and messages imported from an older
// placement are served before the group's own (an Import refuses an id
// whose prefix is not below the group's). A receipt names one
// delivery of one group only: once the message is redelivered, or if the
// receipt comes from another group, it is refused.
//
// # Exactly-once
//
// Client commands carry (Client, Seq). A Manager remembers each client's last
// sequence number and its Result: a retry of the last Seq returns the cached
// Result without applying again, an older Seq is rejected with
// ErrStaleSequence.
//
// The client table keeps no payload, so that it costs neither memory nor
// snapshot space per delivered message: a cached Dequeue Result is stored
// without its Payload. A retry of that Dequeue gets the payload back from
// the message if the delivery is still in flight under the same Receipt;
// otherwise the delivery is over (acked, expired or nacked, or left behind
// by a move) and the retry gets the cached Result with Result.Gone set and
// no Payload: the consumer cannot process a delivery it no longer holds,
// and the message, unless it was acked, is delivered again. Producers can also set Enqueue.DedupID: a second Enqueue
// with the same (queue, DedupID) within Config.DedupWindow of command time
// returns the original message id and enqueues nothing.
//
// The client table is bounded by Config.MaxClients: a new client beyond it
// evicts the client whose last command is the oldest in the log (a session
// expiry, as in the Raft thesis, section 6.3). An evicted client is
// forgotten: a retry of its old command is applied again, so a late
// retried Enqueue enqueues a second copy. Deployments size MaxClients above
// their number of live producers and consumers, so that only idle clients
// are evicted.
package queue
