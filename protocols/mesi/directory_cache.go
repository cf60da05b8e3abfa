package mesi

import (
	"fmt"
	"time"
)

// txnState is the transient state of a cache transaction (Primer ch. 8).
type txnState uint8

const (
	// isD: GetS sent, waiting for Data (IS^D; with invalidated set, the
	// Primer's IS^D_I: an Inv came first, so an S copy is used once and
	// dropped).
	isD txnState = iota + 1
	// imAD: GetM sent, waiting for Data and acks (IM^AD, SM^AD: an S copy
	// is dropped when the GetM is sent, the Data always carries the line).
	imAD
	// imA: Data received, waiting for the remaining acks (IM^A).
	imA
)

// txn is a coherence transaction the cache side started for a client
// operation.
type txn struct {
	id          uint64
	state       txnState
	o           op
	invalidated bool
	acksNeeded  int // from the Data; meaningful once state is imA
	acksGot     int // may run ahead of the Data (Inv-Ack before Data)
	data        Message
	deferred    []Message // forwarded requests that arrived before M
}

// evState is the transient state of a line being written back.
type evState uint8

const (
	// evMI: PutM sent, still the owner (MI^A, EI^A).
	evMI evState = iota + 1
	// evSI: served a Fwd-GetS meanwhile (SI^A).
	evSI
	// evII: handed the line on (Fwd-GetM) or was invalidated (II^A).
	evII
)

// eviction is a PutM in flight.
type eviction struct {
	state evState
	line  Line
	wt    *op // the write-through Put completing on the PutAck, if any
}

// start runs a client operation, or queues it behind the key's
// transaction.
func (d *Directory) start(key string, o op, now time.Duration) {
	if d.Busy(key) {
		d.waiting[key] = append(d.waiting[key], o)
		return
	}
	d.run(key, o, now)
}

// run executes a client operation on a key with nothing in progress.
func (d *Directory) run(key string, o op, now time.Duration) {
	line, ok := d.cache.Get(key, now)
	if !o.put {
		if ok {
			d.stats.Hits++
			d.complete(key, o, line.Value, line.Version, true)
			return
		}
		d.stats.Misses++
		d.begin(key, o, GetS)
		return
	}
	if ok && (line.State == Modified || line.State == Exclusive) {
		line.Version = nextVersion(key, line.Version, line.grant)
		line.Value, line.State = o.value, Modified
		if !d.cfg.WriteThrough {
			d.stats.Hits++
			d.complete(key, o, line.Value, line.Version, true)
			return
		}
		d.stats.Misses++
		l := *line
		d.cache.Remove(key)
		d.writeBack(l, &o)
		return
	}
	d.stats.Misses++
	if ok {
		d.cache.Remove(key) // S → SM^AD: the Data will carry the line again
	}
	d.begin(key, o, GetM)
}

// begin starts a transaction: GetS or GetM to the home.
func (d *Directory) begin(key string, o op, kind MsgKind) {
	d.nextTxn++
	t := &txn{id: d.nextTxn, state: isD, o: o}
	if kind == GetM {
		t.state = imAD
	}
	d.pending[key] = t
	d.send(Message{Kind: kind, Key: key, To: d.cfg.Home(key), Txn: t.id})
}

// nextVersion is the version of a write by the owner under grant, over a
// line at version: grant<<32|1 for the first write of the grant, then +1.
func nextVersion(key string, version, grant uint64) uint64 {
	if grant == 0 || grant >= 1<<32 {
		panic(fmt.Sprintf("mesi: write to %q under grant %d (want 1..2^32-1)", key, grant))
	}
	base := grant << 32
	if version < base {
		return base | 1
	}
	if version&(1<<32-1) == 1<<32-1 || version>>32 != grant {
		panic(fmt.Sprintf("mesi: write to %q at version %#x under grant %d: out of versions", key, version, grant))
	}
	return version + 1
}

// writeBack sends a PutM for an E or M line that left the cache.
func (d *Directory) writeBack(l Line, wt *op) {
	if l.State != Modified && l.State != Exclusive {
		panic(fmt.Sprintf("mesi: write-back of %q in state %v", l.Key, l.State))
	}
	if d.evicting[l.Key] != nil {
		panic(fmt.Sprintf("mesi: node %s: second write-back of %q in flight", d.cfg.Self, l.Key))
	}
	d.evicting[l.Key] = &eviction{state: evMI, line: l, wt: wt}
	if l.State == Modified {
		d.stats.WriteBacks++
	}
	d.send(Message{Kind: PutM, Key: l.Key, To: d.cfg.Home(l.Key), Txn: l.txn, Value: l.Value, Version: l.Version})
}

