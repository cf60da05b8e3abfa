package mesi

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Broadcast is one node's coherence controller for the broadcast
// protocol, the original design (see the package doc, "The broadcast
// protocol"): a cache node broadcasts its read misses and invalidations
// to every peer cache, and a separate memory node keeps the backing
// store. Nothing orders a key's transactions, so over a network that
// delays and reorders messages it is racy; it is kept, flaw included, for
// the simulator to find the flaw. Like Directory it is a pure state
// machine: Get, Put, Deliver and Crash go in; Outbox and Completions come
// out.
type Broadcast struct {
	cfg    Config
	peers  []NodeID // Nodes without Self and Memory, sorted
	memory bool     // Self is the memory node
	cache  *Cache

	// Cache side.
	pending map[string]*btxn // the transaction in progress per key
	waiting map[string][]op  // client operations queued behind it
	// writeBacks counts the MemWrites in flight per key. It survives
	// crashes: their acks still come (the network is reliable).
	writeBacks map[string]int
	nextTxn    uint64
	lost       uint64

	// Memory side (durable).
	store map[string]Write
	// dirtyKeys are the keys of the store written since the last
	// DirtyKeys, Durable or RestoreDurable.
	dirtyKeys map[string]struct{}

	outbox []Message
	done   []Completion
	stats  Stats
}

// bPhase is what a broadcast transaction waits for.
type bPhase uint8

const (
	// bRead: ReadReqs sent, waiting for every peer's ReadResp.
	bRead bPhase = iota + 1
	// bMemRead: no peer had the line, MemRead sent, waiting for MemData.
	bMemRead
	// bWrite: BInvs sent, waiting for every peer's BInvAck (and, on a
	// write miss, for the MemData giving memory's version).
	bWrite
	// bMemAck: write-through, the line is written, waiting for the
	// MemWriteAck.
	bMemAck
)

// btxn is a broadcast transaction the cache side started for a client
// operation.
type btxn struct {
	id      uint64
	phase   bPhase
	o       op
	answers int      // ReadResps or BInvAcks received
	best    *Message // bRead: the newest ReadResp carrying data
	version uint64   // bWrite: the highest version seen so far
	needMem bool     // bWrite: a write miss still waiting for MemData
	written Line     // bMemAck: the line written
}

// NewBroadcast validates cfg and returns a node of the broadcast
// protocol: the memory node if cfg.Self is cfg.Memory (empty memory, no
// cache), else a cache node with an empty cache. cfg.Home is ignored;
// cfg.Memory must be one of cfg.Nodes.
func NewBroadcast(cfg Config) (*Broadcast, error) {
	if cfg.Self == "" {
		return nil, fmt.Errorf("mesi: Config.Self is empty")
	}
	if cfg.Memory == "" {
		return nil, fmt.Errorf("mesi: Config.Memory is empty: the broadcast protocol needs a memory node")
	}
	cfg, err := normalizeConfig(cfg)
	if err != nil {
		return nil, err
	}
	if _, ok := slices.BinarySearch(cfg.Nodes, cfg.Memory); !ok {
		return nil, fmt.Errorf("mesi: Config.Memory %q is not in Config.Nodes %v", cfg.Memory, cfg.Nodes)
	}
	b := &Broadcast{
		cfg:        cfg,
		memory:     cfg.Self == cfg.Memory,
		pending:    map[string]*btxn{},
		waiting:    map[string][]op{},
		writeBacks: map[string]int{},
		store:      map[string]Write{},
		dirtyKeys:  map[string]struct{}{},
	}
	for _, n := range cfg.Nodes {
		if n != cfg.Self && n != cfg.Memory {
			b.peers = append(b.peers, n)
		}
	}
	capacity := cfg.Capacity
	if b.memory {
		capacity = 1 // never filled
	}
	if b.cache, err = NewCache(capacity); err != nil {
		return nil, fmt.Errorf("mesi: Config.Capacity %d: must be at least 1", cfg.Capacity)
	}
	return b, nil
}

// Name returns "broadcast".
func (b *Broadcast) Name() string { return "broadcast" }

// checkOp refuses a client operation on the memory node or with a bad
// key.
func (b *Broadcast) checkOp(what, key string) error {
	if b.memory {
		return fmt.Errorf("%w: %s %q: node %s is the memory node, it has no cache", ErrBadRequest, what, key, b.cfg.Self)
	}
	return checkKey(b.cfg, what, key)
}

