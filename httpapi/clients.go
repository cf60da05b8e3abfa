package httpapi

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/nodes/runtime"
)

// The server talks to its node as clients, the way a simulated client
// does: each request carries a client id and a sequence number, and the
// node answers that client. The server owns a pool of client ids
// ("http.<self>.<n>"); a client id is used by one request at a time (its
// turn), so its sequence numbers reach the node in order, as the
// services' exactly-once tables require.
//
// Sequence numbers are microseconds since seqEpoch, strictly increasing
// within the process: they keep growing across restarts of the server
// without any state on disk, and stay below 2^53, exact in any JSON
// parser.

// seqEpoch is the origin of generated sequence numbers.
var seqEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// poolPrefix starts every pool client id; a caller-supplied client id may
// not start with it.
const poolPrefix = "http."

// subscriptionBuffer bounds the messages waiting for a mailbox's
// dispatcher; the dispatcher hands each on without blocking.
const subscriptionBuffer = 256

// maxIdleMailboxes bounds the mailboxes kept subscribed while no request
// uses them, so that a client's next request (or the pool's) does not
// subscribe again; beyond it the least recently used is closed.
const maxIdleMailboxes = 1024

// maxOrphans bounds the messages a mailbox keeps for a waiter that has not
// registered yet (a Notify that follows its Reply at once).
const maxOrphans = 32

// errNodeStopped: the node's event loop ended while a request waited.
var errNodeStopped = errors.New("node stopped")

// seqSource hands out strictly increasing sequence numbers.
type seqSource struct {
	mu   sync.Mutex
	last uint64
}

func (s *seqSource) next() uint64 {
	now := uint64(max(time.Since(seqEpoch).Microseconds(), 1))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(now, s.last+1)
	return s.last
}

// msgKind tells apart the answers a mailbox routes.
type msgKind uint8

const (
	kindLockReply msgKind = iota + 1
	kindLockNotify
	kindLockQuery
	kindQueueReply
	kindCacheReply
)

// msgKey names the answer a request waits for: a reply by sequence
// number, a Notify by request index, a query reply by query id.
type msgKey struct {
	kind msgKind
	n    uint64
}

// keyOf returns the key of a message the node sent a client.
func keyOf(m nodes.Message) (msgKey, bool) {
	switch m := m.(type) {
	case *locks.Reply:
		return msgKey{kindLockReply, m.Seq}, true
	case *locks.Notify:
		return msgKey{kindLockNotify, m.Event.Request}, true
	case *locks.QueryReply:
		return msgKey{kindLockQuery, m.ID}, true
	case *queues.Reply:
		return msgKey{kindQueueReply, m.Seq}, true
	case *caches.Reply:
		return msgKey{kindCacheReply, m.Req}, true
	}
	return msgKey{}, false
}

// mailbox is one client id in use: its subscription to the node, the
// goroutine that routes what arrives to the waiting requests, and its
// turn.
type mailbox struct {
	id   nodes.NodeID
	sub  *runtime.Subscription
	turn chan struct{} // holds a token while a request's command is in flight

	mu      sync.Mutex
	refs    int           // guarded by clientSet.mu
	idle    *list.Element // in clientSet.idle while refs is 0; guarded by clientSet.mu
	waiters map[msgKey]chan nodes.Message
	orphans map[msgKey]nodes.Message
	order   []msgKey // orphans, oldest first
	dead    bool     // the subscription ended
}

// clientSet owns the server's mailboxes and its pool of client ids.
type clientSet struct {
	backend Backend
	pool    []nodes.NodeID
	next    atomic.Uint64
	seq     seqSource

	mu    sync.Mutex
	boxes map[nodes.NodeID]*mailbox // in use or idle
	idle  list.List                 // of the boxes no request uses, least recently used first
}

func newClientSet(b Backend, self nodes.NodeID, n int) *clientSet {
	c := &clientSet{backend: b, boxes: map[nodes.NodeID]*mailbox{}}
	for i := range n {
		c.pool = append(c.pool, nodes.NodeID(fmt.Sprintf("%s%s.%d", poolPrefix, self, i)))
	}
	return c
}

// isPoolID reports whether id is reserved for client pools.
func isPoolID(id string) bool { return strings.HasPrefix(id, poolPrefix) }

// open returns the mailbox of id, subscribing to the node if no request
// uses id yet. Every open is paired with a release.
func (c *clientSet) open(id nodes.NodeID) (*mailbox, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mb := c.boxes[id]; mb != nil {
		if !mb.isDead() {
			c.unidle(mb)
			mb.refs++
			return mb, nil
		}
		if mb.refs == 0 { // its node stopped while it was idle
			c.unidle(mb)
			delete(c.boxes, id)
		}
	}
	sub, err := c.backend.Subscribe(id, subscriptionBuffer)
	if err != nil {
		return nil, err
	}
	mb := &mailbox{id: id, sub: sub, turn: make(chan struct{}, 1), refs: 1,
		waiters: map[msgKey]chan nodes.Message{}, orphans: map[msgKey]nodes.Message{}}
	c.boxes[id] = mb
	go mb.dispatch()
	return mb, nil
}

