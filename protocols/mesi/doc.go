// Package mesi keeps per-node LRU caches coherent with the MESI protocol.
//
// Cache is one node's LRU of Lines; a Protocol is one node's coherence
// controller, selectable per scenario: Directory for the directory
// protocol (the default) or Broadcast for the broadcast protocol, the
// original design, kept with its flaw (see "The broadcast protocol"). Both
// are pure, message-driven state machines in the style of Sorin, Hill &
// Wood, "A Primer on Memory Consistency and Cache Coherence", ch. 8:
// client operations (Get, Put) and messages (Deliver) go in, messages to
// send (Outbox) and finished client operations (Completions) come out.
// The sections up to "What blocks" describe the directory protocol.
//
// # Homes and caches
//
// Every key has a home, Config.Home(key), that keeps the key's memory
// (value and version: the durable backing store) and its directory entry
// (I, S with a set of sharers, or EM with one owner) and serialises the
// key's transactions: a GetS or GetM arriving while the home waits for an
// owner's answer to a forwarded request (S^D, M^D) is queued, FIFO, and
// served once it comes. Any node is a cache; a node may be the home of
// the keys it caches, messages to itself go through the outbox like any
// other. Messages follow the Primer: GetS, GetM, PutM, Fwd-GetS, Fwd-GetM,
// Inv, Inv-Ack, Data, Put-Ack, plus Data(home), the copy an owner sends
// its home whenever it answers a forwarded request (so memory is updated
// on every ownership change, and the home knows the request is done), and
// Reset (see Crashes). Transactions are named by the requester's id
// (Message.Txn, unique per node for the node's lifetime), so a message for
// a transaction lost in a crash is recognised and dropped.
//
//   - Read miss: GetS to the home, which answers Data in E if nobody holds
//     the key, in S if there are sharers; if an owner holds it in E or M,
//     the home sends it Fwd-GetS, the owner sends Data(home) to the home
//     and keeps the line in S, and the home, once memory is updated,
//     sends the requester its Data in S. (The Primer's owner sends the
//     requester's Data itself, one hop sooner; but if the owner then
//     crashes with its Data(home) lost, the reader holds data newer than
//     memory, and the home serves memory's older value to the next
//     reader: see TestOwnerCrashAfterFwdGetS.)
//   - Write to a line not in E or M: GetM to the home, which answers Data
//     with Acks, the number of other sharers, and sends each of them an
//     Inv; they invalidate and send Inv-Ack to the requester, which counts
//     them, acks arriving before the Data included (IM^AD, IM^A); or the
//     home sends Fwd-GetM to the owner, which hands the line over. The
//     line enters M, and the Put completes, once the Data and every ack
//     are in. A forwarded request that reaches a requester before that is
//     deferred until then. A write to an E line goes to M silently, to an
//     M line completes at once.
//   - S lines are evicted silently (no PutS): a node answers every Inv with
//     an Inv-Ack at once, holding the line or not. E and M victims are
//     written back with PutM; the home updates memory and answers
//     Put-Ack; a Fwd-GetS or Fwd-GetM reaching the evicting node first is
//     served from the line being written back (MI^A → SI^A or II^A) and the
//     home acknowledges the then stale PutM all the same. The victim is
//     chosen with Cache.Victim and written back before the new line is
//     inserted.
//   - An Inv reaching a read miss in progress (IS^D) is acknowledged; the
//     Data, when it comes, completes the read and is dropped (IS^D_I).
//
// # Versions
//
// The home counts ownership grants per key (every Data granting E or M
// and every Fwd-GetM makes one). A write by the owner under grant g has
// version g<<32|1 if it is the first under g, else the line's version
// plus one. Versions of a key thus grow strictly over time, across owners
// and across lost writes, and a version names one value. Memory takes a
// written-back value only if it is newer than its own, so it only moves
// forward whatever order write-backs arrive in.
//
// # Write-through
//
// With Config.WriteThrough, a Put obtains M as usual, applies the write,
// and at once writes the line back with a PutM, leaving the cache; the Put
// completes on the Put-Ack, when memory holds the value (or a newer one).
// Memory is then never behind a completed write, and M lines never stay
// in a cache. Other nodes may read the value between the write and its
// completion (it is concurrent with them). In write-back mode memory is
// updated only by PutM and Data(home).
//
// # Network
//
// The protocol assumes reliable, per-pair FIFO delivery: every message
// sent from a to b is delivered to b exactly once, in the order sent,
// even if b crashes meanwhile (the node layer numbers, retransmits and
// deduplicates). Messages of different pairs may be reordered at will:
// the transient states above handle that.
//
// # Crashes
//
// Crash loses the node's cache side: lines, transactions, deferred
// forwarded requests and queued client operations (which never complete);
// LostWrites counts the M lines lost. The home side (memory and directory
// entries, transient ones included) is durable: the node layer persists
// it, whole (HomeState) or key by key (DirtyHomeKeys, AppendHomeEntry;
// see Durable). Crash leaves in the outbox a Reset for every node of Config.Nodes,
// to be sent before anything else. A home handling a Reset from x (after
// everything x sent before crashing, by FIFO order) forgets x as sharer
// and owner, drops x's queued requests, serves from memory any request it
// had forwarded to x, and treats a request of x's still in progress as
// abandoned. Forwarded requests, Data, Inv-Acks and Put-Acks that reach x
// after its restart for its old transactions are dropped; an Inv is
// acknowledged as always. Nothing waits forever on a node that crashed
// and restarted.
//
// # What blocks
//
// Blocking is acceptable, incoherence is not. A write waits for every
// sharer's Inv-Ack, so a partitioned or crashed-and-not-restarted sharer
// blocks writers of its keys; a forwarded request waits for the owner, so
// an unreachable owner blocks its keys' readers and writers (and, queued
// behind, every later request for those keys); an unreachable home blocks
// every miss on its keys. Hits never block.
//
// # The broadcast protocol
//
// The original design: no home, no directory, nothing that orders a
// key's transactions. Config.Memory names a separate memory node that
// holds every key's backing store (value and version, durable) and only
// answers MemRead with MemData and stores each MemWrite, overwriting
// whatever it holds, with a MemWrite-Ack. Every other node is a cache;
// its peers are the other caches. A key's client operations on one node
// run one at a time, as in the directory protocol.
//
//   - Read miss: ReadReq to every peer. A peer answers from its line as it
//     is when the request arrives: in M it writes the line back (MemWrite)
//     and goes to S, in E it goes to S, in S it stays; each of these
//     answers ReadResp with the data; a peer without the line answers
//     ReadResp with State Invalid. Once every peer answered, the reader
//     takes the newest data sent in S; if no peer had the line it sends
//     MemRead and takes memory's MemData in E. The Get then completes.
//   - Write hit on E or M: silently M (write-through: see below).
//   - Write on S or I: BInv to every peer; a peer drops whatever line it
//     holds, writing an M line back first (MemWrite), and answers BInv-Ack
//     with the dropped copy's version. The writer keeps its S
//     copy meanwhile (it is still served to ReadReqs); on a miss it also
//     sends MemRead, for memory's version. Once every ack (and the
//     MemData) is in, the line takes the value in M and the Put
//     completes.
//   - M victims are written back with a MemWrite; S and E victims are
//     dropped silently. A node's MemWrite in flight holds nothing back:
//     by FIFO order memory has it before that node's next MemRead.
//   - A write's version is one more than the highest version its writer
//     saw: its S copy's, the versions in the BInv-Acks, memory's on a
//     miss. Run one at a time, writes thus get strictly growing versions.
//   - Write-through: a write installs its line in E rather than M and
//     sends a MemWrite; the Put completes on the MemWrite-Ack. No cache
//     holds an M line.
//   - Crash loses the cache side (LostWrites counts the M lines lost); no
//     node keeps state about another, so nothing is reset: answers for
//     lost transactions are dropped, ReadReq and BInv are answered as
//     always. The memory node's store is durable. A write after a lost
//     one may reuse a lost version.
//
// Nothing more: a node waiting for ReadResps or BInv-Acks just waits; a
// BInv reaching it meanwhile is acknowledged and drops whatever line is
// there (none, during a read miss: the data that comes later is
// installed all the same); a ReadReq reaching it meanwhile is answered
// from the line as it is. Over per-pair FIFO channels whose pairs are
// reordered at will that is racy: two writers that invalidate each
// other's S copies both take M; a read miss whose ReadReqs all find no
// copy takes E from memory while a concurrent writer takes M; a reader
// that collected its data before a BInv came keeps a stale S copy after
// the write completed. Single-writer/multiple-reader and the data-value
// invariant are lost, and with them linearizability (see
// broadcast_test.go). Run one operation at a time, with the network
// drained in between, it is coherent.
//
// # Determinism
//
// The package is pure: no clock (callers pass virtual times), no
// goroutines, no I/O, no random source. Maps are walked in sorted key
// order only, so outputs depend on inputs alone.
package mesi