// Get reads key. It completes at once on a hit, otherwise later, through
// Completions, once every peer answered (and memory, if no peer had the
// line). Bad input, or a Get on the memory node, is refused with an error
// wrapping ErrBadRequest, and nothing is sent.
func (b *Broadcast) Get(req uint64, key string, now time.Duration) error {
	if err := b.checkOp("Get", key); err != nil {
		return err
	}
	b.start(key, op{req: req}, now)
	return nil
}

// Put writes value to key (the value is copied). It completes at once on a
// write hit to an E or M line (write-back mode), otherwise later, through
// Completions. Bad input (empty or too long key, value over
// MaxValueBytes, a Put on the memory node) is refused with an error
// wrapping ErrBadRequest, and nothing is sent.
func (b *Broadcast) Put(req uint64, key string, value []byte, now time.Duration) error {
	if err := b.checkOp("Put", key); err != nil {
		return err
	}
	if len(value) > b.cfg.MaxValueBytes {
		return fmt.Errorf("%w: Put %q: value length %d exceeds MaxValueBytes %d", ErrBadRequest, key, len(value), b.cfg.MaxValueBytes)
	}
	b.start(key, op{req: req, put: true, value: slices.Clone(value)}, now)
	return nil
}

// Deliver hands the node a message addressed to it. It panics if the
// message is not addressed to this node or is of a kind this node does
// not handle (MemRead and MemWrite go to the memory node, the other
// broadcast kinds to caches).
func (b *Broadcast) Deliver(m Message, now time.Duration) {
	if m.To != b.cfg.Self {
		panic(fmt.Sprintf("mesi: node %s delivered a message for %s: %v", b.cfg.Self, m.To, m))
	}
	if b.memory {
		b.memoryDeliver(m)
		return
	}
	b.cacheDeliver(m, now)
}

// Outbox returns the messages produced since the last call, in the order
// they must be sent, and forgets them.
func (b *Broadcast) Outbox() []Message {
	out := b.outbox
	b.outbox = nil
	return out
}

// Completions returns the client operations completed since the last
// call, in completion order, and forgets them.
func (b *Broadcast) Completions() []Completion {
	out := b.done
	b.done = nil
	return out
}

// Restart is Crash: no node keeps state about another, so nothing a lost
// message in flight was to change is remembered anywhere.
func (b *Broadcast) Restart() { b.Crash() }

// Crash models a crash and restart of the node. A cache node loses its
// cache, its transactions and queued client operations (whose completions
// never come) and anything not yet drained from Outbox and Completions;
// LostWrites grows by the number of M lines lost. Answers for the lost
// transactions are dropped when they come; ReadReqs and BInvs are
// answered as always. No message is sent: no node keeps state about
// another. The memory node's store is durable: a crash keeps it.
func (b *Broadcast) Crash() {
	n := b.cache.States()
	b.lost += uint64(n[Modified])
	b.cache, _ = NewCache(b.cache.Capacity())
	clear(b.pending)
	clear(b.waiting)
	b.outbox = nil
	b.done = nil
}

// LostWrites returns the number of M lines (each holding at least one
// completed write not in memory) lost by crashes of this node.
func (b *Broadcast) LostWrites() uint64 { return b.lost }

// Stats returns the node's counters.
func (b *Broadcast) Stats() Stats { return b.stats }

// Self returns the node's id.
func (b *Broadcast) Self() NodeID { return b.cfg.Self }

// Lines returns copies of the lines in the cache, sorted by key. The S
// line of a writer waiting for its BInvAcks is included: it is a copy
// peers may still be served from.
func (b *Broadcast) Lines() []Line { return b.cache.lines() }

// Line returns a copy of the line of key, if the cache holds one.
func (b *Broadcast) Line(key string) (Line, bool) {
	l, ok := b.cache.Peek(key)
	if !ok {
		return Line{}, false
	}
	return *l, true
}

// Cache returns the node's cache, for inspection only (always empty on
// the memory node).
func (b *Broadcast) Cache() *Cache { return b.cache }

// Memory returns the memory node's value and version of key. ok is false
// if this node is not the memory node. A key never written reads as
// (nil, 0).
func (b *Broadcast) Memory(key string) (value []byte, version uint64, ok bool) {
	if !b.memory {
		return nil, 0, false
	}
	w := b.store[key]
	return w.Value, w.Version, true
}

// Busy reports whether the cache side has a transaction, a MemWrite in
// flight or queued client operations for key.
func (b *Broadcast) Busy(key string) bool {
	return b.pending[key] != nil || b.writeBacks[key] > 0 || len(b.waiting[key]) > 0
}

