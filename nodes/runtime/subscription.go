package runtime

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// Subscription is a local client of a Host: an id that is not a peer, whose
// messages from the node arrive on a bounded channel instead of the
// network. An HTTP front end subscribes once per client id it uses and
// reads every reply and notification the node sends that id.
type Subscription struct {
	h       *Host
	client  nodes.NodeID
	ch      chan nodes.Message // closed, under h.clientsMu, by Close or when the loop ends
	once    bool               // Request's: unsubscribed by its first message
	closed  bool               // guarded by h.clientsMu
	dropped atomic.Uint64
}

// maxSubscriptionBuffer bounds Subscribe's buffer, like the other queues.
const maxSubscriptionBuffer = maxQueue

// Subscribe registers client (a valid id that is not a peer) as a local
// client: every message the node sends to it is put on the subscription's
// channel (buffer bounded, 1..1<<20; when full, messages are dropped and
// counted in Stats.DroppedQueueFull and Subscription.Dropped). One
// subscription per client at a time; Close ends it. The channel is closed
// by Close and when the node's event loop ends (messages already on it can
// still be read).
func (h *Host) Subscribe(client nodes.NodeID, buffer int) (*Subscription, error) {
	if buffer < 1 || buffer > maxSubscriptionBuffer {
		return nil, fmt.Errorf("runtime: node %s: subscribe %s: buffer %d outside [1, %d]", h.s.ID, client, buffer, maxSubscriptionBuffer)
	}
	return h.subscribe(client, buffer, false)
}

func (h *Host) subscribe(client nodes.NodeID, buffer int, once bool) (*Subscription, error) {
	if err := client.Validate(); err != nil {
		return nil, fmt.Errorf("runtime: node %s: client: %w", h.s.ID, err)
	}
	if _, isPeer := h.s.Peers[client]; isPeer {
		return nil, fmt.Errorf("runtime: node %s: client %q is a peer id", h.s.ID, client)
	}
	sub := &Subscription{h: h, client: client, ch: make(chan nodes.Message, buffer), once: once}
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	if h.subsClosed {
		return nil, h.stoppedErr()
	}
	if _, busy := h.clients[client]; busy {
		return nil, fmt.Errorf("runtime: node %s: client %s already has a subscription or a request pending", h.s.ID, client)
	}
	h.clients[client] = sub
	return sub, nil
}

// C returns the channel of the messages the node sent to the client.
func (s *Subscription) C() <-chan nodes.Message { return s.ch }

// Client returns the subscribed client id.
func (s *Subscription) Client() nodes.NodeID { return s.client }

// Dropped returns how many messages to the client were dropped because
// the channel was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Send delivers m to the node as sent by the subscription's client
// (through the codec, like Request), and returns once the node's handler
// has run. If ctx ends before the handler starts, m is not delivered.
func (s *Subscription) Send(ctx context.Context, m nodes.Message) error {
	h := s.h
	if m == nil {
		return fmt.Errorf("runtime: node %s: request from %s: nil message", h.s.ID, s.client)
	}
	h.clientsMu.Lock()
	closed := s.closed
	h.clientsMu.Unlock()
	if closed {
		return fmt.Errorf("runtime: node %s: send from %s: subscription closed", h.s.ID, s.client)
	}
	in, err := nodes.RoundTrip(m, &wire.Encoder{})
	if err != nil {
		return fmt.Errorf("runtime: node %s: request from %s: %w", h.s.ID, s.client, err)
	}
	return h.do(ctx, "receive from client", func(n nodes.Node, _ nodes.Env) { n.Receive(s.client, in) })
}

// Close ends the subscription: later messages to the client are dropped
// (DroppedUnknownDest) and the channel is closed. Close is idempotent.
func (s *Subscription) Close() {
	h := s.h
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	if h.clients[s.client] == s {
		delete(h.clients, s.client)
	}
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// toSubscriber delivers a copy of m to client to's subscription, if it has
// one; it reports whether it has. Called on the loop; the lock is held
// across the codec round trip so that Close cannot race the delivery.
func (h *Host) toSubscriber(to nodes.NodeID, m nodes.Message) bool {
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	sub := h.clients[to]
	if sub == nil {
		return false
	}
	if sub.once {
		delete(h.clients, to)
	}
	out, err := nodes.RoundTrip(m, &wire.Encoder{}) // a fresh buffer: the copy may alias it
	if err != nil {
		h.c.decodeErrors.Add(1)
		h.s.logger.Error("message to a local client failed its codec round trip", "to", string(to), "err", err)
		return true
	}
	select {
	case sub.ch <- out:
		h.c.replies.Add(1)
	default: // full: never block the loop
		sub.dropped.Add(1)
		h.c.droppedQueueFull.Add(1)
	}
	return true
}

// closeSubscriptions closes every subscription when the loop ends, so
// that readers of their channels stop, and refuses new ones.
func (h *Host) closeSubscriptions() {
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	h.subsClosed = true
	for id, sub := range h.clients {
		delete(h.clients, id)
		if !sub.closed {
			sub.closed = true
			close(sub.ch)
		}
	}
}
