package mesi

import (
	"fmt"
	"maps"
	"slices"
)

// DirState is the stable state of a key in its home's directory.
type DirState uint8

// The directory's stable states. The home cannot tell E from M: an owner
// may write an E line without telling it.
const (
	// DirI: no cache holds the key; memory is current.
	DirI DirState = iota
	// DirS: the sharers may hold read-only copies equal to memory
	// (possibly fewer: S copies are evicted silently).
	DirS
	// DirEM: one owner holds the key in E or M.
	DirEM
)

// String returns "I", "S" or "EM".
func (s DirState) String() string {
	switch s {
	case DirI:
		return "I"
	case DirS:
		return "S"
	case DirEM:
		return "EM"
	}
	return fmt.Sprintf("DirState(%d)", uint8(s))
}

// DirEntry is a copy of a key's directory entry at its home.
type DirEntry struct {
	// State is the stable state the entry is in, or will be in once the
	// forwarded request it waits for is answered.
	State DirState
	// Owner is the E/M holder when State is DirEM.
	Owner NodeID
	// Sharers are the nodes that may hold S copies, sorted.
	Sharers []NodeID
	// Grant is the number of ownership grants made for the key so far.
	Grant uint64
	// WaitingOn is the owner whose Data(home) the home waits for, while a
	// forwarded request is in progress (Primer's transient states S^D and
	// M^D); empty when the entry is stable.
	WaitingOn NodeID
	// Queued is the number of requests waiting for the entry to be stable.
	Queued int
	// Awaiting are the nodes that may hold the key in E or M since this
	// home restarted (see Directory.Restart): the home serves the key
	// only once each of them has sent its Reset.
	Awaiting []NodeID
}

// entry is a key's durable home state: memory and directory entry.
type entry struct {
	value    []byte
	version  uint64
	state    DirState
	owner    NodeID
	ownerTxn uint64
	sharers  []NodeID // sorted, no duplicates
	grant    uint64
	busy     *wait
	queue    []Message // GetS/GetM waiting for busy and awaiting to clear, FIFO
	// invalidated are the nodes sent an Inv for the grant of the current
	// owner (or of the owner a forwarded request in progress waits on)
	// whose Inv-Acks are not known to have reached it (sorted, no
	// duplicates). They may still hold S copies if the owner loses its
	// line (see dropOwner) or the Invs are lost (see Restart).
	invalidated []NodeID
	// awaiting are the possible E/M holders whose Reset a restarted home
	// waits for before it serves the key (sorted, no duplicates).
	awaiting []NodeID
}

// wait is a forwarded request in progress: the home waits for a
// DataToHome from on (or for on's Reset).
type wait struct {
	kind     MsgKind // GetS or GetM
	on       NodeID
	onTxn    uint64
	req      NodeID
	reqTxn   uint64
	grant    uint64
	reqReset bool // the requester restarted meanwhile
}

// Memory returns the home's value and version of key. ok is false if this
// node is not the key's home. A key never written reads as (nil, 0).
func (d *Directory) Memory(key string) (value []byte, version uint64, ok bool) {
	if d.cfg.Home(key) != d.cfg.Self {
		return nil, 0, false
	}
	if e := d.entries[key]; e != nil {
		return e.value, e.version, true
	}
	return nil, 0, true
}

// DirectoryEntry returns a copy of key's directory entry. ok is false if
// this node is not the key's home.
func (d *Directory) DirectoryEntry(key string) (DirEntry, bool) {
	if d.cfg.Home(key) != d.cfg.Self {
		return DirEntry{}, false
	}
	e := d.entries[key]
	if e == nil {
		return DirEntry{}, true
	}
	de := DirEntry{State: e.state, Owner: e.owner, Sharers: slices.Clone(e.sharers), Grant: e.grant,
		Queued: len(e.queue), Awaiting: slices.Clone(e.awaiting)}
	if e.busy != nil {
		de.WaitingOn = e.busy.on
	}
	return de, true
}

// HomeKeys returns the keys this node's home side has an entry for,
// sorted.
func (d *Directory) HomeKeys() []string {
	return slices.Sorted(maps.Keys(d.entries))
}

// homeEntry returns key's entry, creating it.
func (d *Directory) homeEntry(key string) *entry {
	e := d.entries[key]
	if e == nil {
		e = &entry{}
		d.entries[key] = e
	}
	return e
}

// homeDeliver handles a message for the home side.
func (d *Directory) homeDeliver(m Message) {
	if m.Kind == Reset {
		d.homeReset(m.From)
		return
	}
	if h := d.cfg.Home(m.Key); h != d.cfg.Self {
		panic(fmt.Sprintf("mesi: node %s got %v but the home of %q is %s", d.cfg.Self, m, m.Key, h))
	}
	d.markDirty(m.Key)
	e := d.homeEntry(m.Key)
	switch m.Kind {
	case GetS, GetM:
		if e.busy != nil || len(e.awaiting) > 0 {
			e.queue = append(e.queue, m)
			if len(e.queue) > len(d.cfg.Nodes) {
				panic(fmt.Sprintf("mesi: home %s: %d requests queued for %q, more than the %d nodes (one each at most)",
					d.cfg.Self, len(e.queue), m.Key, len(d.cfg.Nodes)))
			}
			return
		}
		d.serve(m.Key, e, m)
	case PutM:
		d.homePutM(m.Key, e, m)
	case DataToHome:
		d.homeData(m.Key, e, m)
	default:
		panic(fmt.Sprintf("mesi: home %s: unexpected %v", d.cfg.Self, m))
	}
}

