package mesi

import (
	"fmt"
	"time"
)

// start runs a client operation, or queues it behind the key's
// transaction. A MemWrite in flight does not hold operations back: by
// FIFO order it reaches memory before any later MemRead of this node.
func (b *Broadcast) start(key string, o op, now time.Duration) {
	if b.pending[key] != nil || len(b.waiting[key]) > 0 {
		b.waiting[key] = append(b.waiting[key], o)
		return
	}
	b.run(key, o, now)
}

// run executes a client operation on a key with no transaction.
func (b *Broadcast) run(key string, o op, now time.Duration) {
	line, ok := b.cache.Get(key, now)
	if !o.put {
		if ok {
			b.stats.Hits++
			b.complete(key, o, line.Value, line.Version, true)
			return
		}
		b.stats.Misses++
		b.nextTxn++
		t := &btxn{id: b.nextTxn, phase: bRead, o: o}
		b.pending[key] = t
		if len(b.peers) == 0 {
			b.memRead(key, t)
			return
		}
		for _, p := range b.peers {
			b.send(Message{Kind: ReadReq, Key: key, To: p, Requester: b.cfg.Self, Txn: t.id})
		}
		return
	}
	if ok && (line.State == Modified || line.State == Exclusive) {
		// The only copy: no invalidation, the version goes up by one.
		line.Version = bumpVersion(key, line.Version)
		line.Value = o.value
		if !b.cfg.WriteThrough {
			line.State = Modified
			b.stats.Hits++
			b.complete(key, o, line.Value, line.Version, true)
			return
		}
		// Write-through: the line stays clean (E), memory gets the value.
		b.stats.Misses++
		b.nextTxn++
		t := &btxn{id: b.nextTxn, phase: bMemAck, o: o, written: *line}
		b.pending[key] = t
		b.memWrite(*line, t.id)
		return
	}
	// S or I: invalidate every peer. An S line stays (and answers
	// ReadReqs) until the acks are in; a miss also asks memory for its
	// version.
	b.stats.Misses++
	b.nextTxn++
	t := &btxn{id: b.nextTxn, phase: bWrite, o: o}
	if ok {
		t.version = line.Version
	} else {
		t.needMem = true
	}
	b.pending[key] = t
	for _, p := range b.peers {
		b.send(Message{Kind: BInv, Key: key, To: p, Requester: b.cfg.Self, Txn: t.id})
	}
	if t.needMem {
		b.send(Message{Kind: MemRead, Key: key, To: b.cfg.Memory, Txn: t.id})
	}
	b.maybeWrite(key, t, now)
}

// bumpVersion returns version + 1, panicking on overflow.
func bumpVersion(key string, version uint64) uint64 {
	if version == ^uint64(0) {
		panic(fmt.Sprintf("mesi: write to %q at version %#x: out of versions", key, version))
	}
	return version + 1
}

// memRead asks memory for the line: a read miss no peer could serve.
func (b *Broadcast) memRead(key string, t *btxn) {
	t.phase = bMemRead
	b.send(Message{Kind: MemRead, Key: key, To: b.cfg.Memory, Txn: t.id})
}

// memWrite sends l's value to memory under transaction id txn.
func (b *Broadcast) memWrite(l Line, txn uint64) {
	b.writeBacks[l.Key]++
	b.stats.WriteBacks++
	b.send(Message{Kind: MemWrite, Key: l.Key, To: b.cfg.Memory, Txn: txn, Value: l.Value, Version: l.Version})
}

// install puts a line into the cache, replacing the key's line if any;
// if the cache is full, the least recently used line is pushed out first,
// and written back with a MemWrite if it is M (S and E victims are
// dropped silently).
func (b *Broadcast) install(l Line) {
	b.cache.Remove(l.Key)
	if v, ok := b.cache.Victim(); ok {
		victim := *v
		b.cache.Remove(victim.Key)
		b.stats.Evictions++
		if victim.State == Modified {
			b.nextTxn++
			b.memWrite(victim, b.nextTxn)
		}
	}
	if ev := b.cache.Put(l); ev != nil {
		panic(fmt.Sprintf("mesi: node %s: Put of %q evicted %q behind the protocol's back", b.cfg.Self, l.Key, ev.Key))
	}
}

