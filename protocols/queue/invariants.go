package queue

import (
	"fmt"
	"maps"
	"slices"
)

// CheckInvariants checks the partition's state and returns the first
// violation found (in a deterministic order), or nil:
//
//   - conservation: Enqueued = Ready + InFlight + Acked + DeadLettered
//     (a dead-letter move counts once out, as DeadLettered, and once in, as
//     Enqueued; dedup hits are not counted), and the Ready and InFlight
//     gauges match the queues;
//   - each message is in one place: ready in one queue or in flight under
//     exactly one receipt, which maps back to it; ids are unique, so an
//     acked message (removed everywhere) is gone;
//   - the ready messages of a queue are served in id (enqueue) order: the
//     fresh list is strictly increasing and the retry list is a heap;
//   - the in-flight heap is ordered by (deadline, receipt), and no delivery
//     made before the last Tick has a deadline at or before that Tick's Now;
//   - no queue is empty, and every message belongs to its queue.
func (m *Manager) CheckInvariants() error {
	s := m.stats
	if s.Enqueued != s.Ready+s.InFlight+s.Acked+s.DeadLettered {
		return fmt.Errorf("queue: conservation: enqueued %d != ready %d + in flight %d + acked %d + dead-lettered %d",
			s.Enqueued, s.Ready, s.InFlight, s.Acked, s.DeadLettered)
	}
	seen := make(map[uint64]bool)
	var ready, inflight uint64
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
		if r < m.lastTickIndex && msg.deadline <= m.lastTickNow {
			return fmt.Errorf("queue: message %d in flight past its deadline %d after Tick at %d", msg.id, msg.deadline, m.lastTickNow)
		}
	}
	if ready != s.Ready || inflight != s.InFlight {
		return fmt.Errorf("queue: gauges ready %d in flight %d, counted %d and %d", s.Ready, s.InFlight, ready, inflight)
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
