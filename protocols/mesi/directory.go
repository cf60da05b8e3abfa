package mesi

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Defaults for the Config limits left at zero.
const (
	// DefaultMaxKeyBytes is Config.MaxKeyBytes when it is 0.
	DefaultMaxKeyBytes = 256
	// DefaultMaxValueBytes is Config.MaxValueBytes when it is 0.
	DefaultMaxValueBytes = 1 << 20
)

// ErrBadRequest is wrapped by the errors Get and Put return for bad input.
var ErrBadRequest = errors.New("mesi: bad request")

// Config configures one node's Directory or Broadcast.
type Config struct {
	// Self is this node's id.
	Self NodeID
	// Nodes lists every node of the cluster, Self included; a restarted
	// Directory node sends Reset to each of them (every home is among
	// them); a Broadcast cache sends its broadcasts to each of them but
	// itself and the memory node.
	Nodes []NodeID
	// Home maps a key to its home node, one of Nodes; every node must use
	// the same function. Directory only (required there); Broadcast
	// ignores it.
	Home func(key string) NodeID
	// Memory is the memory node: the backing store of every key.
	// Broadcast only (required there, one of Nodes; the node whose Self
	// is Memory is the memory node and has no cache); Directory ignores
	// it.
	Memory NodeID
	// Capacity is the number of lines the cache holds (>= 1; ignored on
	// Broadcast's memory node).
	Capacity int
	// WriteThrough makes every Put write its value to memory before it
	// completes (see the package doc).
	WriteThrough bool
	// MaxValueBytes bounds a Put's value; 0 means DefaultMaxValueBytes.
	MaxValueBytes int
	// MaxKeyBytes bounds a key; 0 means DefaultMaxKeyBytes.
	MaxKeyBytes int
}

// Completion reports a finished client operation.
type Completion struct {
	// Req is the caller's request id, as passed to Get or Put.
	Req uint64
	// Key is the operation's key.
	Key string
	// Value is the value read, or written by a Put.
	Value []byte
	// Version is the version of Value.
	Version uint64
	// Put tells a write from a read.
	Put bool
	// Hit is true when the operation completed without any message.
	Hit bool
	// Err is never set by either protocol itself (bad input is
	// refused by Get and Put); it is there for node layers that fail
	// operations (for example on a timeout).
	Err error
}

// Directory is one node's coherence controller: its cache side (the
// cache, the transactions it started and the client operations waiting
// for them) and its home side (memory and directory entries of the keys
// it is home of). It is a pure state machine: Get, Put, Deliver and Crash
// go in; Outbox and Completions come out.
type Directory struct {
	cfg   Config
	cache *Cache

	// Cache side.
	pending  map[string]*txn      // coherence transaction in progress per key
	evicting map[string]*eviction // PutM in flight per key
	waiting  map[string][]op      // client operations queued behind the key's transaction
	nextTxn  uint64
	lost     uint64

	// Home side (durable).
	entries map[string]*entry
	// dirtyKeys are the home keys whose entry may have changed since the
	// last DirtyKeys, Durable or RestoreDurable.
	dirtyKeys map[string]struct{}

	outbox []Message
	done   []Completion
	stats  Stats
}

// op is a client operation.
type op struct {
	req   uint64
	put   bool
	value []byte
}

// NewDirectory validates cfg and returns a node with an empty cache and
// empty memory.
func NewDirectory(cfg Config) (*Directory, error) {
	if cfg.Self == "" {
		return nil, fmt.Errorf("mesi: Config.Self is empty")
	}
	if cfg.Home == nil {
		return nil, fmt.Errorf("mesi: Config.Home is nil")
	}
	cfg, err := normalizeConfig(cfg)
	if err != nil {
		return nil, err
	}
	c, err := NewCache(cfg.Capacity)
	if err != nil {
		return nil, fmt.Errorf("mesi: Config.Capacity %d: must be at least 1", cfg.Capacity)
	}
	return &Directory{
		cfg:       cfg,
		cache:     c,
		pending:   map[string]*txn{},
		evicting:  map[string]*eviction{},
		waiting:   map[string][]op{},
		entries:   map[string]*entry{},
		dirtyKeys: map[string]struct{}{},
	}, nil
}