// updateMemory stores (value, version) if it is newer than memory.
// Versions of a key grow strictly with every write, so memory only ever
// moves forward, whatever order write-backs arrive in.
func (e *entry) updateMemory(value []byte, version uint64) {
	if version > e.version {
		e.value, e.version = value, version
	}
}

// serve handles a GetS or GetM while the entry is stable.
func (d *Directory) serve(key string, e *entry, m Message) {
	if e.busy != nil || len(e.awaiting) > 0 {
		panic(fmt.Sprintf("mesi: home %s serves %v while waiting on %v and the Resets of %v", d.cfg.Self, m, e.busy, e.awaiting))
	}
	r := m.From
	if e.state == DirEM && e.owner == r {
		// FIFO from r: its PutM or Reset would have arrived first.
		panic(fmt.Sprintf("mesi: home %s: %v from the owner of %q (owner txn %d)", d.cfg.Self, m, key, e.ownerTxn))
	}
	switch {
	case m.Kind == GetS && e.state == DirEM:
		d.stats.Forwards++
		d.send(Message{Kind: FwdGetS, Key: key, To: e.owner, Requester: r, Txn: m.Txn, OwnerTxn: e.ownerTxn})
		e.busy = &wait{kind: GetS, on: e.owner, onTxn: e.ownerTxn, req: r, reqTxn: m.Txn}
		e.state, e.sharers = DirS, addSharer(addSharer(nil, e.owner), r)
		e.owner, e.ownerTxn = "", 0
	case m.Kind == GetS && e.state == DirI:
		e.grant++
		d.stats.Fetches++
		d.send(Message{Kind: Data, Key: key, To: r, Txn: m.Txn, State: Exclusive, Grant: e.grant, Value: e.value, Version: e.version})
		e.state, e.owner, e.ownerTxn = DirEM, r, m.Txn
	case m.Kind == GetS: // DirS
		e.sharers = addSharer(e.sharers, r)
		d.stats.Fetches++
		d.send(Message{Kind: Data, Key: key, To: r, Txn: m.Txn, State: Shared, Value: e.value, Version: e.version})
	case e.state == DirEM: // GetM
		e.grant++
		d.stats.Forwards++
		d.send(Message{Kind: FwdGetM, Key: key, To: e.owner, Requester: r, Txn: m.Txn, OwnerTxn: e.ownerTxn, Grant: e.grant})
		e.busy = &wait{kind: GetM, on: e.owner, onTxn: e.ownerTxn, req: r, reqTxn: m.Txn, grant: e.grant}
		e.owner, e.ownerTxn = r, m.Txn
	default: // GetM in DirI or DirS
		others := removeSharer(e.sharers, r)
		e.grant++
		d.stats.Fetches++
		d.send(Message{Kind: Data, Key: key, To: r, Txn: m.Txn, State: Modified, Acks: len(others), Grant: e.grant, Value: e.value, Version: e.version})
		for _, s := range others {
			d.send(Message{Kind: Inv, Key: key, To: s, Requester: r, Txn: m.Txn})
		}
		e.state, e.owner, e.ownerTxn, e.sharers, e.invalidated = DirEM, r, m.Txn, nil, others
	}
}

// homeData handles the owner's copy of a line it handed on.
func (d *Directory) homeData(key string, e *entry, m Message) {
	e.updateMemory(m.Value, m.Version)
	w := e.busy
	if w == nil || w.on != m.From || w.onTxn != m.OwnerTxn {
		return // the owner's Reset already settled this request
	}
	if m.Requester != w.req || m.Txn != w.reqTxn {
		panic(fmt.Sprintf("mesi: home %s waits on %s for %s txn %d on %q, got the data for %s txn %d",
			d.cfg.Self, w.on, w.req, w.reqTxn, key, m.Requester, m.Txn))
	}
	// The owner serves forwarded requests only in M, after every Inv-Ack
	// of its grant: those invalidations are done.
	e.invalidated = nil
	if w.kind == GetS && !w.reqReset {
		// The reader's copy, sent only now that memory holds the line.
		d.send(Message{Kind: Data, Key: key, To: w.req, Txn: w.reqTxn, State: Shared, Value: e.value, Version: e.version})
	}
	d.settle(key, e)
}

// settle ends the forwarded request in progress and serves the queue.
func (d *Directory) settle(key string, e *entry) {
	w := e.busy
	e.busy = nil
	if w.reqReset {
		// The requester restarted and dropped what it was sent.
		e.sharers = removeSharer(e.sharers, w.req)
		if e.state == DirEM && e.owner == w.req {
			e.dropOwner()
		}
	}
	d.drain(key, e)
}