// install puts a stable line into the cache, writing the victim back
// first if the cache is full (S victims are dropped silently).
func (d *Directory) install(l Line) {
	if _, ok := d.cache.Peek(l.Key); ok {
		panic(fmt.Sprintf("mesi: node %s installs %q, already cached", d.cfg.Self, l.Key))
	}
	if v, ok := d.cache.Victim(); ok {
		victim := *v
		d.cache.Remove(victim.Key)
		d.stats.Evictions++
		if victim.State != Shared {
			d.writeBack(victim, nil)
		}
	}
	if ev := d.cache.Put(l); ev != nil {
		panic(fmt.Sprintf("mesi: node %s: Put of %q evicted %q behind the protocol's back", d.cfg.Self, l.Key, ev.Key))
	}
}

// cacheDeliver handles a message for the cache side.
func (d *Directory) cacheDeliver(m Message, now time.Duration) {
	switch m.Kind {
	case Data:
		d.onData(m, now)
	case InvAck:
		d.onInvAck(m, now)
	case Inv:
		d.onInv(m)
	case FwdGetS, FwdGetM:
		d.onFwd(m)
	case PutAck:
		d.onPutAck(m, now)
	default:
		panic(fmt.Sprintf("mesi: node %s: unexpected %v", d.cfg.Self, m))
	}
}

// onData handles the line arriving for a GetS or GetM.
func (d *Directory) onData(m Message, now time.Duration) {
	t := d.pending[m.Key]
	if t == nil || t.id != m.Txn {
		return // for a transaction lost in a crash
	}
	switch t.state {
	case isD:
		if m.State != Shared && m.State != Exclusive {
			panic(fmt.Sprintf("mesi: node %s: Data for GetS of %q grants %v", d.cfg.Self, m.Key, m.State))
		}
		delete(d.pending, m.Key)
		d.complete(m.Key, t.o, m.Value, m.Version, false)
		// Every GetS is answered by the home, after any Inv it sent us
		// before, so an Inv seen in IS^D is for an older copy. Dropping
		// the new copy all the same (IS^D_I) is conservative: S copies
		// may be dropped silently. An E grant is kept.
		if !t.invalidated || m.State == Exclusive {
			d.install(Line{Key: m.Key, Value: m.Value, State: m.State, Version: m.Version, Filled: now, Used: now, grant: m.Grant, txn: t.id})
		}
		d.afterTxn(m.Key, nil, now)
	case imAD:
		if m.State != Modified || m.Acks < 0 {
			panic(fmt.Sprintf("mesi: node %s: Data for GetM of %q grants %v with %d acks", d.cfg.Self, m.Key, m.State, m.Acks))
		}
		t.data, t.acksNeeded, t.state = m, m.Acks, imA
		d.checkAcks(m.Key, t)
		if t.acksGot == t.acksNeeded {
			d.becomeM(m.Key, t, now)
		}
	default:
		panic(fmt.Sprintf("mesi: node %s: second Data for txn %d of %q", d.cfg.Self, t.id, m.Key))
	}
}

// checkAcks panics if a transaction holds more acks than can exist.
func (d *Directory) checkAcks(key string, t *txn) {
	if t.acksGot > len(d.cfg.Nodes)-1 || t.state == imA && t.acksGot > t.acksNeeded {
		panic(fmt.Sprintf("mesi: node %s: txn %d of %q got %d acks, expects %d (state %d), %d nodes",
			d.cfg.Self, t.id, key, t.acksGot, t.acksNeeded, t.state, len(d.cfg.Nodes)))
	}
}

// onInvAck counts an ack; it may come before the Data saying how many to
// expect.
func (d *Directory) onInvAck(m Message, now time.Duration) {
	t := d.pending[m.Key]
	if t == nil || t.id != m.Txn {
		return // for a transaction lost in a crash
	}
	if t.state == isD {
		panic(fmt.Sprintf("mesi: node %s: Inv-Ack from %s for GetS txn %d of %q", d.cfg.Self, m.From, t.id, m.Key))
	}
	t.acksGot++
	d.checkAcks(m.Key, t)
	if t.state == imA && t.acksGot == t.acksNeeded {
		d.becomeM(m.Key, t, now)
	}
}

// becomeM ends a GetM: the line is M, the write is applied.
func (d *Directory) becomeM(key string, t *txn, now time.Duration) {
	delete(d.pending, key)
	l := Line{Key: key, Value: t.o.value, State: Modified, Filled: now, Used: now, grant: t.data.Grant, txn: t.id}
	l.Version = nextVersion(key, t.data.Version, t.data.Grant)
	if d.cfg.WriteThrough {
		o := t.o
		d.writeBack(l, &o)
	} else {
		d.install(l)
		d.complete(key, t.o, l.Value, l.Version, false)
	}
	d.afterTxn(key, t.deferred, now)
}

