package queue

import (
	"fmt"
	"math"
	"strings"
)

// Manager is the state machine of one queue partition. Apply must be called
// with strictly increasing log indexes; replicas that apply the same
// commands at the same indexes hold byte-identical state (Snapshot).
//
// A Manager is not safe for concurrent use; the node's event loop owns it.
type Manager struct {
	cfg       Config
	lastIndex uint64
	index     uint64 // the index being applied

	queues   map[string]*queue
	receipts map[uint64]*message // in-flight deliveries by receipt
	inflight msgHeap             // in-flight messages by (deadline, receipt)
	imported map[uint64]*message // messages here by Import (id prefix below cfg.IDPrefix), by id
	clients  map[ClientID]*client
	lru      clientList // the clients by (lastIndex, id): eviction order
	dedup    map[dedupKey]dedupEntry
	dedupAge dedupHeap // dedup entries by (at, id), for expiry

	sealed    bool
	sealEpoch uint64
	sources   map[string]*importSource
	finished  []*importSource // finished sources by (finishedAt, name): forgetting order

	lastTickIndex uint64 // index of the last Tick
	lastTickNow   int64  // its Now
	stats         Stats

	export *exportPlan // Export's cache; derived from the sealed state, not in the snapshot
}

// queue is one named queue: its ready messages, in id order, are the merge
// of fresh (never-delivered messages, appended in id order) and retry (a
// min-heap by id of messages made ready again, and dead-lettered arrivals).
type queue struct {
	name     string
	fresh    []*message
	head     int // fresh[:head] are consumed
	retry    msgHeap
	inflight int
}

// message is one message; it is either ready in its queue or in flight.
type message struct {
	id         uint64
	q          *queue
	payload    []byte
	deadline   int64  // in flight: visibility deadline
	receipt    uint64 // in flight: the current delivery's receipt, else 0
	deliveries uint32
	hidx       int32 // index in the heap that holds it, -1 if none
}

type dedupKey struct {
	queue, id string
}

type dedupEntry struct {
	id uint64
	at int64
}

// New returns an empty partition bounded by cfg (zero fields take their
// defaults; an impossible bound panics).
func New(cfg Config) *Manager {
	return &Manager{
		cfg:      cfg.withDefaults(),
		queues:   make(map[string]*queue),
		receipts: make(map[uint64]*message),
		inflight: msgHeap{less: byDeadline},
		imported: make(map[uint64]*message),
		clients:  make(map[ClientID]*client),
		dedup:    make(map[dedupKey]dedupEntry),
		sources:  make(map[string]*importSource),
	}
}

// Config returns the bounds in force, defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// LastApplied returns the index of the last applied command.
func (m *Manager) LastApplied() uint64 { return m.lastIndex }

// Apply applies cmd, the entry at log index index, and returns its Result.
// index must be larger than every index applied before and at most
// MaxLogIndex (panic otherwise).
func (m *Manager) Apply(index uint64, cmd Command) Result {
	if index <= m.lastIndex || index > MaxLogIndex {
		panic(fmt.Sprintf("queue: apply index %d not after last applied index %d or above %d", index, m.lastIndex, uint64(MaxLogIndex)))
	}
	m.lastIndex, m.index = index, index
	switch c := cmd.(type) {
	case Enqueue:
		return m.clientCommand("Enqueue", c.Client, c.Seq, func() Result { return m.enqueue(c) })
	case Dequeue:
		return m.clientCommand("Dequeue", c.Client, c.Seq, func() Result { return m.dequeue(c) })
	case Ack:
		return m.clientCommand("Ack", c.Client, c.Seq, func() Result { return m.ack(c.Receipt) })
	case Nack:
		return m.clientCommand("Nack", c.Client, c.Seq, func() Result { return m.nack(c.Receipt) })
	case Tick:
		return m.tick(c.Now)
	case Seal:
		return m.seal(c.Epoch)
	case Import:
		return m.importChunk(c)
	}
	panic(fmt.Sprintf("queue: apply %d: unknown command type %T", index, cmd))
}

func rejected(err *Error) Result { return Result{Status: StatusRejected, Err: err} }

// clientCommand applies a client command exactly once per (client, seq),
// unless the client was evicted from the table since. After a Seal, a new
// command is rejected with ErrMoved and the table is left as it is.
func (m *Manager) clientCommand(name string, id ClientID, seq uint64, apply func() Result) Result {
	if id == "" || len(id) > MaxNameBytes {
		return rejected(fieldError(ErrInvalidClient, name, "Client", fmt.Sprintf("%q", id), fmt.Sprintf("want 1..%d bytes", MaxNameBytes)))
	}
	if seq == 0 {
		return rejected(fieldError(ErrInvalidSeq, name, "Seq", seq, "sequence numbers start at 1"))
	}
	c := m.clients[id]
	if c != nil && seq == c.lastSeq {
		return m.cachedResult(c)
	}
	if c != nil && seq < c.lastSeq {
		return rejected(fieldError(ErrStaleSequence, name, "Seq", seq, fmt.Sprintf("last applied is %d", c.lastSeq)))
	}
	if m.sealed {
		return rejected(movedError(name, m.sealEpoch))
	}
	res := apply()
	m.setClient(id, seq, res)
	return res
}

