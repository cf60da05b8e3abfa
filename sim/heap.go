package sim

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/nodes"
)

// eventKind says what an event does when it is popped.
type eventKind uint8

const (
	evDeliver eventKind = iota + 1 // deliver msg from node `from` to node `node`
	evTimer                        // fire timer slot `ref` on node `node`
	evAction                       // run scheduled action number `ref`
	evStart                        // start (or restart) node `node`
	evWake                         // hand node `node` the next event of its inbox
)

func (k eventKind) String() string {
	switch k {
	case evDeliver:
		return "deliver"
	case evTimer:
		return "timer"
	case evAction:
		return "action"
	case evStart:
		return "start"
	case evWake:
		return "wake"
	}
	return fmt.Sprintf("event-kind-%d", uint8(k))
}

// event is one entry of the scheduler's queue: a plain struct, stored by
// value in the heap's slice. No closure and no boxing per event.
type event struct {
	at   time.Duration // virtual time since the start of the run
	seq  uint64        // tie-break: the order events were scheduled in
	msg  nodes.Message // evDeliver only
	ref  uint64        // evTimer: timer slot and generation; evAction: action index; evDeliver: message number
	node int32         // target node index
	from int32         // evDeliver: sender index
	inc  uint32        // evDeliver: the target's incarnation when sent; evWake: the node's
	kind eventKind
}

// before is the scheduler's one ordering: virtual time, then sequence number.
func (e *event) before(o *event) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	return e.seq < o.seq
}

// eventHeap is a hand-written binary min-heap of events ordered by
// (at, seq). It moves a hole down or up instead of swapping, and never
// allocates once its slice has grown to the peak number of pending events.
type eventHeap struct {
	items []event
}

// Len returns the number of pending events.
func (h *eventHeap) Len() int { return len(h.items) }

// push adds e.
func (h *eventHeap) push(e event) {
	h.items = append(h.items, e)
	i := len(h.items) - 1
	items := h.items
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(&items[p]) {
			break
		}
		items[i] = items[p]
		i = p
	}
	items[i] = e
}

// peek returns the earliest event without removing it. The heap must not
// be empty.
func (h *eventHeap) peek() *event { return &h.items[0] }

// pop removes and returns the earliest event. The heap must not be empty.
func (h *eventHeap) pop() event {
	items := h.items
	top := items[0]
	n := len(items) - 1
	last := items[n]
	items[n] = event{} // drop the message reference for the GC
	items = items[:n]
	h.items = items
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && items[r].before(&items[c]) {
			c = r
		}
		if !items[c].before(&last) {
			break
		}
		items[i] = items[c]
		i = c
	}
	items[i] = last
	return top
}