// drain serves queued requests while the entry is stable.
func (d *Directory) drain(key string, e *entry) {
	for e.busy == nil && len(e.awaiting) == 0 && len(e.queue) > 0 {
		m := e.queue[0]
		e.queue = e.queue[1:]
		d.serve(key, e, m)
	}
	if len(e.queue) == 0 {
		e.queue = nil
	}
}

// homePutM handles a write-back. It is never queued: it either ends the
// sender's ownership or is stale (the sender was asked to hand the line
// on first), and is acknowledged either way.
func (d *Directory) homePutM(key string, e *entry, m Message) {
	e.updateMemory(m.Value, m.Version)
	x := m.From
	if e.state == DirEM && e.owner == x {
		if e.ownerTxn != m.Txn {
			panic(fmt.Sprintf("mesi: home %s: PutM of %q from owner %s txn %d, ownership is txn %d",
				d.cfg.Self, key, x, m.Txn, e.ownerTxn))
		}
		e.state, e.owner, e.ownerTxn = DirI, "", 0
		e.invalidated = nil // an owner writes back from M only: its Invs are done
	} else {
		e.sharers = removeSharer(e.sharers, x)
		if e.busy == nil && e.state == DirS && len(e.sharers) == 0 {
			e.state = DirI
		}
	}
	d.send(Message{Kind: PutAck, Key: key, To: x, Txn: m.Txn})
}

// homeReset forgets x's cache: x restarted, and FIFO order guarantees
// that every message x sent before is already handled.
func (d *Directory) homeReset(x NodeID) {
	for _, key := range d.HomeKeys() {
		e := d.entries[key]
		if e.involves(x) {
			d.markDirty(key)
		}
		e.queue = slices.DeleteFunc(e.queue, func(m Message) bool { return m.From == x })
		e.sharers = removeSharer(e.sharers, x)
		e.invalidated = removeSharer(e.invalidated, x)
		switch w := e.busy; {
		case w != nil && w.on == x:
			d.serveFromMemory(key, e, w)
			d.settle(key, e)
		case w != nil && w.req == x:
			w.reqReset = true
		case w == nil && e.state == DirEM && e.owner == x:
			e.dropOwner()
		default:
			if e.state == DirS && len(e.sharers) == 0 && w == nil {
				e.state = DirI
			}
		}
		if len(e.awaiting) > 0 {
			if e.awaiting = removeSharer(e.awaiting, x); len(e.awaiting) == 0 {
				e.awaiting = nil
				d.drain(key, e)
			}
		}
		if len(e.queue) == 0 {
			e.queue = nil
		}
	}
}

// serveFromMemory answers the forwarded request w from memory: its owner
// lost the line (and the request, if it had deferred it). The owner may
// have lost it before all the Inv-Acks of its own grant came, so the
// sharers those Invs went to may still hold S copies: a GetS leaves them
// sharers, a GetM invalidates them again, for the new owner to count.
func (d *Directory) serveFromMemory(key string, e *entry, w *wait) {
	d.stats.Fetches++
	if w.kind == GetS {
		d.send(Message{Kind: Data, Key: key, To: w.req, Txn: w.reqTxn, State: Shared, Value: e.value, Version: e.version})
		for _, s := range e.invalidated {
			e.sharers = addSharer(e.sharers, s)
		}
		e.invalidated = nil
		return
	}
	others := removeSharer(e.invalidated, w.req)
	d.send(Message{Kind: Data, Key: key, To: w.req, Txn: w.reqTxn, State: Modified, Acks: len(others), Grant: w.grant,
		Value: e.value, Version: e.version})
	for _, s := range others {
		d.send(Message{Kind: Inv, Key: key, To: s, Requester: w.req, Txn: w.reqTxn})
	}
	e.invalidated = others
}

// dropOwner ends the ownership of an owner that lost its line. It may
// have lost it before all the Inv-Acks of its grant came, so the nodes
// those Invs went to become sharers again: a later GetM invalidates them
// once more (their copies, if any, equal memory: no write completed since
// they got them).
func (e *entry) dropOwner() {
	e.state, e.owner, e.ownerTxn = DirI, "", 0
	for _, s := range e.invalidated {
		e.sharers = addSharer(e.sharers, s)
	}
	e.invalidated = nil
	if len(e.sharers) > 0 {
		e.state = DirS
	}
}

// addSharer inserts n into the sorted set s.
func addSharer(s []NodeID, n NodeID) []NodeID {
	i, found := slices.BinarySearch(s, n)
	if found {
		return s
	}
	return slices.Insert(s, i, n)
}

// removeSharer returns the sorted set s without n (a new slice when n was
// in s, so callers may keep the old one).
func removeSharer(s []NodeID, n NodeID) []NodeID {
	i, found := slices.BinarySearch(s, n)
	if !found {
		return s
	}
	out := make([]NodeID, 0, len(s)-1)
	out = append(out, s[:i]...)
	return append(out, s[i+1:]...)
}
