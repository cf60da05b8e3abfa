package queue

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
)

const (
	snapshotMagic   = "QUEU"
	snapshotVersion = 3
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snapshot returns the whole state in a deterministic encoding, closed by a
// CRC-32C: replicas with the same state return the same bytes.
//
// Layout (version 3): magic, version, last index, last Tick index and Now,
// sealed and the seal epoch, the cumulative counters; the clients by id
// (id, last seq, index of the last command, cached Result, which carries
// no payload and no Gone: see Result.Gone); the dedup
// entries by (queue, dedup id) with their message id and time; the import
// sources by name (name, next chunk, done, index that finished it); the
// queues by name, each with its ready messages in id order (id,
// deliveries, payload); the in-flight messages by receipt (receipt, queue,
// id, deliveries, deadline, payload); the CRC-32C, 4 bytes big-endian. The
// gauges (Ready, InFlight, Bytes) are not written: Restore counts them.
// (Version 3 added Result.Gone to the cached Results.)
func (m *Manager) Snapshot() []byte {
	e := newEncoder(256)
	e.Raw([]byte(snapshotMagic))
	e.Byte(snapshotVersion)
	e.Uint(m.lastIndex)
	e.Uint(m.lastTickIndex)
	e.Int(m.lastTickNow)
	e.Bool(m.sealed)
	e.Uint(m.sealEpoch)
	for _, v := range m.counters() {
		e.Uint(*v)
	}
	ids := slices.Sorted(maps.Keys(m.clients))
	e.Uint(uint64(len(ids)))
	for _, id := range ids {
		c := m.clients[id]
		e.String(string(id))
		e.Uint(c.lastSeq)
		e.Uint(c.lastIndex)
		encodeResult(e, c.result)
	}
	keys := slices.SortedFunc(maps.Keys(m.dedup), compareDedupKey)
	e.Uint(uint64(len(keys)))
	for _, k := range keys {
		d := m.dedup[k]
		e.String(k.queue)
		e.String(k.id)
		e.Uint(d.id)
		e.Int(d.at)
	}
	srcs := slices.Sorted(maps.Keys(m.sources))
	e.Uint(uint64(len(srcs)))
	for _, name := range srcs {
		s := m.sources[name]
		e.String(name)
		e.Uint(uint64(s.next))
		e.Bool(s.done)
		e.Uint(s.finishedAt)
	}
	names := m.Queues()
	e.Uint(uint64(len(names)))
	for _, name := range names {
		q := m.queues[name]
		ready := q.readyInOrder()
		e.String(name)
		e.Uint(uint64(len(ready)))
		for _, msg := range ready {
			e.Uint(msg.id)
			e.Uint(uint64(msg.deliveries))
			e.Blob(msg.payload)
		}
	}
	receipts := slices.Sorted(maps.Keys(m.receipts))
	e.Uint(uint64(len(receipts)))
	for _, r := range receipts {
		msg := m.receipts[r]
		e.Uint(r)
		e.String(msg.q.name)
		e.Uint(msg.id)
		e.Uint(uint64(msg.deliveries))
		e.Int(msg.deadline)
		e.Blob(msg.payload)
	}
	return binary.BigEndian.AppendUint32(e.Bytes(), crc32.Checksum(e.Bytes(), crcTable))
}

func compareDedupKey(a, b dedupKey) int {
	return cmp.Or(cmp.Compare(a.queue, b.queue), cmp.Compare(a.id, b.id))
}

// counters returns the cumulative Stats fields, in snapshot order.
func (m *Manager) counters() []*uint64 {
	s := &m.stats
	return []*uint64{&s.Enqueued, &s.Delivered, &s.Redelivered, &s.Acked, &s.DeadLettered, &s.Expired, &s.DedupHits, &s.Imported, &s.ImportSkipped}
}

// validID reports whether id is a message id this Manager can hold: made
// here at an applied index, or imported from an older placement.
func (m *Manager) validID(id uint64) bool {
	p, idx := splitID(id)
	return idx != 0 && (p < m.cfg.IDPrefix || p == m.cfg.IDPrefix && idx <= m.lastIndex)
}

// readyInOrder returns the queue's ready messages in id order.
func (q *queue) readyInOrder() []*message {
	out := make([]*message, 0, q.ready())
	out = append(out, q.fresh[q.head:]...)
	out = append(out, q.retry.items...)
	slices.SortFunc(out, func(a, b *message) int { return cmp.Compare(a.id, b.id) })
	return out
}

// Restore replaces the state by the one encoded in b, keeping the Config.
// Corrupt, truncated, non-canonical or inconsistent input is an error
// wrapping ErrMalformed, and the Manager is left unchanged.
func (m *Manager) Restore(b []byte) error {
	if len(b) < len(snapshotMagic)+5 {
		return fmt.Errorf("%w: snapshot of %d bytes is too short", ErrMalformed, len(b))
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[len(body):]) {
		return fmt.Errorf("%w: snapshot checksum mismatch", ErrMalformed)
	}
	if string(body[:len(snapshotMagic)]) != snapshotMagic || body[len(snapshotMagic)] != snapshotVersion {
		return fmt.Errorf("%w: bad snapshot magic or version", ErrMalformed)
	}
	n := New(m.cfg)
	d := newDecoder(body, len(snapshotMagic)+1)
	n.lastIndex, n.lastTickIndex, n.lastTickNow = d.Uint(), d.Uint(), d.Int()
	n.sealed, n.sealEpoch = d.Bool(), d.Uint()
	n.index = n.lastIndex
	if n.lastIndex > MaxLogIndex || n.lastTickIndex > n.lastIndex || !n.sealed && n.sealEpoch != 0 {
		d.Fail("bad indexes or seal")
	}
	for _, v := range n.counters() {
		*v = d.Uint()
	}
	seen := make(map[uint64]bool)
	claim := func(id uint64) {
		if !n.validID(id) || seen[id] {
			d.Fail("bad or repeated id %d", id)
		}
		seen[id] = true
	}
	var prevClient string
	var lru []*client
	for i, cnt := 0, d.Count(4); i < cnt && d.Err() == nil; i++ {
		id := d.String()
		c := &client{id: ClientID(id), lastSeq: d.Uint(), lastIndex: d.Uint(), result: decodeResult(d)}
		if i > 0 && id <= prevClient || id == "" || len(id) > MaxNameBytes || c.lastSeq == 0 || c.lastIndex == 0 || c.lastIndex > n.lastIndex || i >= n.cfg.MaxClients {
			d.Fail("bad client %q, or more than %d", truncate(id), n.cfg.MaxClients)
		}
		prevClient = id
		n.clients[c.id] = c
		lru = append(lru, c)
	}
	slices.SortFunc(lru, compareClients)
	for _, c := range lru {
		n.lru.pushBack(c)
	}
	var prevKey dedupKey
	for i, cnt := 0, d.Count(4); i < cnt && d.Err() == nil; i++ {
		k := dedupKey{queue: d.String(), id: d.String()}
		e := dedupEntry{id: d.Uint(), at: d.Int()}
		if i > 0 && compareDedupKey(prevKey, k) >= 0 || validQueue("Restore", k.queue) != nil || k.id == "" || len(k.id) > MaxNameBytes || !n.validID(e.id) {
			d.Fail("bad dedup entry, or out of order")
		}
		prevKey = k
		n.dedup[k] = e
		n.dedupAge.push(dedupItem{key: k, dedupEntry: e})
	}
	prevSrc := ""
	for i, cnt := 0, d.Count(4); i < cnt && d.Err() == nil; i++ {
		s := &importSource{name: d.String(), next: decodeUint32(d, "next chunk"), done: d.Bool(), finishedAt: d.Uint()}
		if i > 0 && s.name <= prevSrc || s.name == "" || len(s.name) > MaxSourceBytes || s.next == 0 ||
			s.done != (s.finishedAt != 0) || s.finishedAt > n.lastIndex || i >= MaxImportSources {
			d.Fail("bad import source %q", truncate(s.name))
		}
		prevSrc = s.name
		n.sources[s.name] = s
		if s.done {
			n.finished = append(n.finished, s)
		}
	}
	slices.SortFunc(n.finished, compareFinished)
	prevName := ""
	for i, cnt := 0, d.Count(2); i < cnt && d.Err() == nil; i++ {
		name := d.String()
		if name <= prevName || validQueue("Restore", name) != nil {
			d.Fail("bad queue name %q", name)
		}
		prevName = name
		q := n.queue(name)
		var prevID uint64
		for j, mc := 0, d.Count(3); j < mc && d.Err() == nil; j++ {
			msg := &message{id: d.Uint(), q: q, hidx: -1}
			del := d.Uint()
			msg.payload = d.Blob(MaxWirePayload)
			if msg.id <= prevID || del > 1<<32-1 {
				d.Fail("bad ready message %d", msg.id)
			}
			claim(msg.id)
			prevID, msg.deliveries = msg.id, uint32(del)
			q.fresh = append(q.fresh, msg)
			if n.isImported(msg.id) {
				n.imported[msg.id] = msg
			}
			n.stats.Ready++
			n.stats.Bytes += uint64(len(msg.payload))
		}
	}
	var prevR uint64
	for i, cnt := 0, d.Count(6); i < cnt && d.Err() == nil; i++ {
		r, name := d.Uint(), d.String()
		msg := &message{receipt: r, id: d.Uint(), hidx: -1}
		del := d.Uint()
		msg.deadline, msg.payload = d.Int(), d.Blob(MaxWirePayload)
		// An in-flight message's queue is listed with the queues, if only
		// with no ready message.
		if rp, ri := splitID(r); r <= prevR || rp != n.cfg.IDPrefix || ri == 0 || ri > n.lastIndex || del == 0 || del > 1<<32-1 || n.queues[name] == nil {
			d.Fail("bad in-flight message at receipt %d", r)
			break
		}
		claim(msg.id)
		if n.isImported(msg.id) {
			n.imported[msg.id] = msg
		}
		prevR, msg.deliveries = r, uint32(del)
		msg.q = n.queues[name]
		msg.q.inflight++
		n.receipts[r] = msg
		n.inflight.push(msg)
		n.stats.InFlight++
		n.stats.Bytes += uint64(len(msg.payload))
	}
	if err := d.Finish(); err != nil {
		return err
	}
	for _, name := range n.Queues() {
		if q := n.queues[name]; q.ready() == 0 && q.inflight == 0 {
			return fmt.Errorf("%w: empty queue %q in snapshot", ErrMalformed, name)
		}
	}
	if err := n.CheckInvariants(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	*m = *n
	return nil
}
