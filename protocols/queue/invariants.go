package queue

import (
	"fmt"
	"maps"
	"slices"
)

// CheckInvariants checks the partition's state and returns the first
// violation found (in a deterministic order), or nil:
//
//   - conservation: Enqueued + Imported = Ready + InFlight + Acked +
//     DeadLettered (a dead-letter move counts once out, as DeadLettered,
//     and once in, as Enqueued; dedup hits and skipped imports are not
//     counted), and the Ready, InFlight and Bytes gauges match the
//     queues (Bytes: the sum of the payload sizes held);
//   - every message id and receipt is valid: made here (the Config's
//     IDPrefix, an applied index) or, for a message id, imported (a
//     smaller prefix); the imported messages are indexed by id;
//   - each message is in one place: ready in one queue or in flight under
//     exactly one receipt, which maps back to it; ids are unique, so an
//     acked message (removed everywhere) is gone;
//   - the ready messages of a queue are served in id (enqueue) order: the
//     fresh list is strictly increasing and the retry list is a heap;
//   - the in-flight heap is ordered by (deadline, receipt), and no delivery
//     made before the last Tick has a deadline at or before that Tick's Now;
//   - no queue is empty, and every message belongs to its queue;
//   - the client table holds at most Config.MaxClients clients, and its
//     eviction list holds each once, ordered by (last index, id); no
//     cached Result keeps a payload or Gone (a retry rebuilds them);
//   - the import-source table holds at most MaxImportSources sources, and
//     the finished ones are listed by (finishing index, name);
//   - an unsealed partition has no seal epoch.
func (m *Manager) CheckInvariants() error {
	s := m.stats
	if s.Enqueued+s.Imported != s.Ready+s.InFlight+s.Acked+s.DeadLettered {
		return fmt.Errorf("queue: conservation: enqueued %d + imported %d != ready %d + in flight %d + acked %d + dead-lettered %d",
			s.Enqueued, s.Imported, s.Ready, s.InFlight, s.Acked, s.DeadLettered)
	}
	if err := m.checkTables(); err != nil {
		return err
	}
	var imported int
	place := func(msg *message) error {
		if !m.validID(msg.id) {
			return fmt.Errorf("queue: message id %d (prefix %d, index %d) not made here nor imported", msg.id, msg.id>>IDIndexBits, msg.id&MaxLogIndex)
		}
		if m.isImported(msg.id) {
			if m.imported[msg.id] != msg {
				return fmt.Errorf("queue: imported message %d not indexed", msg.id)
			}
			imported++
		}
		return nil
	}
	seen := make(map[uint64]bool)
	var ready, inflight, bytes uint64
	for _, name := range m.Queues() {
		q := m.queues[name]
		if q.name != name {
			return fmt.Errorf("queue: queue %q is named %q", name, q.name)
		}
		if q.ready() == 0 && q.inflight == 0 {
			return fmt.Errorf("queue: empty queue %q kept", name)
		}
		var prev uint64
		for i, msg := range q.fresh[q.head:] {
			if i > 0 && msg.id <= prev {
				return fmt.Errorf("queue: queue %q: ready list out of FIFO order: %d after %d", name, msg.id, prev)
			}
			prev = msg.id
		}
		if err := checkHeap(&q.retry, "retry of "+name); err != nil {
			return err
		}
		for _, msg := range q.readyInOrder() {
			if msg.q != q || msg.receipt != 0 || seen[msg.id] {
				return fmt.Errorf("queue: ready message %d of %q misplaced or duplicated", msg.id, name)
			}
			seen[msg.id] = true
			ready++
			bytes += uint64(len(msg.payload))
			if err := place(msg); err != nil {
				return err
			}
		}
		inflight += uint64(q.inflight)
	}
	if err := checkHeap(&m.inflight, "in flight"); err != nil {
		return err
	}
	if len(m.receipts) != m.inflight.Len() || uint64(len(m.receipts)) != inflight {
		return fmt.Errorf("queue: %d receipts, %d in the heap, %d counted by queues", len(m.receipts), m.inflight.Len(), inflight)
	}
	for _, r := range slices.Sorted(maps.Keys(m.receipts)) {
		msg := m.receipts[r]
		if msg.receipt != r || seen[msg.id] || msg.deliveries == 0 || m.queues[msg.q.name] != msg.q {
			return fmt.Errorf("queue: in-flight message %d under receipt %d inconsistent or duplicated", msg.id, r)
		}
		seen[msg.id] = true
		bytes += uint64(len(msg.payload))
		if err := place(msg); err != nil {
			return err
		}
		p, idx := splitID(r)
		if p != m.cfg.IDPrefix || idx == 0 || idx > m.lastIndex {
			return fmt.Errorf("queue: receipt %d (prefix %d, index %d) not made here", r, p, idx)
		}
		if idx < m.lastTickIndex && msg.deadline <= m.lastTickNow {
			return fmt.Errorf("queue: message %d in flight past its deadline %d after Tick at %d", msg.id, msg.deadline, m.lastTickNow)
		}
	}
	if ready != s.Ready || inflight != s.InFlight || bytes != s.Bytes {
		return fmt.Errorf("queue: gauges ready %d in flight %d bytes %d, counted %d, %d and %d", s.Ready, s.InFlight, s.Bytes, ready, inflight, bytes)
	}
	if imported != len(m.imported) {
		return fmt.Errorf("queue: %d imported messages indexed, %d found", len(m.imported), imported)
	}
	return nil
}

