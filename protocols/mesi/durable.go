package mesi

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// Durable is the part of a Protocol a node layer persists: the home side
// of a Directory (memory and directory entries, transient ones included)
// or the store of Broadcast's memory node. Directory and Broadcast
// implement it.
//
// It can be persisted whole (Durable, a snapshot) or key by key: the
// state is a map from key to a record, and DirtyKeys names the keys whose
// record may have changed since the last call. A node layer logs
// AppendKeyRecord of each dirty key and, at restart, calls
// RestoreDurable with its last snapshot and RestoreKeyRecord with each
// record logged after it, in order: that rebuilds exactly the state the
// node had when it logged its last record.
//
// A node restarted from disk builds a fresh protocol, restores its
// durable state, calls SetTxnBase with a base above every transaction id
// its earlier incarnations used, and then Restart, so that it behaves
// exactly like a node that crashed (a Directory then sends its Resets
// first).
type Durable interface {
	// Durable returns the canonical encoding of the durable state (keys
	// sorted) and clears DurableDirty and the dirty keys.
	Durable() []byte
	// DurableDirty reports whether the durable state may have changed
	// since the last Durable, DirtyKeys or RestoreDurable: whether
	// DirtyKeys would return a key.
	DurableDirty() bool
	// RestoreDurable replaces the durable state by one Durable returned.
	// The error wraps ErrCorrupt and names the field; the state is then
	// unchanged.
	RestoreDurable(b []byte) error
	// DirtyKeys returns, sorted, the keys whose record may have changed
	// since the last DirtyKeys, Durable or RestoreDurable, and forgets
	// them. Every key whose record did change is among them.
	DirtyKeys() []string
	// AppendKeyRecord appends to dst the record of key: its current
	// durable state, or, if it has none, a record that deletes it.
	AppendKeyRecord(dst []byte, key string) []byte
	// RestoreKeyRecord sets the durable state of one key to what an
	// AppendKeyRecord record holds. It does not make the key dirty. The
	// error wraps ErrCorrupt and names the field; the state is then
	// unchanged.
	RestoreKeyRecord(b []byte) error
	// SetTxnBase makes the transaction ids of the cache side continue
	// above base (they are unique per node for its lifetime).
	SetTxnBase(base uint64)
	// Restart is Crash for a node restarted from disk whose messages in
	// flight were lost with it; see Directory.Restart.
	Restart()
}

var (
	_ Durable = (*Directory)(nil)
	_ Durable = (*Broadcast)(nil)
)

// Tags of the durable encodings.
const (
	homeStateVersion   = 3
	memoryStateVersion = 2
)

// Durable returns the canonical encoding of the home side (HomeState).
func (d *Directory) Durable() []byte { return d.HomeState() }

// DurableDirty reports whether some home entry may have changed since
// the last Durable, DirtyKeys or RestoreDurable.
func (d *Directory) DurableDirty() bool { return len(d.dirtyKeys) > 0 }

// RestoreDurable is RestoreHome.
func (d *Directory) RestoreDurable(b []byte) error { return d.RestoreHome(b) }

// SetTxnBase makes later transaction ids greater than base.
func (d *Directory) SetTxnBase(base uint64) { d.nextTxn = max(d.nextTxn, base) }

// HomeState returns the canonical encoding of the home side: for every
// key with an entry, in key order, its memory (value, version), its
// directory entry (state, owner and owner transaction, sharers, grant
// count), the forwarded request it waits for, if any, the nodes it
// invalidated and awaits, and its queued requests. It clears DurableDirty
// (the whole state is in it: no key is dirty any more).
func (d *Directory) HomeState() []byte {
	clear(d.dirtyKeys)
	return d.homeState()
}

// homeState is HomeState without clearing the dirty keys.
func (d *Directory) homeState() []byte {
	keys := d.HomeKeys()
	b := []byte{homeStateVersion}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendEntry(b, d.entries[k])
	}
	return b
}