// newID returns the id (or receipt) made at the index being applied.
func (m *Manager) newID() uint64 { return MakeID(m.cfg.IDPrefix, m.index) }

// isImported reports whether id was made by an older placement's group.
func (m *Manager) isImported(id uint64) bool {
	p, _ := splitID(id)
	return p < m.cfg.IDPrefix
}

// validQueue checks a queue name.
func validQueue(cmd, name string) *Error {
	if name == "" || len(name) > MaxNameBytes {
		return fieldError(ErrInvalidQueue, cmd, "Queue", fmt.Sprintf("%q", truncate(name)), fmt.Sprintf("%d bytes, want 1..%d", len(name), MaxNameBytes))
	}
	return nil
}

// truncate shortens a value quoted in an error message.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func (m *Manager) enqueue(c Enqueue) Result {
	if err := validQueue("Enqueue", c.Queue); err != nil {
		return rejected(err)
	}
	if len(c.Payload) > m.cfg.MaxPayload {
		return rejected(fieldError(ErrPayloadTooLarge, "Enqueue", "Payload", fmt.Sprintf("%d bytes", len(c.Payload)), fmt.Sprintf("max %d", m.cfg.MaxPayload)))
	}
	if len(c.DedupID) > MaxNameBytes {
		return rejected(fieldError(ErrInvalidDedupID, "Enqueue", "DedupID", fmt.Sprintf("%d bytes", len(c.DedupID)), fmt.Sprintf("max %d", MaxNameBytes)))
	}
	if c.DedupID != "" {
		k := dedupKey{c.Queue, c.DedupID}
		if e, ok := m.dedup[k]; ok && c.Now-e.at < int64(m.cfg.DedupWindow) {
			m.stats.DedupHits++
			return Result{Status: StatusOK, ID: e.id, Duplicate: true}
		}
	}
	if err := m.checkRoom(c); err != nil {
		return rejected(err)
	}
	if c.DedupID != "" {
		k := dedupKey{c.Queue, c.DedupID}
		m.dedup[k] = dedupEntry{id: m.newID(), at: c.Now}
		m.dedupAge.push(dedupItem{key: k, dedupEntry: m.dedup[k]})
	}
	q := m.queue(c.Queue)
	var payload []byte
	if len(c.Payload) > 0 {
		payload = append(make([]byte, 0, len(c.Payload)), c.Payload...)
	}
	q.fresh = append(q.fresh, &message{id: m.newID(), q: q, payload: payload, hidx: -1})
	m.stats.Enqueued++
	m.stats.Ready++
	m.stats.Bytes += uint64(len(payload))
	return Result{Status: StatusOK, ID: m.newID()}
}

// checkRoom rejects an Enqueue that would take the partition above
// Config.MaxMessages messages or Config.MaxBytes payload bytes.
func (m *Manager) checkRoom(c Enqueue) *Error {
	if held := m.stats.Ready + m.stats.InFlight; held >= uint64(m.cfg.MaxMessages) {
		return fieldError(ErrQueueFull, "Enqueue", "Queue", fmt.Sprintf("%q", truncate(c.Queue)),
			fmt.Sprintf("the partition holds %d messages, max %d (Config.MaxMessages)", held, m.cfg.MaxMessages))
	}
	if n := uint64(len(c.Payload)); m.stats.Bytes+n > uint64(m.cfg.MaxBytes) {
		return fieldError(ErrQueueFull, "Enqueue", "Payload", fmt.Sprintf("%d bytes", n),
			fmt.Sprintf("the partition holds %d bytes, max %d (Config.MaxBytes)", m.stats.Bytes, m.cfg.MaxBytes))
	}
	return nil
}

// queue returns the named queue, creating it.
func (m *Manager) queue(name string) *queue {
	q := m.queues[name]
	if q == nil {
		q = &queue{name: name, retry: msgHeap{less: byID}}
		m.queues[name] = q
	}
	return q
}

// dropIfEmpty forgets a queue with no messages.
func (m *Manager) dropIfEmpty(q *queue) {
	if q.ready() == 0 && q.inflight == 0 {
		delete(m.queues, q.name)
	}
}

func (q *queue) ready() int { return len(q.fresh) - q.head + q.retry.Len() }