// checkTables checks the seal, the client table and the import sources.
func (m *Manager) checkTables() error {
	if !m.sealed && m.sealEpoch != 0 {
		return fmt.Errorf("queue: unsealed with seal epoch %d", m.sealEpoch)
	}
	if len(m.clients) > m.cfg.MaxClients || m.lru.len != len(m.clients) {
		return fmt.Errorf("queue: %d clients, %d listed, max %d", len(m.clients), m.lru.len, m.cfg.MaxClients)
	}
	var prev *client
	for c := m.lru.head; c != nil; prev, c = c, c.next {
		if m.clients[c.id] != c || c.prev != prev || prev != nil && compareClients(prev, c) >= 0 || c.lastIndex == 0 || c.lastIndex > m.lastIndex {
			return fmt.Errorf("queue: client %q (last index %d) misplaced in the eviction list", c.id, c.lastIndex)
		}
		if c.result.Payload != nil || c.result.Gone {
			return fmt.Errorf("queue: client %q: cached result keeps a payload of %d bytes or Gone %v", c.id, len(c.result.Payload), c.result.Gone)
		}
	}
	if prev != m.lru.tail {
		return fmt.Errorf("queue: eviction list tail mismatch")
	}
	if len(m.sources) > MaxImportSources {
		return fmt.Errorf("queue: %d import sources, max %d", len(m.sources), MaxImportSources)
	}
	done := 0
	for _, name := range slices.Sorted(maps.Keys(m.sources)) {
		if s := m.sources[name]; s.done {
			done++
		}
	}
	if done != len(m.finished) {
		return fmt.Errorf("queue: %d finished import sources, %d listed", done, len(m.finished))
	}
	for i, s := range m.finished {
		if m.sources[s.name] != s || !s.done || s.finishedAt == 0 || s.finishedAt > m.lastIndex || i > 0 && compareFinished(m.finished[i-1], s) >= 0 {
			return fmt.Errorf("queue: finished import source %q misplaced", s.name)
		}
	}
	return nil
}

// checkHeap checks the heap order and the messages' heap indexes.
func checkHeap(h *msgHeap, what string) error {
	for i, msg := range h.items {
		if int(msg.hidx) != i {
			return fmt.Errorf("queue: %s heap: message %d at %d has index %d", what, msg.id, i, msg.hidx)
		}
		if i > 0 && h.less(msg, h.items[(i-1)/2]) {
			return fmt.Errorf("queue: %s heap out of order at %d", what, i)
		}
	}
	return nil
}