// afterTxn serves the forwarded requests deferred during a transaction,
// then the client operations queued behind it.
func (d *Directory) afterTxn(key string, deferred []Message, now time.Duration) {
	for _, m := range deferred {
		d.onFwd(m)
	}
	d.runWaiting(key, now)
}

// runWaiting runs queued client operations while the key is stable.
func (d *Directory) runWaiting(key string, now time.Duration) {
	for len(d.waiting[key]) > 0 && d.pending[key] == nil && d.evicting[key] == nil {
		o := d.waiting[key][0]
		d.waiting[key] = d.waiting[key][1:]
		d.run(key, o, now)
	}
	if len(d.waiting[key]) == 0 {
		delete(d.waiting, key)
	}
}

// onInv invalidates an S copy and always acknowledges at once, whether or
// not the node holds the line (S copies are evicted silently, and a
// restarted node holds nothing). An Inv reaching an E or M line is stale
// (the home granted ownership after sending it) and leaves it alone.
func (d *Directory) onInv(m Message) {
	d.stats.Invalidations++
	d.send(Message{Kind: InvAck, Key: m.Key, To: m.Requester, Txn: m.Txn})
	if l, ok := d.cache.Peek(m.Key); ok {
		if l.State == Shared {
			d.cache.Remove(m.Key)
		}
		return
	}
	if t := d.pending[m.Key]; t != nil && t.state == isD {
		t.invalidated = true
	}
	if ev := d.evicting[m.Key]; ev != nil && ev.state == evSI {
		ev.state = evII
	}
}

// onFwd serves a forwarded request as the owner, defers it while the
// node's own GetM is in progress, or drops it if it is for an ownership
// lost in a crash (the node's Reset made the home serve it from memory).
func (d *Directory) onFwd(m Message) {
	if l, ok := d.cache.Peek(m.Key); ok && l.txn == m.OwnerTxn {
		if l.State != Modified && l.State != Exclusive {
			panic(fmt.Sprintf("mesi: node %s: %v for its txn %d, line in %v", d.cfg.Self, m, l.txn, l.State))
		}
		d.serveFwd(m, *l)
		if m.Kind == FwdGetS {
			l.State, l.grant = Shared, 0
		} else {
			d.cache.Remove(m.Key)
		}
		return
	}
	if t := d.pending[m.Key]; t != nil && t.id == m.OwnerTxn {
		if t.state == isD || len(t.deferred) > 0 {
			panic(fmt.Sprintf("mesi: node %s: %v during txn %d (state %d, %d deferred)", d.cfg.Self, m, t.id, t.state, len(t.deferred)))
		}
		t.deferred = append(t.deferred, m)
		return
	}
	if ev := d.evicting[m.Key]; ev != nil && ev.line.txn == m.OwnerTxn {
		if ev.state != evMI {
			panic(fmt.Sprintf("mesi: node %s: %v after handing %q on (state %d)", d.cfg.Self, m, m.Key, ev.state))
		}
		d.serveFwd(m, ev.line)
		if m.Kind == FwdGetS {
			ev.state = evSI
		} else {
			ev.state = evII
		}
	}
}

// serveFwd answers a forwarded request from the owner's line: a copy
// home always, and for a Fwd-GetM the line to the requester. A Fwd-GetS's
// reader gets its S copy from the home, once memory holds the line: a
// copy sent straight to the reader could outlive a Data(home) lost in
// the owner's crash, leaving a reader with data newer than memory, which
// the home would then serve to the next reader.
func (d *Directory) serveFwd(m Message, l Line) {
	if m.Kind == FwdGetM {
		d.send(Message{Kind: Data, Key: m.Key, To: m.Requester, Txn: m.Txn, Value: l.Value, Version: l.Version,
			State: Modified, Grant: m.Grant})
	}
	d.send(Message{Kind: DataToHome, Key: m.Key, To: d.cfg.Home(m.Key), Requester: m.Requester, Txn: m.Txn, OwnerTxn: m.OwnerTxn, Value: l.Value, Version: l.Version})
}

// onPutAck ends a write-back, completing a write-through Put.
func (d *Directory) onPutAck(m Message, now time.Duration) {
	ev := d.evicting[m.Key]
	if ev == nil || ev.line.txn != m.Txn {
		return // for a write-back lost in a crash
	}
	delete(d.evicting, m.Key)
	if ev.wt != nil {
		d.complete(m.Key, *ev.wt, ev.line.Value, ev.line.Version, false)
	}
	d.runWaiting(m.Key, now)
}