// release drops a reference to mb; the last one makes it idle, kept
// subscribed for the client's next request (up to maxIdleMailboxes).
func (c *clientSet) release(mb *mailbox) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mb.refs--
	if mb.refs > 0 {
		return
	}
	if c.boxes[mb.id] != mb || mb.isDead() {
		mb.sub.Close() // ends the dispatcher
		if c.boxes[mb.id] == mb {
			delete(c.boxes, mb.id)
		}
		return
	}
	mb.idle = c.idle.PushBack(mb)
	for c.idle.Len() > maxIdleMailboxes {
		old := c.idle.Front().Value.(*mailbox)
		c.unidle(old)
		delete(c.boxes, old.id)
		old.sub.Close()
	}
}

// unidle takes mb out of the idle list, if it is there.
func (c *clientSet) unidle(mb *mailbox) {
	if mb.idle != nil {
		c.idle.Remove(mb.idle)
		mb.idle = nil
	}
}

// isDead reports whether mb's subscription ended.
func (mb *mailbox) isDead() bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.dead
}

// pooled returns a mailbox of the pool with its turn held: a free one if
// any, else the next in round-robin order once it is free.
func (c *clientSet) pooled(ctx context.Context) (*mailbox, error) {
	start := c.next.Add(1)
	for i := range uint64(len(c.pool)) {
		mb, err := c.open(c.pool[(start+i)%uint64(len(c.pool))])
		if err != nil {
			return nil, err
		}
		if mb.tryLock() {
			return mb, nil
		}
		c.release(mb)
	}
	return c.locked(ctx, c.pool[start%uint64(len(c.pool))])
}

// locked returns the mailbox of id with its turn held.
func (c *clientSet) locked(ctx context.Context, id nodes.NodeID) (*mailbox, error) {
	mb, err := c.open(id)
	if err != nil {
		return nil, err
	}
	if err := mb.lock(ctx); err != nil {
		c.release(mb)
		return nil, err
	}
	return mb, nil
}

// done gives up mb's turn, if held, and the reference.
func (c *clientSet) done(mb *mailbox, held bool) {
	if held {
		mb.unlock()
	}
	c.release(mb)
}

func (mb *mailbox) tryLock() bool {
	select {
	case mb.turn <- struct{}{}:
		return true
	default:
		return false
	}
}

func (mb *mailbox) lock(ctx context.Context) error {
	select {
	case mb.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (mb *mailbox) unlock() { <-mb.turn }

// dispatch routes every message of the subscription to its waiter, or
// keeps it a while for a waiter to come. When the subscription ends, every
// waiter is woken with a closed channel.
func (mb *mailbox) dispatch() {
	for m := range mb.sub.C() {
		key, ok := keyOf(m)
		if !ok {
			continue
		}
		mb.mu.Lock()
		if w := mb.waiters[key]; w != nil {
			delete(mb.waiters, key)
			w <- m // buffered, one message per waiter: never blocks
		} else {
			mb.keep(key, m)
		}
		mb.mu.Unlock()
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.dead = true
	for key, w := range mb.waiters {
		delete(mb.waiters, key)
		close(w)
	}
}

// keep stores an unclaimed message, forgetting the oldest beyond
// maxOrphans.
func (mb *mailbox) keep(key msgKey, m nodes.Message) {
	if _, dup := mb.orphans[key]; !dup {
		mb.order = append(mb.order, key)
	}
	mb.orphans[key] = m
	for len(mb.order) > maxOrphans {
		delete(mb.orphans, mb.order[0])
		mb.order = mb.order[1:]
	}
}

// expect registers interest in the message named key and returns the
// channel it will arrive on (closed if the subscription ends first).
func (mb *mailbox) expect(key msgKey) chan nodes.Message {
	w := make(chan nodes.Message, 1)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	switch m, ok := mb.orphans[key]; {
	case ok:
		delete(mb.orphans, key)
		w <- m
	case mb.dead:
		close(w)
	default:
		mb.waiters[key] = w
	}
	return w
}

// forget withdraws interest in key.
func (mb *mailbox) forget(key msgKey) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	delete(mb.waiters, key)
}

// call sends m as mb's client and waits, within ctx, for the answer named
// key.
func (mb *mailbox) call(ctx context.Context, key msgKey, m nodes.Message) (nodes.Message, error) {
	w := mb.expect(key)
	defer mb.forget(key)
	if err := mb.sub.Send(ctx, m); err != nil {
		return nil, err
	}
	return await(ctx, w)
}

// await waits for the answer on w.
func await(ctx context.Context, w chan nodes.Message) (nodes.Message, error) {
	select {
	case m, ok := <-w:
		if !ok {
			return nil, errNodeStopped
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
