package lockmgr

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"
)

// snapshotMagic starts every snapshot; the byte after it is the version.
const (
	snapshotMagic   = "LKMS"
	snapshotVersion = 1
)

// crcTable is CRC-32C, which closes every snapshot: any corruption of up to
// 32 consecutive bits is detected before the body is even parsed.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snapshot returns the whole state in a deterministic encoding: replicas
// with the same state return the same bytes, which is how determinism is
// tested. Everything is written in sorted order; what can be derived (each
// session's held and waited resources, live-session counts, the idle-client
// order, the wait-for graph, the gauges of Stats) is rebuilt by Restore
// instead of being stored.
//
// Layout (integers are uvarints, durations zigzag varints, strings a
// length and the bytes): magic, version, last index; the cumulative
// counters; the clients by id (id, last seq, last index, touched, cached
// result); the sessions by id (id, client, TTL, renewed); the resources by
// name (name, mode, holders in grant order as session and token, waiters
// in FIFO order as session, request, mode and timeout); and last the
// CRC-32C of all that, 4 bytes big-endian.
func (m *Manager) Snapshot() []byte {
	return seal(m.snapshotBody())
}

// seal appends the CRC-32C of body to it.
func seal(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, crcTable))
}

// snapshotBody encodes the state without the CRC.
func (m *Manager) snapshotBody() []byte {
	e := newEncoder(64 + 32*(len(m.clients)+len(m.sessions)+len(m.resources)))
	e.Raw([]byte(snapshotMagic))
	e.Byte(snapshotVersion)
	e.Uint(m.lastIndex)
	for _, v := range m.counters() {
		e.Uint(*v)
	}
	m.encodeClients(e)
	m.encodeSessions(e)
	m.encodeResources(e)
	return e.Bytes()
}

// counters returns the cumulative Stats fields, in snapshot order.
func (m *Manager) counters() []*uint64 {
	s := &m.stats
	return []*uint64{&s.Grants, &s.Waits, &s.Deadlocks, &s.Victims, &s.Timeouts, &s.Expired}
}

func (m *Manager) encodeClients(e *encoder) {
	ids := slices.Sorted(maps.Keys(m.clients))
	e.Uint(uint64(len(ids)))
	for _, id := range ids {
		c := m.clients[id]
		e.String(string(id))
		e.Uint(c.lastSeq)
		e.Uint(c.lastIndex)
		e.Uint(c.touched)
		encodeResult(e, c.result)
	}
}

func (m *Manager) encodeSessions(e *encoder) {
	ids := slices.Sorted(maps.Keys(m.sessions))
	e.Uint(uint64(len(ids)))
	for _, sid := range ids {
		s := m.sessions[sid]
		e.Uint(uint64(sid))
		e.String(string(s.client))
		e.Duration(s.ttl)
		e.Uint(s.renewed)
	}
}

func (m *Manager) encodeResources(e *encoder) {
	names := slices.Sorted(maps.Keys(m.resources))
	e.Uint(uint64(len(names)))
	for _, name := range names {
		r := m.resources[name]
		e.String(string(name))
		e.Byte(uint8(r.mode()))
		e.Uint(uint64(r.numHolders()))
		for i := range r.numHolders() {
			h := r.holderAt(i)
			e.Uint(uint64(h.session))
			e.Uint(uint64(h.token))
		}
		e.Uint(uint64(len(r.queue())))
		for _, w := range r.queue() {
			e.Uint(uint64(w.session))
			e.Uint(w.request)
			e.Byte(uint8(w.mode))
			e.Duration(w.timeout)
		}
	}
}

// Restore replaces the state by the one encoded in b, keeping the Config.
// A snapshot that is truncated, non-canonical, out of order, inconsistent
// (a holder without a session, conflicting holders, a cyclic wait-for
// graph...) is rejected with an error wrapping ErrMalformed, and the
// Manager is left unchanged. Restore never panics on bad input.
func (m *Manager) Restore(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("lockmgr: restore: %w: %d bytes, too short for a snapshot", ErrMalformed, len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, crcTable); got != sum {
		return fmt.Errorf("lockmgr: restore: %w: CRC-32C %08x, stored %08x", ErrMalformed, got, sum)
	}
	return m.restoreBody(body)
}

// restoreBody restores from a snapshot body whose CRC has been checked.
func (m *Manager) restoreBody(body []byte) error {
	n := New(m.cfg)
	if err := n.decode(body); err != nil {
		return fmt.Errorf("lockmgr: restore: %w", err)
	}
	if err := n.rebuild(); err != nil {
		return fmt.Errorf("lockmgr: restore: %w: %w", ErrMalformed, err)
	}
	if err := n.CheckInvariants(); err != nil {
		return fmt.Errorf("lockmgr: restore: %w: %w", ErrMalformed, err)
	}
	*m = *n
	return nil
}

// decode reads the stored part of a snapshot into an empty Manager.
func (m *Manager) decode(b []byte) error {
	if !strings.HasPrefix(string(b), snapshotMagic) {
		return fmt.Errorf("%w: missing snapshot magic", ErrMalformed)
	}
	d := newDecoder(b, len(snapshotMagic))
	if v := d.Byte(); d.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("%w: snapshot version %d, want %d", ErrMalformed, v, snapshotVersion)
	}
	m.lastIndex = d.Uint()
	if d.Err() == nil && m.lastIndex >= exclusiveBit {
		d.Fail("last index %d is not below 1<<63", m.lastIndex)
	}
	for _, v := range m.counters() {
		*v = d.Uint()
	}
	m.decodeClients(d)
	m.decodeSessions(d)
	m.decodeResources(d)
	return d.Finish()
}