// appendEntry appends the fields of one home entry, as HomeState and
// AppendHomeEntry encode them.
func appendEntry(b []byte, e *entry) []byte {
	b = appendString(b, string(e.value))
	b = binary.AppendUvarint(b, e.version)
	b = append(b, byte(e.state))
	b = appendString(b, string(e.owner))
	b = binary.AppendUvarint(b, e.ownerTxn)
	b = appendNodes(b, e.sharers)
	b = binary.AppendUvarint(b, e.grant)
	if w := e.busy; w == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1, byte(w.kind))
		b = appendString(b, string(w.on))
		b = binary.AppendUvarint(b, w.onTxn)
		b = appendString(b, string(w.req))
		b = binary.AppendUvarint(b, w.reqTxn)
		b = binary.AppendUvarint(b, w.grant)
		b = append(b, boolByte(w.reqReset))
	}
	b = appendNodes(b, e.invalidated)
	b = appendNodes(b, e.awaiting)
	b = binary.AppendUvarint(b, uint64(len(e.queue)))
	for _, m := range e.queue {
		mb := AppendMessage(nil, m)
		b = binary.AppendUvarint(b, uint64(len(mb)))
		b = append(b, mb...)
	}
	return b
}

// RestoreHome replaces the home side by the one HomeState encoded. Keys
// must be sorted and unique, states and kinds known, sharers sorted; the
// error wraps ErrCorrupt and names the field, and the home side is then
// unchanged. It clears DurableDirty.
func (d *Directory) RestoreHome(b []byte) error {
	r := reader{buf: b}
	if v := r.byte("home.version"); r.err == nil && v != homeStateVersion {
		r.fail("home.version", fmt.Sprintf("%d, want %d", v, homeStateVersion))
	}
	n := r.count("home.keys", 1)
	entries := make(map[string]*entry, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		k := r.string("home.key", d.cfg.MaxKeyBytes)
		if r.err == nil && (k == "" || (i > 0 && k <= prev)) {
			r.fail("home.key", fmt.Sprintf("%q empty or not after %q", k, prev))
		}
		prev = k
		entries[k] = r.entry(d.cfg)
	}
	if r.err == nil && r.off != len(r.buf) {
		r.fail("home", fmt.Sprintf("%d trailing bytes", len(r.buf)-r.off))
	}
	if r.err != nil {
		return r.err
	}
	d.entries = entries
	clear(d.dirtyKeys)
	return nil
}

// entry reads the fields appendEntry wrote.
func (r *reader) entry(cfg Config) *entry {
	e := &entry{}
	if v := r.string("home.value", cfg.MaxValueBytes); v != "" {
		e.value = []byte(v)
	}
	e.version = r.uvarint("home.version")
	e.state = DirState(r.byte("home.state"))
	if r.err == nil && e.state > DirEM {
		r.fail("home.state", fmt.Sprintf("%d unknown", e.state))
	}
	e.owner = NodeID(r.string("home.owner", MaxNodeIDBytes))
	e.ownerTxn = r.uvarint("home.owner_txn")
	e.sharers = r.nodes("home.sharers")
	e.grant = r.uvarint("home.grant")
	if r.bool("home.busy") {
		w := &wait{kind: MsgKind(r.byte("home.busy.kind"))}
		if r.err == nil && w.kind != GetS && w.kind != GetM {
			r.fail("home.busy.kind", fmt.Sprintf("%d is not GetS or GetM", w.kind))
		}
		w.on = NodeID(r.string("home.busy.on", MaxNodeIDBytes))
		w.onTxn = r.uvarint("home.busy.on_txn")
		w.req = NodeID(r.string("home.busy.req", MaxNodeIDBytes))
		w.reqTxn = r.uvarint("home.busy.req_txn")
		w.grant = r.uvarint("home.busy.grant")
		w.reqReset = r.bool("home.busy.req_reset")
		e.busy = w
	}
	e.invalidated = r.nodes("home.invalidated")
	e.awaiting = r.nodes("home.awaiting")
	nq := r.count("home.queue", 1)
	for j := 0; j < nq && r.err == nil; j++ {
		l := r.count("home.queue.message", 1)
		if r.err != nil {
			break
		}
		m, err := DecodeMessage(r.buf[r.off:r.off+l], cfg.MaxKeyBytes, cfg.MaxValueBytes)
		if err != nil {
			r.fail("home.queue.message", err.Error())
			break
		}
		r.off += l
		e.queue = append(e.queue, m)
	}
	return e
}