// WritingBack reports whether a MemWrite of key by this node is in
// flight (no MemWriteAck yet): memory may then lag this node's writes.
func (b *Broadcast) WritingBack(key string) bool { return b.writeBacks[key] > 0 }

// Settled reports whether no MemWrite of key by this node is in flight
// (the memory node itself never has anything in flight).
func (b *Broadcast) Settled(key string) bool { return !b.WritingBack(key) }

// Idle reports whether the cache side has nothing in progress: no
// transaction, no queued operation, no MemWrite in flight.
func (b *Broadcast) Idle() bool {
	return len(b.pending) == 0 && len(b.waiting) == 0 && len(b.writeBacks) == 0
}

// CheckLocal checks the node's internal consistency: the memory node has
// no cache side; a key's line agrees with the phase of the key's
// transaction (none during a read, at most S while a write waits for
// acks, no M while a write-through waits for memory); write-through
// caches hold no M line; queued operations wait behind a transaction;
// counts are within bounds. It does not check coherence across nodes.
func (b *Broadcast) CheckLocal() error {
	if b.memory && (b.cache.Len() > 0 || len(b.pending) > 0 || len(b.waiting) > 0 || len(b.writeBacks) > 0) {
		return fmt.Errorf("mesi: memory node %s: %d lines, %d transactions, %d queues, %d write-backs",
			b.cfg.Self, b.cache.Len(), len(b.pending), len(b.waiting), len(b.writeBacks))
	}
	for _, l := range b.cache.lines() {
		if l.State == Invalid || !l.State.valid() {
			return fmt.Errorf("mesi: node %s: line %q in state %v", b.cfg.Self, l.Key, l.State)
		}
		if b.cfg.WriteThrough && l.State == Modified {
			return fmt.Errorf("mesi: node %s: line %q in M in write-through mode", b.cfg.Self, l.Key)
		}
		t := b.pending[l.Key]
		if t == nil {
			continue
		}
		switch {
		case t.phase == bRead || t.phase == bMemRead:
			return fmt.Errorf("mesi: node %s: line %q in %v during a read miss (txn %d, phase %d)", b.cfg.Self, l.Key, l.State, t.id, t.phase)
		case t.phase == bWrite && l.State != Shared:
			return fmt.Errorf("mesi: node %s: line %q in %v while txn %d waits for acks", b.cfg.Self, l.Key, l.State, t.id)
		case t.phase == bMemAck && l.State == Modified:
			return fmt.Errorf("mesi: node %s: line %q in M while write-through txn %d waits for memory", b.cfg.Self, l.Key, t.id)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.pending)) {
		t := b.pending[k]
		if t.answers > len(b.peers) {
			return fmt.Errorf("mesi: node %s: txn %d of %q has %d answers from %d peers", b.cfg.Self, t.id, k, t.answers, len(b.peers))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.waiting)) {
		if len(b.waiting[k]) > 0 && b.pending[k] == nil {
			return fmt.Errorf("mesi: node %s: %d operations on %q wait for nothing", b.cfg.Self, len(b.waiting[k]), k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.writeBacks)) {
		if n := b.writeBacks[k]; n <= 0 {
			return fmt.Errorf("mesi: node %s: %d write-backs of %q in flight", b.cfg.Self, n, k)
		}
	}
	return nil
}

// send appends m, from this node, to the outbox.
func (b *Broadcast) send(m Message) {
	m.From = b.cfg.Self
	b.stats.Messages++
	b.outbox = append(b.outbox, m)
}

// complete records a finished client operation.
func (b *Broadcast) complete(key string, o op, value []byte, version uint64, hit bool) {
	b.done = append(b.done, Completion{Req: o.req, Key: key, Value: value, Version: version, Put: o.put, Hit: hit})
}

// memoryDeliver handles a message for the memory node: it answers reads
// and stores writes, in arrival order, with no other state. A MemWrite
// overwrites memory whatever its version (the original design: memory is
// a plain store).
func (b *Broadcast) memoryDeliver(m Message) {
	switch m.Kind {
	case MemRead:
		w := b.store[m.Key]
		b.stats.Fetches++
		b.send(Message{Kind: MemData, Key: m.Key, To: m.From, Txn: m.Txn, Value: w.Value, Version: w.Version})
	case MemWrite:
		b.store[m.Key] = Write{Value: m.Value, Version: m.Version}
		b.dirtyKeys[m.Key] = struct{}{}
		b.send(Message{Kind: MemWriteAck, Key: m.Key, To: m.From, Txn: m.Txn})
	default:
		panic(fmt.Sprintf("mesi: memory node %s: unexpected %v", b.cfg.Self, m))
	}
}
