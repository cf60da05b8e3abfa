// Package queues is the queue service node: named queues placed on nodes
// by the consistent-hash ring (protocols/hashring), each replicated by its
// own Raft group (protocols/raft), applying the queue state machine
// (protocols/queue), with every group of a node persisted in one
// write-ahead log (nodes/internal/raftstore). The same Server runs in the
// simulator and, through nodes/runtime, as a real process.
//
// # Placement
//
// A queue's placement key is its name without the ".dlq" suffix, so a queue
// and its dead-letter queue live together. Its replica set is the first R
// nodes of the key's preference list on the ring (R = Config.Replicas,
// default 3); the first of them is the owner. The ring changes by epochs:
// epoch 0 is Config.Servers, and each join or leave is a RingUpdate
// carrying the whole history, which nodes pass on to each other (a node
// that restarts greets its peers with its epoch and is sent anything newer).
//
// # Replication: one Raft group per queue
//
// As in RabbitMQ's quorum queues, each queue is one Raft group over its
// replica set, named by GroupID{queue, epoch}: the epoch in which that
// replica set was established. A group is created on first use by any of
// its members (the owner campaigns at once when a client is waiting). The
// group's leader serves the queue; followers redirect clients to it, nodes
// outside the set redirect to the owner. When the owner is down, another
// replica is elected and serves the queue.
//
// An enqueue is acknowledged to its producer only once its entry is
// committed: persisted and synced on a majority of the group. So no
// acknowledged message is lost while a majority of each group's replicas
// keeps its disk. All groups of a node share one log and one sync per
// batch (group commit): requests and Raft messages that arrive while a sync
// is running are persisted together by the next one.
//
// Acks are applied in log order like everything else: a message once acked
// is gone from every replica's state at the same log index, and no later
// dequeue can return it. Visibility timeouts are decided by the leader's
// clock: it stamps dequeues with its time and proposes Ticks; replicas never
// read their own clocks.
//
// # Moving a queue
//
// When a ring change alters a queue's replica set (about R/N of the queues
// for one join or leave; the owner changes for about 1/N), the queue moves
// to the group of the new epoch, messages and all:
//
//  1. the old group's leader commits a Seal: from that entry on every
//     replica refuses client commands with queue.ErrMoved (clients retry
//     elsewhere), and the state is frozen;
//  2. it exports the sealed state in chunks to the new group, whose leader
//     commits each as an Import and answers with the next chunk it wants
//     (imports are idempotent and in order; in-flight messages arrive ready,
//     with their delivery counts);
//  3. once every chunk is committed there, it commits a drop marker, and
//     each replica that applies it deletes the group. A replica that missed
//     it deletes its copy once a majority of the other members say they
//     no longer have the group.
//
// The new group serves clients only once the previous group's whole state
// is committed in its log (or a majority of the previous group's members
// show that it never held anything): otherwise a client's retry of a
// command the old group applied could be applied again before the old
// group's exactly-once table arrives. Clients hear "busy" meanwhile.
// Message ids carry the group's epoch in their high bits, so moved
// messages keep their ids and sort before newer ones, and a receipt of
// the old group never matches a delivery of the new one: an ack of a
// delivery made by the old group is refused, and that message is
// delivered again (a move makes in-flight messages ready at once, their
// visibility timeouts included).
//
// Ring changes must be applied one at a time: the operator sends the next
// RingUpdate only once every node on the ring is up and no live node
// reports a move pending (Server.MovesPending). A down node may hold the
// only live copies of a group that still has to move. Overlapping changes are not supported: an old
// group whose drop was delayed could export again to a group two moves
// on, and a message acked in between would come back. A move whose old
// group has lost its majority waits until that majority is back.
//
// # Guarantees and failure behaviour
//
//   - An acknowledged enqueue is never lost while a majority of its group
//     keeps its disk, across crashes, partitions, restarts and moves.
//   - At-least-once delivery: a message is delivered until it is acked, or
//     moved to "<queue>.dlq" after queue.Config.MaxDeliveries deliveries.
//   - An acked message is never delivered again.
//   - A message is in flight to at most one consumer at a time (a move
//     ends every delivery in flight: see above).
//   - FIFO for first deliveries within a queue.
//   - A minority partition cannot serve a queue: its nodes answer
//     nodes.ServiceNoQuorum (or redirect), and clients retry.
//   - Exactly-once for retries of a client's last command (client, seq),
//     within the state machine's bounded client table.
package queues