// popReady removes and returns the ready message with the smallest id.
func (q *queue) popReady() *message {
	var f *message
	if q.head < len(q.fresh) {
		f = q.fresh[q.head]
	}
	if q.retry.Len() > 0 && (f == nil || q.retry.items[0].id < f.id) {
		return q.retry.remove(0)
	}
	if f == nil {
		return nil
	}
	q.fresh[q.head] = nil
	q.head++
	if q.head == len(q.fresh) {
		q.fresh, q.head = q.fresh[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.fresh) {
		n := copy(q.fresh, q.fresh[q.head:])
		clear(q.fresh[n:])
		q.fresh, q.head = q.fresh[:n], 0
	}
	return f
}

func (m *Manager) dequeue(c Dequeue) Result {
	if err := validQueue("Dequeue", c.Queue); err != nil {
		return rejected(err)
	}
	if c.Visibility <= 0 || c.Visibility > MaxVisibility {
		return rejected(fieldError(ErrInvalidVisibility, "Dequeue", "Visibility", c.Visibility, fmt.Sprintf("want (0, %v]", MaxVisibility)))
	}
	q := m.queues[c.Queue]
	if q == nil || q.ready() == 0 {
		return Result{Status: StatusEmpty}
	}
	msg := q.popReady()
	if msg.deliveries < math.MaxUint32 {
		msg.deliveries++
	}
	msg.receipt = m.newID()
	msg.deadline = c.Now + int64(c.Visibility)
	m.receipts[msg.receipt] = msg
	m.inflight.push(msg)
	q.inflight++
	m.stats.Ready--
	m.stats.InFlight++
	m.stats.Delivered++
	if msg.deliveries > 1 {
		m.stats.Redelivered++
	}
	return Result{Status: StatusOK, ID: msg.id, Receipt: msg.receipt, Deliveries: msg.deliveries, Payload: msg.payload}
}

// takeInFlight removes the delivery under receipt from flight.
func (m *Manager) takeInFlight(receipt uint64) *message {
	msg := m.receipts[receipt]
	if msg == nil {
		return nil
	}
	delete(m.receipts, receipt)
	m.inflight.remove(int(msg.hidx))
	msg.receipt, msg.deadline = 0, 0
	msg.q.inflight--
	m.stats.InFlight--
	return msg
}

func (m *Manager) ack(receipt uint64) Result {
	msg := m.takeInFlight(receipt)
	if msg == nil {
		return rejected(fieldError(ErrUnknownReceipt, "Ack", "Receipt", receipt, "no delivery in flight holds it"))
	}
	m.stats.Acked++
	m.stats.Bytes -= uint64(len(msg.payload))
	if m.isImported(msg.id) {
		delete(m.imported, msg.id)
	}
	m.dropIfEmpty(msg.q)
	return Result{Status: StatusOK, ID: msg.id}
}

func (m *Manager) nack(receipt uint64) Result {
	msg := m.takeInFlight(receipt)
	if msg == nil {
		return rejected(fieldError(ErrUnknownReceipt, "Nack", "Receipt", receipt, "no delivery in flight holds it"))
	}
	m.release(msg)
	return Result{Status: StatusOK, ID: msg.id}
}

// release makes a message taken out of flight ready again, or moves it to
// its queue's DLQ once it has had MaxDeliveries deliveries.
func (m *Manager) release(msg *message) {
	q := msg.q
	if msg.deliveries >= m.cfg.MaxDeliveries && deadLetters(q.name) {
		m.stats.DeadLettered++
		m.stats.Enqueued++
		dlq := m.queue(q.name + DLQSuffix)
		msg.q, msg.deliveries = dlq, 0
		dlq.retry.push(msg)
		m.dropIfEmpty(q)
	} else {
		q.retry.push(msg)
	}
	m.stats.Ready++
}

// deadLetters reports whether a queue has a dead-letter queue: not a DLQ
// itself, and short enough for its DLQ's name to be a valid name.
func deadLetters(name string) bool {
	return !strings.HasSuffix(name, DLQSuffix) && len(name)+len(DLQSuffix) <= MaxNameBytes
}

// tick expires every delivery whose deadline is <= now, in (deadline,
// receipt) order, and forgets dedup entries older than the window. A
// sealed partition stays as it is.
func (m *Manager) tick(now int64) Result {
	if m.sealed {
		return Result{Status: StatusOK}
	}
	m.lastTickIndex, m.lastTickNow = m.index, now
	for m.inflight.Len() > 0 && m.inflight.items[0].deadline <= now {
		msg := m.takeInFlight(m.inflight.items[0].receipt)
		m.stats.Expired++
		m.release(msg)
	}
	for m.dedupAge.Len() > 0 && now-m.dedupAge.items[0].at >= int64(m.cfg.DedupWindow) {
		it := m.dedupAge.pop()
		if e, ok := m.dedup[it.key]; ok && e.id == it.id {
			delete(m.dedup, it.key)
		}
	}
	return Result{Status: StatusOK}
}