// cacheDeliver handles a message for a cache node.
func (b *Broadcast) cacheDeliver(m Message, now time.Duration) {
	switch m.Kind {
	case ReadReq:
		b.onReadReq(m)
	case ReadResp:
		b.onReadResp(m, now)
	case BInv:
		b.onBInv(m)
	case BInvAck:
		b.onBInvAck(m, now)
	case MemData:
		b.onMemData(m, now)
	case MemWriteAck:
		b.onMemWriteAck(m, now)
	default:
		panic(fmt.Sprintf("mesi: node %s: unexpected %v", b.cfg.Self, m))
	}
}

// onReadReq answers a peer's read miss from the line as it is now,
// whatever this node has in progress: an M line is written back and goes
// to S, an E line goes to S, an S line stays; no line, no data.
func (b *Broadcast) onReadReq(m Message) {
	resp := Message{Kind: ReadResp, Key: m.Key, To: m.From, Requester: m.Requester, Txn: m.Txn}
	if l, ok := b.cache.Peek(m.Key); ok {
		resp.State, resp.Value, resp.Version = l.State, l.Value, l.Version
		switch l.State {
		case Modified:
			b.nextTxn++
			b.memWrite(*l, b.nextTxn)
			l.State = Shared
		case Exclusive:
			l.State = Shared
		}
	}
	b.send(resp)
}

// pendingFor returns the transaction a response is for, or nil if it is
// for a transaction lost in a crash.
func (b *Broadcast) pendingFor(m Message) *btxn {
	t := b.pending[m.Key]
	if t == nil || t.id != m.Txn {
		return nil
	}
	return t
}

// onReadResp counts a peer's answer to a read miss. Once every peer
// answered, the read takes the newest data a peer sent (the first of
// equal versions) in S, or, if no peer had the line, asks memory.
func (b *Broadcast) onReadResp(m Message, now time.Duration) {
	t := b.pendingFor(m)
	if t == nil {
		return
	}
	if t.phase != bRead {
		panic(fmt.Sprintf("mesi: node %s: ReadResp from %s for txn %d of %q in phase %d", b.cfg.Self, m.From, t.id, m.Key, t.phase))
	}
	t.answers++
	if t.answers > len(b.peers) {
		panic(fmt.Sprintf("mesi: node %s: %d ReadResps for txn %d of %q from %d peers", b.cfg.Self, t.answers, t.id, m.Key, len(b.peers)))
	}
	if m.State != Invalid && (t.best == nil || m.Version > t.best.Version) {
		best := m
		t.best = &best
	}
	if t.answers < len(b.peers) {
		return
	}
	if t.best == nil {
		b.memRead(m.Key, t)
		return
	}
	b.endRead(m.Key, t, Shared, t.best.Value, t.best.Version, now)
}

// endRead completes a read miss and installs the line in state s.
func (b *Broadcast) endRead(key string, t *btxn, s State, value []byte, version uint64, now time.Duration) {
	delete(b.pending, key)
	b.complete(key, t.o, value, version, false)
	b.install(Line{Key: key, Value: value, State: s, Version: version, Filled: now, Used: now})
	b.runWaiting(key, now)
}

// onMemData ends a read miss no peer could serve (the line enters E), or
// gives a write miss memory's version.
func (b *Broadcast) onMemData(m Message, now time.Duration) {
	t := b.pendingFor(m)
	if t == nil {
		return
	}
	switch {
	case t.phase == bMemRead:
		b.endRead(m.Key, t, Exclusive, m.Value, m.Version, now)
	case t.phase == bWrite && t.needMem:
		t.needMem = false
		t.version = max(t.version, m.Version)
		b.maybeWrite(m.Key, t, now)
	default:
		panic(fmt.Sprintf("mesi: node %s: MemData for txn %d of %q in phase %d (memory asked: %v)", b.cfg.Self, t.id, m.Key, t.phase, t.needMem))
	}
}

