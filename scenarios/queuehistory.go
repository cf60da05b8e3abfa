package scenarios

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/queue"
)

// QueueOp is one queue client operation: invoked at Call, answered at
// Return with Result if Done.
type QueueOp struct {
	Op     queues.Op
	Call   time.Duration
	Return time.Duration
	Result queue.Result
	Done   bool
}

// QueueHistory records what the queue clients of a run invoked and
// learned, stamped with virtual time, and checks as it grows that no
// message is delivered after an ack of it succeeded. It implements
// queues.Recorder.
type QueueHistory struct {
	Ops     []QueueOp
	pending map[queueOpKey]int
	// Completed counts the operations that got an answer.
	Completed int
	now       func() time.Duration
	// messages by payload; payloadOf maps a delivery to its payload.
	messages  map[string]*messageFate
	payloadOf map[receiptKey]string
	violation error
}

// receiptKey names a delivery: receipts are unique within a queue's
// groups (they grow with the log, and with the ring epoch across moves),
// not across queues.
type receiptKey struct {
	placement string
	receipt   uint64
}

type queueOpKey struct {
	client queue.ClientID
	seq    uint64
}

// messageFate is what the clients learned about one message.
type messageFate struct {
	queue    string
	id       uint64        // from the enqueue's answer
	enqueued time.Duration // when the enqueue was acknowledged (0: never)
	receipts []uint64      // every delivery's receipt, as they arrived
	ackedAt  uint64        // receipt of the delivery whose ack succeeded
}

func newQueueHistory() *QueueHistory {
	return &QueueHistory{pending: map[queueOpKey]int{}, messages: map[string]*messageFate{}, payloadOf: map[receiptKey]string{}}
}

// Invoke implements queues.Recorder.
func (h *QueueHistory) Invoke(op queues.Op) {
	h.pending[queueOpKey{op.Client, op.Seq}] = len(h.Ops)
	h.Ops = append(h.Ops, QueueOp{Op: op, Call: h.now()})
}

// Complete implements queues.Recorder.
func (h *QueueHistory) Complete(op queues.Op, res queue.Result) {
	k := queueOpKey{op.Client, op.Seq}
	i, ok := h.pending[k]
	if !ok {
		panic(fmt.Sprintf("queue history: completion of %s seq %d by %s that was never invoked", op.Kind, op.Seq, op.Client))
	}
	delete(h.pending, k)
	h.Completed++
	h.Ops[i].Return, h.Ops[i].Result, h.Ops[i].Done = h.now(), res, true
	if res.Status != queue.StatusOK {
		return
	}
	switch op.Kind {
	case queues.OpEnqueue:
		f := h.fate(op.Payload)
		f.queue, f.id, f.enqueued = op.Queue, res.ID, h.now()
	case queues.OpDequeue:
		if res.Gone {
			return // the client never saw this delivery's payload: it is over
		}
		payload := string(res.Payload)
		f := h.fate(payload)
		f.receipts = append(f.receipts, res.Receipt)
		h.payloadOf[receiptKey{queues.PlacementKey(op.Queue), res.Receipt}] = payload
		if f.ackedAt != 0 && res.Receipt > f.ackedAt && h.violation == nil {
			h.violation = fmt.Errorf("queue-safety at t=%v: message %.40q (id %d) delivered to %s under receipt %d after its delivery %d was acked",
				h.now(), payload, res.ID, op.Client, res.Receipt, f.ackedAt)
		}
	case queues.OpAck:
		payload, ok := h.payloadOf[receiptKey{queues.PlacementKey(op.Queue), op.Receipt}]
		if !ok {
			return
		}
		f := h.fate(payload)
		f.ackedAt = op.Receipt
		for _, r := range f.receipts {
			if r > op.Receipt && h.violation == nil {
				h.violation = fmt.Errorf("queue-safety at t=%v: message %.40q acked under receipt %d by %s, but it was also delivered later under receipt %d",
					h.now(), payload, op.Receipt, op.Client, r)
			}
		}
	}
}

func (h *QueueHistory) fate(payload string) *messageFate {
	f := h.messages[payload]
	if f == nil {
		f = &messageFate{}
		h.messages[payload] = f
	}
	return f
}

// OldestPending returns the oldest operation still waiting for an answer.
func (h *QueueHistory) OldestPending() (QueueOp, bool) { return oldestPending(h.Ops, h.pending) }

// Undelivered returns, sorted by id, the acknowledged enqueues that no
// client ever received: the candidates for a lost message.
func (h *QueueHistory) Undelivered() []QueueLost {
	var out []QueueLost
	for payload, f := range h.messages { //det:ordered sorted below
		if f.enqueued > 0 && len(f.receipts) == 0 {
			out = append(out, QueueLost{Payload: payload, Queue: f.queue, ID: f.id, Enqueued: f.enqueued})
		}
	}
	sortLost(out)
	return out
}