// normalizeConfig checks the fields both protocols share (Nodes, Self's
// membership, the limits) and returns cfg with Nodes sorted and the
// limits defaulted.
func normalizeConfig(cfg Config) (Config, error) {
	if len(cfg.Nodes) == 0 {
		return Config{}, fmt.Errorf("mesi: Config.Nodes is empty")
	}
	nodes := slices.Clone(cfg.Nodes)
	slices.Sort(nodes)
	for i, n := range nodes {
		if n == "" {
			return Config{}, fmt.Errorf("mesi: Config.Nodes holds an empty id")
		}
		if i > 0 && nodes[i-1] == n {
			return Config{}, fmt.Errorf("mesi: Config.Nodes holds %q twice", n)
		}
	}
	if _, ok := slices.BinarySearch(nodes, cfg.Self); !ok {
		return Config{}, fmt.Errorf("mesi: Config.Self %q is not in Config.Nodes %v", cfg.Self, nodes)
	}
	cfg.Nodes = nodes
	if cfg.MaxValueBytes < 0 {
		return Config{}, fmt.Errorf("mesi: Config.MaxValueBytes %d is negative", cfg.MaxValueBytes)
	}
	if cfg.MaxKeyBytes < 0 {
		return Config{}, fmt.Errorf("mesi: Config.MaxKeyBytes %d is negative", cfg.MaxKeyBytes)
	}
	if cfg.MaxValueBytes == 0 {
		cfg.MaxValueBytes = DefaultMaxValueBytes
	}
	if cfg.MaxKeyBytes == 0 {
		cfg.MaxKeyBytes = DefaultMaxKeyBytes
	}
	return cfg, nil
}

// checkKey refuses an empty or too long key.
func (d *Directory) checkKey(what, key string) error { return checkKey(d.cfg, what, key) }

// checkKey refuses an empty key or one longer than cfg.MaxKeyBytes.
func checkKey(cfg Config, what, key string) error {
	if key == "" {
		return fmt.Errorf("%w: %s: key is empty", ErrBadRequest, what)
	}
	if len(key) > cfg.MaxKeyBytes {
		return fmt.Errorf("%w: %s: key length %d exceeds MaxKeyBytes %d", ErrBadRequest, what, len(key), cfg.MaxKeyBytes)
	}
	return nil
}

// Get reads key. It completes at once on a hit, otherwise later, through
// Completions, once the line arrives. Bad input is refused with an error
// wrapping ErrBadRequest, and nothing is sent.
func (d *Directory) Get(req uint64, key string, now time.Duration) error {
	if err := d.checkKey("Get", key); err != nil {
		return err
	}
	d.start(key, op{req: req}, now)
	return nil
}

// Put writes value to key (the value is copied). It completes at once on a
// write hit to an E or M line (write-back mode), otherwise later, through
// Completions. Bad input (empty or too long key, value over MaxValueBytes)
// is refused with an error wrapping ErrBadRequest, and nothing is sent.
func (d *Directory) Put(req uint64, key string, value []byte, now time.Duration) error {
	if err := d.checkKey("Put", key); err != nil {
		return err
	}
	if len(value) > d.cfg.MaxValueBytes {
		return fmt.Errorf("%w: Put %q: value length %d exceeds MaxValueBytes %d", ErrBadRequest, key, len(value), d.cfg.MaxValueBytes)
	}
	d.start(key, op{req: req, put: true, value: slices.Clone(value)}, now)
	return nil
}

// Deliver hands the node a message addressed to it. It panics if the
// message is not addressed to this node or is of an unknown kind.
func (d *Directory) Deliver(m Message, now time.Duration) {
	if m.To != d.cfg.Self {
		panic(fmt.Sprintf("mesi: node %s delivered a message for %s: %v", d.cfg.Self, m.To, m))
	}
	if m.Kind.toHome() {
		d.homeDeliver(m)
		return
	}
	d.cacheDeliver(m, now)
}

// Outbox returns the messages produced since the last call, in the order
// they must be sent, and forgets them.
func (d *Directory) Outbox() []Message {
	out := d.outbox
	d.outbox = nil
	return out
}

// Completions returns the client operations completed since the last
// call, in completion order, and forgets them.
func (d *Directory) Completions() []Completion {
	out := d.done
	d.done = nil
	return out
}

