package lockmgr

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/protocols/deadlock"
)

// Manager is the lock table state machine. It is applied from the Raft log:
// Apply must be called with strictly increasing log indexes, and replicas
// that apply the same commands at the same indexes hold byte-identical state
// (Snapshot). It never reads a clock and never iterates a map in an order
// that reaches an output.
//
// A Manager is not safe for concurrent use; the node's event loop owns it.
type Manager struct {
	// checkSorted makes CheckInvariants walk maps in sorted order (its
	// second, deterministic pass).
	checkSorted bool

	cfg       Config
	lastIndex uint64

	resources map[Resource]*resource
	sessions  map[SessionID]*session
	clients   map[ClientID]*client
	idle      idleList
	graph     *deadlock.Graph
	stats     Stats

	// Per-Apply state.
	events        []Event
	index         uint64     // the index being applied
	current       uint64     // the request index of the Acquire being applied, else 0
	currentResult *Result    // how that Acquire's wait ended during this Apply, if it did
	dirty         []Resource // resources to settle, in the order they changed
	dirtySet      map[Resource]bool
	suspects      []SessionID // waiters whose new edges closed a cycle
	scratch       []deadlock.OwnerID
}

// session is a live session.
type session struct {
	client  ClientID
	ttl     time.Duration
	renewed uint64     // index of the OpenSession or the last KeepAlive
	held    []Resource // the resources it holds, sorted
	waitRes Resource   // the resource it waits for, "" if none
}

// client is the exactly-once entry of a client.
type client struct {
	id        ClientID
	lastSeq   uint64
	lastIndex uint64 // index at which lastSeq was applied
	result    Result // the Result of lastSeq, updated when its wait ends
	sessions  int    // live sessions; 0 means idle
	touched   uint64 // last index that used or idled the client: the LRU order
	prev      *client
	next      *client
}

// New returns an empty lock table bounded by cfg (zero fields take their
// defaults; a negative bound panics).
func New(cfg Config) *Manager {
	return &Manager{
		cfg:       cfg.withDefaults(),
		resources: make(map[Resource]*resource),
		sessions:  make(map[SessionID]*session),
		clients:   make(map[ClientID]*client),
		graph:     deadlock.New(),
		dirtySet:  make(map[Resource]bool),
	}
}

// Config returns the bounds in force, defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// LastApplied returns the index of the last applied command (0 before the
// first).
func (m *Manager) LastApplied() uint64 { return m.lastIndex }

// Apply applies cmd, the entry at log index index, and returns its Result.
// Waits that end during the apply (grants to waiters behind a released
// lock, aborted waits) are reported by Events until the next Apply.
//
// index must be larger than every index applied before, and below 1<<63
// (panic otherwise): session ids and fencing tokens are log indexes, and
// their order is what makes tokens increase.
func (m *Manager) Apply(index uint64, cmd Command) Result {
	if index <= m.lastIndex {
		panic(fmt.Sprintf("lockmgr: apply index %d not after last applied index %d", index, m.lastIndex))
	}
	if index >= exclusiveBit {
		panic(fmt.Sprintf("lockmgr: apply index %d is not below 1<<63", index))
	}
	m.lastIndex = index
	m.index = index
	m.events = m.events[:0]
	m.current, m.currentResult = 0, nil
	res := m.dispatch(cmd)
	if len(m.dirty) != 0 || len(m.suspects) != 0 {
		panic(fmt.Sprintf("lockmgr: apply %d left %d dirty resources and %d suspects", index, len(m.dirty), len(m.suspects)))
	}
	return res
}

// Events returns the asynchronous events of the last Apply, in the order
// they happened. The slice belongs to the Manager and is reused by the next
// Apply; copy it to keep it.
func (m *Manager) Events() []Event { return m.events }

// dispatch applies one command.
func (m *Manager) dispatch(cmd Command) Result {
	switch c := cmd.(type) {
	case OpenSession:
		return m.clientCommand("OpenSession", c.Client, c.Seq, func() Result { return m.openSession(c) })
	case KeepAlive:
		return m.clientCommand("KeepAlive", c.Client, c.Seq, func() Result { return m.keepAlive(c) })
	case CloseSession:
		return m.clientCommand("CloseSession", c.Client, c.Seq, func() Result { return m.closeSession(c) })
	case Acquire:
		return m.clientCommand("Acquire", c.Client, c.Seq, func() Result { return m.acquire(c) })
	case Release:
		return m.clientCommand("Release", c.Client, c.Seq, func() Result { return m.release(c) })
	case CancelWait:
		return m.cancelWait(c)
	case ExpireSession:
		return m.expireSession(c)
	}
	panic(fmt.Sprintf("lockmgr: apply %d: unknown command type %T", m.index, cmd))
}

// rejected returns a Rejected result carrying err.
func rejected(err *Error) Result { return Result{Status: StatusRejected, Err: err} }

// clientCommand applies a client command exactly once: a repeat of the
// client's last sequence number returns the cached Result, an older one is
// rejected with ErrStaleSequence, a newer one is applied and its Result
// cached.
func (m *Manager) clientCommand(name string, id ClientID, seq uint64, apply func() Result) Result {
	if err := validateClient(name, id, seq); err != nil {
		return rejected(err)
	}
	c := m.clients[id]
	if c != nil && seq == c.lastSeq {
		return c.result
	}
	if c != nil && seq < c.lastSeq {
		return rejected(fieldError(ErrStaleSequence, name, "Seq", seq, fmt.Sprintf("last applied is %d", c.lastSeq)))
	}
	if c == nil {
		c = &client{id: id}
		m.clients[id] = c
		m.idle.pushBack(c, m.index)
	}
	res := apply()
	c.lastSeq, c.lastIndex, c.result = seq, m.index, res
	if c.sessions == 0 {
		m.idle.touch(c, m.index)
	}
	c.touched = m.index
	m.evictIdle()
	return res
}

// evictIdle drops the least recently used idle clients beyond the bound.
func (m *Manager) evictIdle() {
	for m.idle.len > m.cfg.MaxIdleClients {
		c := m.idle.head
		m.idle.remove(c)
		delete(m.clients, c.id)
	}
}

// clientGained and clientLost keep a client's live-session count and its
// place in the idle list.
func (m *Manager) clientGained(id ClientID) {
	c := m.clients[id]
	if c.sessions == 0 {
		m.idle.remove(c)
	}
	c.sessions++
}

func (m *Manager) clientLost(id ClientID) {
	c := m.clients[id]
	if c == nil || c.sessions <= 0 {
		panic(fmt.Sprintf("lockmgr: apply %d: client %q loses a session it does not have", m.index, id))
	}
	c.sessions--
	if c.sessions == 0 {
		m.idle.pushBack(c, m.index)
		m.evictIdle()
	}
}

// idleList is the intrusive list of clients without live sessions, least
// recently touched first.
type idleList struct {
	head, tail *client
	len        int
}

func (l *idleList) pushBack(c *client, index uint64) {
	c.touched = index
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.len++
}

func (l *idleList) remove(c *client) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.len--
}

// touch moves an idle client to the back.
func (l *idleList) touch(c *client, index uint64) {
	l.remove(c)
	l.pushBack(c, index)
}