// decodeClients reads the clients, checking their order and ranges.
func (m *Manager) decodeClients(d *decoder) {
	var prev ClientID
	for i := range d.Count(8) {
		id := ClientID(d.String())
		c := &client{id: id, lastSeq: d.Uint(), lastIndex: d.Uint(), touched: d.Uint()}
		c.result = decodeResult(d)
		switch {
		case d.Err() != nil:
			return
		case i > 0 && id <= prev:
			d.Fail("client %q not after %q", id, prev)
		case validateClient("Snapshot", id, c.lastSeq) != nil:
			d.Fail("client %q: %v", id, validateClient("Snapshot", id, c.lastSeq))
		case c.lastIndex == 0 || c.lastIndex > m.lastIndex || c.touched < c.lastIndex || c.touched > m.lastIndex:
			d.Fail("client %q: last index %d, touched %d, snapshot index %d", id, c.lastIndex, c.touched, m.lastIndex)
		}
		m.clients[id] = c
		prev = id
	}
}

// decodeSessions reads the sessions, checking their order and ranges.
func (m *Manager) decodeSessions(d *decoder) {
	var prev SessionID
	for i := range d.Count(4) {
		sid := SessionID(d.Uint())
		s := &session{client: ClientID(d.String()), ttl: d.Duration(), renewed: d.Uint()}
		switch {
		case d.Err() != nil:
			return
		case sid == 0 || (i > 0 && sid <= prev):
			d.Fail("session %d not after %d", sid, prev)
		case m.clients[s.client] == nil:
			d.Fail("session %d: client %q has no entry", sid, s.client)
		case s.ttl <= 0:
			d.Fail("session %d: TTL %v", sid, s.ttl)
		case s.renewed < uint64(sid) || s.renewed > m.lastIndex:
			d.Fail("session %d: renewed at %d, snapshot index %d", sid, s.renewed, m.lastIndex)
		}
		m.sessions[sid] = s
		prev = sid
	}
}

// decodeResources reads the resources, checking order and references.
func (m *Manager) decodeResources(d *decoder) {
	var prev Resource
	for i := range d.Count(5) {
		name := Resource(d.String())
		mode := Mode(d.Byte())
		if d.Err() == nil && (validateResource("Snapshot", name) != nil || (i > 0 && name <= prev) || !mode.valid()) {
			d.Fail("resource %q (after %q) with mode %d", name, prev, mode)
		}
		r := newResource(mode)
		m.decodeHolders(d, name, r)
		m.decodeQueue(d, name, r)
		if d.Err() != nil {
			return
		}
		m.resources[name] = r
		prev = name
	}
}

func (m *Manager) decodeHolders(d *decoder, name Resource, r *resource) {
	n := d.Count(2)
	if d.Err() == nil && n == 0 {
		d.Fail("resource %q has no holder", name)
	}
	for range n {
		h := holder{session: SessionID(d.Uint()), token: Token(d.Uint())}
		if d.Err() != nil {
			return
		}
		if m.sessions[h.session] == nil || r.holderIndex(h.session) >= 0 || h.token == 0 || uint64(h.token) > m.lastIndex {
			d.Fail("resource %q: holder session %d token %d", name, h.session, h.token)
			return
		}
		r.addHolder(h)
	}
}

func (m *Manager) decodeQueue(d *decoder, name Resource, r *resource) {
	n := d.Count(4)
	for i := range n {
		w := waiter{session: SessionID(d.Uint()), request: d.Uint(), mode: Mode(d.Byte()), timeout: d.Duration()}
		if d.Err() != nil {
			return
		}
		s := m.sessions[w.session]
		if s == nil || s.waitRes != "" || !w.mode.valid() || w.timeout < 0 ||
			w.request == 0 || w.request > m.lastIndex {
			d.Fail("resource %q: waiter %d: session %d request %d mode %d", name, i, w.session, w.request, w.mode)
			return
		}
		s.waitRes = name
		r.insertWaiter(i, w)
	}
}

// rebuild derives what the snapshot does not store.
func (m *Manager) rebuild() error {
	for _, name := range slices.Sorted(maps.Keys(m.resources)) {
		r := m.resources[name]
		for i := range r.numHolders() {
			s := m.sessions[r.holderAt(i).session]
			s.held = append(s.held, name)
		}
		m.stats.ActiveLocks += uint64(r.numHolders())
		m.stats.Waiting += uint64(len(r.queue()))
	}
	sids := slices.Sorted(maps.Keys(m.sessions))
	for _, sid := range sids {
		m.clients[m.sessions[sid].client].sessions++
	}
	m.stats.Sessions = uint64(len(sids))
	if err := m.rebuildIdle(); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(m.resources)) {
		m.refreshEdges(m.resources[name])
	}
	if len(m.suspects) != 0 {
		return fmt.Errorf("wait-for graph has a cycle through session %d", m.suspects[0])
	}
	return nil
}

// rebuildIdle links the idle clients in touched order.
func (m *Manager) rebuildIdle() error {
	var idle []*client
	for _, id := range slices.Sorted(maps.Keys(m.clients)) {
		if c := m.clients[id]; c.sessions == 0 {
			idle = append(idle, c)
		}
	}
	slices.SortFunc(idle, func(a, b *client) int { return cmp.Compare(a.touched, b.touched) })
	for i, c := range idle {
		if i > 0 && c.touched == idle[i-1].touched {
			return fmt.Errorf("idle clients %q and %q both touched at %d", idle[i-1].id, c.id, c.touched)
		}
		m.idle.pushBack(c, c.touched)
	}
	return nil
}