// Durable returns the canonical encoding of the memory node's store
// (MemoryState); on a cache node, the empty store.
func (b *Broadcast) Durable() []byte { return b.MemoryState() }

// DurableDirty reports whether a MemWrite was stored since the last
// Durable, DirtyKeys or RestoreDurable.
func (b *Broadcast) DurableDirty() bool { return len(b.dirtyKeys) > 0 }

// RestoreDurable is RestoreMemory.
func (b *Broadcast) RestoreDurable(p []byte) error { return b.RestoreMemory(p) }

// SetTxnBase makes later transaction ids greater than base.
func (b *Broadcast) SetTxnBase(base uint64) { b.nextTxn = max(b.nextTxn, base) }

// MemoryState returns the canonical encoding of the store: every key, in
// order, with its value and version. It clears DurableDirty.
func (b *Broadcast) MemoryState() []byte {
	clear(b.dirtyKeys)
	return b.memoryState()
}

// memoryState is MemoryState without clearing the dirty keys.
func (b *Broadcast) memoryState() []byte {
	keys := slices.Sorted(maps.Keys(b.store))
	out := []byte{memoryStateVersion}
	out = binary.AppendUvarint(out, uint64(len(keys)))
	for _, k := range keys {
		w := b.store[k]
		out = appendString(out, k)
		out = appendString(out, string(w.Value))
		out = binary.AppendUvarint(out, w.Version)
	}
	return out
}

// RestoreMemory replaces the store by the one MemoryState encoded; keys
// must be sorted and unique. The error wraps ErrCorrupt and names the
// field, and the store is then unchanged. It clears DurableDirty.
func (b *Broadcast) RestoreMemory(p []byte) error {
	r := reader{buf: p}
	if v := r.byte("memory.version"); r.err == nil && v != memoryStateVersion {
		r.fail("memory.version", fmt.Sprintf("%d, want %d", v, memoryStateVersion))
	}
	n := r.count("memory.keys", 1)
	store := make(map[string]Write, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		k := r.string("memory.key", b.cfg.MaxKeyBytes)
		if r.err == nil && (k == "" || (i > 0 && k <= prev)) {
			r.fail("memory.key", fmt.Sprintf("%q empty or not after %q", k, prev))
		}
		prev = k
		var w Write
		if v := r.string("memory.value", b.cfg.MaxValueBytes); v != "" {
			w.Value = []byte(v)
		}
		w.Version = r.uvarint("memory.version")
		store[k] = w
	}
	if r.err == nil && r.off != len(r.buf) {
		r.fail("memory", fmt.Sprintf("%d trailing bytes", len(r.buf)-r.off))
	}
	if r.err != nil {
		return r.err
	}
	b.store = store
	clear(b.dirtyKeys)
	return nil
}

// boolByte returns 1 for true, 0 for false.
func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendNodes appends a sorted set of node ids: its size, then each id.
func appendNodes(b []byte, ns []NodeID) []byte {
	b = binary.AppendUvarint(b, uint64(len(ns)))
	for _, n := range ns {
		b = appendString(b, string(n))
	}
	return b
}

// nodes reads a set appendNodes wrote; field names it in errors. Ids
// must be non-empty and strictly increasing.
func (r *reader) nodes(field string) []NodeID {
	n := r.count(field, 1)
	var ns []NodeID
	for j := 0; j < n && r.err == nil; j++ {
		id := NodeID(r.string(field, MaxNodeIDBytes))
		if r.err == nil && (id == "" || (j > 0 && id <= ns[j-1])) {
			r.fail(field, fmt.Sprintf("%q empty or out of order", id))
		}
		ns = append(ns, id)
	}
	return ns
}