// Crash models a crash and restart of the node: the cache side is lost
// (lines, transactions, queued client operations, whose completions never
// come, and anything not yet drained from Outbox and Completions), the
// home side (memory and directory entries) is kept, and the outbox then
// holds a Reset for every node of Config.Nodes, which the node must send
// before anything else after restarting. LostWrites grows by the number
// of M lines lost.
func (d *Directory) Crash() {
	n := d.cache.States()
	d.lost += uint64(n[Modified])
	d.cache, _ = NewCache(d.cfg.Capacity)
	clear(d.pending)
	clear(d.evicting)
	clear(d.waiting)
	d.outbox = nil
	d.done = nil
	for _, n := range d.cfg.Nodes {
		d.send(Message{Kind: Reset, To: n})
	}
}

// Restart is Crash for a node restarted from its durable state by a node
// layer whose messages in flight from the crashed node were lost with it
// (rather than delivered, as Crash assumes). What those messages were to
// change is then unknown:
//
//   - an Inv may never have arrived, so the nodes invalidated for the
//     current owner's grant become sharers again;
//   - a forwarded request may never have arrived, or its Data may have
//     reached the requester while the owner's Data(home) was lost, so the
//     owner and the nodes of a forwarded request in progress become
//     Awaiting: possible E/M holders, or S holders of data newer than
//     memory;
//   - transactions in progress and queued are dropped (their requesters
//     lost them too).
//
// The home serves the key again once every awaited node has sent its
// Reset. This is sound only if every node, on learning of the restart,
// crashes its cache side (sending its Resets) before it handles anything
// the restarted node sends, as nodes/caches does.
func (d *Directory) Restart() {
	d.Crash()
	for _, key := range d.HomeKeys() {
		e := d.entries[key]
		d.markDirty(key)
		maybe := func(n NodeID) {
			if n != "" && n != d.cfg.Self {
				e.awaiting = addSharer(e.awaiting, n)
			}
		}
		if e.state == DirEM {
			maybe(e.owner)
		}
		if w := e.busy; w != nil {
			maybe(w.on)
			maybe(w.req)
		}
		e.busy, e.queue = nil, nil
		e.dropOwner()
		e.sharers = removeSharer(e.sharers, d.cfg.Self)
		if e.state == DirS && len(e.sharers) == 0 {
			e.state = DirI
		}
	}
}

// LostWrites returns the number of M lines (each holding at least one
// completed write not in memory) lost by crashes of this node.
func (d *Directory) LostWrites() uint64 { return d.lost }

// Stats returns the node's counters.
func (d *Directory) Stats() Stats { return d.stats }

// Self returns the node's id.
func (d *Directory) Self() NodeID { return d.cfg.Self }

// Lines returns copies of the stable lines in the cache, sorted by key
// (lines in a transient state are not included).
func (d *Directory) Lines() []Line { return d.cache.lines() }

// Line returns a copy of the stable line of key, if the cache holds one.
func (d *Directory) Line(key string) (Line, bool) {
	l, ok := d.cache.Peek(key)
	if !ok {
		return Line{}, false
	}
	return *l, true
}

// Cache returns the node's cache, for inspection only.
func (d *Directory) Cache() *Cache { return d.cache }

// Busy reports whether the cache side has a transaction, a write-back or
// queued client operations for key.
func (d *Directory) Busy(key string) bool {
	return d.pending[key] != nil || d.evicting[key] != nil || len(d.waiting[key]) > 0
}

// WritingBack reports whether a PutM of key by this node is in flight
// (no PutAck yet): the home's memory may then lag the last write.
func (d *Directory) WritingBack(key string) bool { return d.evicting[key] != nil }

// Idle reports whether the cache side has nothing in progress.
func (d *Directory) Idle() bool {
	return len(d.pending) == 0 && len(d.evicting) == 0 && len(d.waiting) == 0
}

// send appends m, from this node, to the outbox.
func (d *Directory) send(m Message) {
	m.From = d.cfg.Self
	d.stats.Messages++
	d.outbox = append(d.outbox, m)
}

// complete records a finished client operation.
func (d *Directory) complete(key string, o op, value []byte, version uint64, hit bool) {
	d.done = append(d.done, Completion{Req: o.req, Key: key, Value: value, Version: version, Put: o.put, Hit: hit})
}