// UnansweredDequeue reports whether a dequeue of queue q never got an
// answer: it may have taken a message the clients never saw, which stays
// invisible until its visibility timeout ends.
func (h *QueueHistory) UnansweredDequeue(q string) bool {
	for _, i := range h.pending { //det:ordered any match answers
		if op := h.Ops[i].Op; op.Kind == queues.OpDequeue && op.Queue == q {
			return true
		}
	}
	return false
}

// Unacked returns, sorted by id, the acknowledged enqueues that no ack
// removed: no successful ack of one of their deliveries, and no ack of one
// still waiting for its answer. At the end of a drained run each must
// still be held by its queue's current group.
func (h *QueueHistory) Unacked() []QueueLost {
	waiting := map[receiptKey]bool{}
	for _, i := range h.pending { //det:ordered building a set
		if op := h.Ops[i].Op; op.Kind == queues.OpAck {
			waiting[receiptKey{queues.PlacementKey(op.Queue), op.Receipt}] = true
		}
	}
	var out []QueueLost
	for payload, f := range h.messages { //det:ordered sorted below
		if f.enqueued == 0 || f.ackedAt != 0 {
			continue
		}
		if slices.ContainsFunc(f.receipts, func(r uint64) bool { return waiting[receiptKey{queues.PlacementKey(f.queue), r}] }) {
			continue
		}
		out = append(out, QueueLost{Payload: payload, Queue: f.queue, ID: f.id, Enqueued: f.enqueued})
	}
	sortLost(out)
	return out
}

func sortLost(out []QueueLost) {
	slices.SortFunc(out, func(a, b QueueLost) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Payload, b.Payload)
	})
}

// QueueLost is an acknowledged enqueue that was never delivered.
type QueueLost struct {
	Payload  string
	Queue    string
	ID       uint64
	Enqueued time.Duration
}

// QueueCounts sums up a queue history.
type QueueCounts struct {
	Enqueued, Delivered, Redelivered, Acked, AckRefused uint64
}

// Counts sums up the history.
func (h *QueueHistory) Counts() QueueCounts {
	var c QueueCounts
	for _, op := range h.Ops {
		if !op.Done {
			continue
		}
		ok := op.Result.Status == queue.StatusOK
		switch op.Op.Kind {
		case queues.OpEnqueue:
			if ok {
				c.Enqueued++
			}
		case queues.OpDequeue:
			if ok && !op.Result.Gone && op.Result.Receipt != 0 {
				c.Delivered++
				if op.Result.Deliveries > 1 {
					c.Redelivered++
				}
			}
		case queues.OpAck:
			if ok {
				c.Acked++
			} else {
				c.AckRefused++
			}
		}
	}
	return c
}

// CheckFIFO checks that each queue served its first deliveries in enqueue
// order: ordered by receipt (the log order of the dequeues), the first
// deliveries of the messages a group enqueued itself carry increasing ids.
// Dead-letter queues (whose arrivals come in failure order) and messages a
// group imported from an older placement (delivered first, by design, even
// if a newer one slipped in before the import landed) are left out.
func (h *QueueHistory) CheckFIFO() error {
	type first struct{ receipt, id uint64 }
	byQueue := map[string][]first{}
	for _, op := range h.Ops {
		r := op.Result
		if !op.Done || op.Op.Kind != queues.OpDequeue || r.Status != queue.StatusOK || r.Deliveries != 1 ||
			strings.HasSuffix(op.Op.Queue, queue.DLQSuffix) || r.ID>>queue.IDIndexBits != r.Receipt>>queue.IDIndexBits {
			continue
		}
		k := fmt.Sprintf("%s@%d", op.Op.Queue, r.Receipt>>queue.IDIndexBits)
		byQueue[k] = append(byQueue[k], first{r.Receipt, r.ID})
	}
	keys := make([]string, 0, len(byQueue))
	for k := range byQueue { //det:ordered sorted below
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fs := byQueue[k]
		slices.SortFunc(fs, func(a, b first) int { return cmp.Compare(a.receipt, b.receipt) })
		for i := 1; i < len(fs); i++ {
			if fs[i].id <= fs[i-1].id {
				return fmt.Errorf("queue-safety: FIFO: in %s, message %d was first delivered (receipt %d) after message %d (receipt %d)",
					k, fs[i].id, fs[i].receipt, fs[i-1].id, fs[i-1].receipt)
			}
		}
	}
	return nil
}

// NewQueueHistory returns an empty queue history stamped by now (see
// NewHistory).
func NewQueueHistory(now func() time.Duration) *QueueHistory {
	h := newQueueHistory()
	h.now = now
	return h
}

// Violation returns the first queue-safety violation the history saw (a
// delivery after a successful ack), or nil.
func (h *QueueHistory) Violation() error { return h.violation }