// onBInv drops whatever line of the key this node holds, whatever it has
// in progress, writing an M line back first (as a snooping M cache
// flushes on another's write), and acknowledges with the dropped copy's
// version.
func (b *Broadcast) onBInv(m Message) {
	b.stats.Invalidations++
	ack := Message{Kind: BInvAck, Key: m.Key, To: m.From, Requester: m.Requester, Txn: m.Txn}
	if l, ok := b.cache.Peek(m.Key); ok {
		ack.State, ack.Version = l.State, l.Version
		if l.State == Modified {
			b.nextTxn++
			b.memWrite(*l, b.nextTxn)
		}
		b.cache.Remove(m.Key)
	}
	b.send(ack)
}

// onBInvAck counts a peer's ack of a write's invalidation.
func (b *Broadcast) onBInvAck(m Message, now time.Duration) {
	t := b.pendingFor(m)
	if t == nil {
		return
	}
	if t.phase != bWrite {
		panic(fmt.Sprintf("mesi: node %s: BInv-Ack from %s for txn %d of %q in phase %d", b.cfg.Self, m.From, t.id, m.Key, t.phase))
	}
	t.answers++
	if t.answers > len(b.peers) {
		panic(fmt.Sprintf("mesi: node %s: %d BInv-Acks for txn %d of %q from %d peers", b.cfg.Self, t.answers, t.id, m.Key, len(b.peers)))
	}
	t.version = max(t.version, m.Version)
	b.maybeWrite(m.Key, t, now)
}

// maybeWrite ends a write once every peer acked (and memory answered, on
// a miss): the line takes the value in M at the highest version seen plus
// one. In write-through mode it takes it in E instead, sends a MemWrite,
// and the Put completes on the MemWriteAck.
func (b *Broadcast) maybeWrite(key string, t *btxn, now time.Duration) {
	if t.answers < len(b.peers) || t.needMem {
		return
	}
	l := Line{Key: key, Value: t.o.value, State: Modified, Version: bumpVersion(key, t.version), Filled: now, Used: now}
	if b.cfg.WriteThrough {
		l.State = Exclusive
		b.install(l)
		t.phase, t.written = bMemAck, l
		b.memWrite(l, t.id)
		return
	}
	delete(b.pending, key)
	b.install(l)
	b.complete(key, t.o, l.Value, l.Version, false)
	b.runWaiting(key, now)
}

// onMemWriteAck ends a write-back, completing a write-through Put.
func (b *Broadcast) onMemWriteAck(m Message, now time.Duration) {
	b.writeBacks[m.Key]--
	switch n := b.writeBacks[m.Key]; {
	case n == 0:
		delete(b.writeBacks, m.Key)
	case n < 0:
		panic(fmt.Sprintf("mesi: node %s: MemWrite-Ack of %q (txn %d) with %d write-backs in flight", b.cfg.Self, m.Key, m.Txn, n+1))
	}
	t := b.pendingFor(m)
	if t == nil {
		return // a plain write-back, or a write-through lost in a crash
	}
	if t.phase != bMemAck {
		panic(fmt.Sprintf("mesi: node %s: MemWrite-Ack for txn %d of %q in phase %d", b.cfg.Self, t.id, m.Key, t.phase))
	}
	delete(b.pending, m.Key)
	b.complete(m.Key, t.o, t.written.Value, t.written.Version, false)
	b.runWaiting(m.Key, now)
}

// runWaiting runs queued client operations while the key has no
// transaction.
func (b *Broadcast) runWaiting(key string, now time.Duration) {
	for len(b.waiting[key]) > 0 && b.pending[key] == nil {
		o := b.waiting[key][0]
		b.waiting[key] = b.waiting[key][1:]
		b.run(key, o, now)
	}
	if len(b.waiting[key]) == 0 {
		delete(b.waiting, key)
	}
}
