// Package reliable turns an unreliable datagram service (one that loses,
// duplicates, reorders and delays packets, between nodes that crash and
// restart) into reliable, per-pair FIFO, exactly-once streams between node
// incarnations, for protocols (such as the MESI directory) that assume
// them.
//
// It is pure logic in the style of the protocol cores: no timers, no I/O.
// The caller feeds it what happens (Send, Receive, Tick, each with the
// current virtual time) and transmits the packets it returns.
//
// # Use
//
//	ep, err := reliable.New(reliable.Config{Self: "n1", Epoch: bootCount, RTO: 50 * time.Millisecond})
//	pkts, err := ep.Send("n2", msg, now)            // transmit pkts (EncodePacket)
//	del, pkts, reset := ep.Receive(pkt, now)         // on every packet that arrives
//	if reset { /* pkt.From restarted: tell the protocol, first */ }
//	for _, d := range del { /* hand d.Payload to the protocol */ }
//	pkts = ep.Tick(now)                              // when Deadline says, or every RTO/4
//
// # Streams and incarnations
//
// Each Endpoint is one incarnation of a node: Config.Epoch numbers it, and
// must grow from one incarnation to the next. A crash is modelled by
// dropping the Endpoint and making a new one with a greater Epoch; no state
// survives.
//
// For each peer, an Endpoint keeps the highest epoch it has seen from it
// (any packet carries its sender's epoch). A stream runs from one
// incarnation of the sender to one incarnation of the receiver; its data
// packets are numbered from 1 and name both epochs, and the receiver
// delivers them exactly once, in order, with no gap:
//
//   - A data packet carries the epoch of the receiver it was sent to, so
//     before an Endpoint knows the peer's epoch it cannot send data: Send
//     queues the payload and sends a probe (Seq 0, DstEpoch 0); the peer
//     answers with an ack, or with data of its own, and the queued
//     payloads go out. Without this handshake a payload sent "to whoever
//     is there" could be delivered to two incarnations.
//   - A packet from an epoch lower than the one known is dropped.
//   - A packet from a higher epoch than the one known means the peer
//     restarted: the stream state both ways is reset (unacknowledged and
//     queued payloads for the old incarnation are discarded, not sent to
//     the new one; early packets held from the old one are dropped), and
//     Receive reports reset = true, once per new epoch. The protocol
//     above decides what to send again. Learning a peer's first epoch is
//     not a reset.
//   - A packet addressed to another incarnation of this node (DstEpoch
//     not 0 and not Config.Epoch) was meant for a previous one: it is
//     dropped, and, if it carried data, answered with an ack, which tells
//     the sender about this incarnation so that it resets and stops
//     retransmitting into the void.
//
// # Acknowledgements and retransmission
//
// Acks are cumulative (Packet.Ack). Every data packet carries one (the
// ack is piggybacked); a data packet that arrives (new, duplicate or
// early) makes an ack due AckDelay later, and Tick sends a pure ack for
// it unless a data packet to that peer went out in the meantime. Probes
// and stale data are answered at once, from Receive.
//
// At most MaxInflight data packets per peer are unacknowledged; more
// payloads wait in a queue of at most MaxQueued (then Send returns
// ErrBackpressure) and go out as acks make room. A data packet
// unacknowledged for RTO is sent again by Tick, with its timeout doubled
// each time up to 8*RTO; an ack that makes progress brings the others
// back to RTO, since the peer is evidently there. The receiver keeps up
// to MaxBuffered early packets (the nearest to the gap) and drops the
// rest, which the sender retransmits.
//
// # Bounds
//
// Memory is bounded by MaxPeers peers, each with MaxInflight + MaxQueued +
// MaxBuffered payloads of at most MaxPayload bytes. Peers are never
// forgotten: forgetting a peer's epoch would let its old incarnation's
// packets through.
//
// # Determinism
//
// Output depends only on the inputs: Tick visits peers in NodeID order.
// Time is the caller's; if now goes back, the latest time seen is used.
package reliable

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrBackpressure is returned (wrapped) by Send when MaxQueued payloads
// already wait for the peer. The payload was not accepted; try again
// after acks arrive (Receive) or drop it.
var ErrBackpressure = errors.New("reliable: send queue full")

// ErrTooManyPeers is returned (wrapped) by Send to a new peer when the
// Endpoint already keeps MaxPeers peers.
var ErrTooManyPeers = errors.New("reliable: too many peers")

// Delivery is one payload delivered by Receive.
type Delivery struct {
	// From is the peer that sent the payload.
	From NodeID
	// Payload is the message, as given to the peer's Send. It may alias
	// the Payload of the Packet handed to Receive.
	Payload []byte
}

// Stats counts what an Endpoint did since New.
type Stats struct {
	// Sent counts data packets transmitted for the first time.
	Sent uint64
	// Retransmitted counts data packets transmitted again by Tick.
	Retransmitted uint64
	// Delivered counts payloads returned by Receive.
	Delivered uint64
	// Duplicates counts data packets dropped because they were already
	// delivered or held.
	Duplicates uint64
	// Buffered counts early data packets held until the gap before them
	// fills.
	Buffered uint64
	// Overflow counts early data packets dropped (or evicted) because
	// MaxBuffered were held.
	Overflow uint64
	// Acks counts pure acks sent.
	Acks uint64
	// Probes counts probes sent.
	Probes uint64
	// Resets counts peer restarts detected.
	Resets uint64
	// Discarded counts payloads dropped unacknowledged (sent or queued)
	// because their peer restarted.
	Discarded uint64
	// Stale counts packets dropped because they came from an older
	// incarnation of their sender or were meant for an older incarnation
	// of this node.
	Stale uint64
	// Invalid counts packets dropped because they were malformed
	// (Packet.Validate), not addressed to Self, from Self, over
	// MaxPayload, or acknowledging data never sent.
	Invalid uint64
	// Refused counts packets dropped because they came from a new peer
	// while MaxPeers were known.
	Refused uint64
}

// Endpoint is one incarnation of a node's end of the reliable streams to
// all its peers. It is not safe for concurrent use; node code never needs
// that.
type Endpoint struct {
	cfg   Config
	peers map[NodeID]*peer
	// order holds the keys of peers, sorted, so that iteration over the
	// peers is deterministic.
	order []NodeID
	// now is the latest time the caller passed in.
	now   time.Duration
	stats Stats
	// discarded holds what resets threw away, until TakeDiscarded.
	discarded []Discarded
}

// Discarded is a payload a reset threw away: sent or queued to a peer's
// previous incarnation and never acknowledged.
type Discarded struct {
	To      NodeID
	Payload []byte
}

// TakeDiscarded returns, in the order they were sent, and forgets the
// payloads the resets since the last call threw away. They are never
// resent to the new incarnation by the endpoint; the caller may send again
// those that still mean something to it (answers to the new incarnation's
// own requests, say). At most MaxInflight+MaxQueued of them are kept: the
// latest.
func (e *Endpoint) TakeDiscarded() []Discarded {
	d := e.discarded
	e.discarded = nil
	return d
}

// New returns the Endpoint for the incarnation cfg.Epoch of cfg.Self. The
// error names the first Config field that is out of range.
func New(cfg Config) (*Endpoint, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Endpoint{cfg: cfg, peers: map[NodeID]*peer{}}, nil
}

// Config returns the configuration in use, defaults filled in.
func (e *Endpoint) Config() Config { return e.cfg }

// Stats returns the counters.
func (e *Endpoint) Stats() Stats { return e.stats }

// PeerEpoch returns the incarnation of the peer that this Endpoint's
// streams to and from it belong to: the highest epoch seen from it, or 0
// if none yet.
func (e *Endpoint) PeerEpoch(id NodeID) uint64 {
	if p := e.peers[id]; p != nil {
		return p.epoch
	}
	return 0
}

// Pending returns how many payloads Sent to the peer are not yet
// acknowledged: in flight plus queued.
func (e *Endpoint) Pending(id NodeID) int {
	if p := e.peers[id]; p != nil {
		return len(p.inflight) + len(p.queue)
	}
	return 0
}

// clock returns now, or the latest time seen if now is earlier.
func (e *Endpoint) clock(now time.Duration) time.Duration {
	if now < e.now {
		return e.now
	}
	e.now = now
	return now
}

// peer returns the state of id, creating it if there is room.
func (e *Endpoint) peer(id NodeID) (*peer, error) {
	if p := e.peers[id]; p != nil {
		return p, nil
	}
	if len(e.peers) >= e.cfg.MaxPeers {
		return nil, fmt.Errorf("%w: %d known (MaxPeers %d), %q is new", ErrTooManyPeers, len(e.peers), e.cfg.MaxPeers, id)
	}
	p := &peer{id: id, nextSeq: 1, recvNext: 1}
	e.peers[id] = p
	i, found := slices.BinarySearch(e.order, id)
	if found {
		panic(fmt.Sprintf("reliable: peer %q missing from the map but at index %d of %d in order", id, i, len(e.order)))
	}
	e.order = slices.Insert(e.order, i, id)
	return p, nil
}

// Send queues payload for the peer to and returns the packets to transmit
// now: the payload's data packet if the peer's epoch is known and the
// window has room, a probe if this is the first payload for a peer whose
// epoch is unknown, or nothing (the payload waits for acks). The payload
// is copied. Send fails, accepting nothing, if to is not a valid NodeID
// or is Self, if the payload is over MaxPayload, if to would be one peer
// too many (ErrTooManyPeers), or if MaxQueued payloads already wait
// (ErrBackpressure).
func (e *Endpoint) Send(to NodeID, payload []byte, now time.Duration) ([]Packet, error) {
	now = e.clock(now)
	if to == "" || len(to) > MaxNodeIDBytes {
		return nil, fmt.Errorf("reliable: send: to %q is not a node name of 1 to %d bytes", to, MaxNodeIDBytes)
	}
	if to == e.cfg.Self {
		return nil, fmt.Errorf("reliable: send: to %q is this endpoint itself", to)
	}
	if len(payload) > e.cfg.MaxPayload {
		return nil, fmt.Errorf("reliable: send to %q: payload of %d bytes over MaxPayload %d", to, len(payload), e.cfg.MaxPayload)
	}
	p, err := e.peer(to)
	if err != nil {
		return nil, fmt.Errorf("reliable: send to %q: %w", to, err)
	}
	if len(p.queue) >= e.cfg.MaxQueued {
		return nil, fmt.Errorf("reliable: send to %q: %d payloads queued behind %d in flight (MaxQueued %d): %w",
			to, len(p.queue), len(p.inflight), e.cfg.MaxQueued, ErrBackpressure)
	}
	p.queue = append(p.queue, append([]byte(nil), payload...))
	out := e.flush(p, now, nil)
	if p.epoch == 0 && p.probeBackoff == 0 {
		out = append(out, e.probe(p, now))
	}
	e.checkPeer(p)
	return out, nil
}

// Receive handles a packet that arrived. It returns the payloads it
// delivers (from pk.From, in stream order, each exactly once per pair of
// incarnations), the packets to transmit (data that acks made room for,
// or an answer to a probe or to stale data), and whether pk.From is now
// known to have restarted: if reset, every stream to and from its old
// incarnation is gone (what was not acknowledged or delivered never will
// be), and the caller should tell its protocol so before handing it
// delivered, which comes from the new incarnation. Invalid, stale and
// refused packets are dropped and counted in Stats. Receive copies what
// it keeps of pk; a Delivery may alias pk.Payload.
func (e *Endpoint) Receive(pk Packet, now time.Duration) (delivered []Delivery, out []Packet, reset bool) {
	now = e.clock(now)
	if pk.Validate() != nil || pk.To != e.cfg.Self || pk.From == e.cfg.Self || len(pk.Payload) > e.cfg.MaxPayload {
		e.stats.Invalid++
		return nil, nil, false
	}
	p, err := e.peer(pk.From)
	if err != nil {
		e.stats.Refused++
		return nil, nil, false
	}
	switch {
	case pk.SrcEpoch < p.epoch:
		e.stats.Stale++
		return nil, nil, false
	case pk.SrcEpoch > p.epoch:
		if p.epoch != 0 {
			e.reset(p)
			reset = true
		}
		p.epoch = pk.SrcEpoch
		p.probeBackoff, p.probeDue = 0, 0
	}
	answer := false
	switch pk.DstEpoch {
	case 0: // a probe
		answer = true
	case e.cfg.Epoch:
		if !e.onAck(p, pk.Ack, now) {
			e.stats.Invalid++
			break
		}
		if pk.Seq > 0 {
			delivered = e.onData(p, pk, now)
		}
	default: // meant for another incarnation of this node
		e.stats.Stale++
		answer = pk.Seq > 0
	}
	out = e.flush(p, now, nil)
	if answer && len(out) == 0 {
		out = append(out, e.pureAck(p))
	}
	e.checkPeer(p)
	return delivered, out, reset
}

// Tick retransmits the data packets unacknowledged for their timeout,
// probes again the peers whose epoch is still unknown, and sends the pure
// acks that are due. It returns the packets to transmit, peer by peer in
// NodeID order.
func (e *Endpoint) Tick(now time.Duration) []Packet {
	now = e.clock(now)
	var out []Packet
	for _, id := range e.order {
		p := e.peers[id]
		for i := range p.inflight {
			f := &p.inflight[i]
			if f.due > now {
				continue
			}
			f.backoff = min(2*f.backoff, maxBackoffFactor*e.cfg.RTO)
			f.due = now + f.backoff
			e.stats.Retransmitted++
			out = append(out, e.dataPacket(p, f))
		}
		if p.probeBackoff != 0 && p.probeDue <= now {
			out = append(out, e.probe(p, now))
		}
		if p.ackPending && p.ackDue <= now {
			out = append(out, e.pureAck(p))
		}
		e.checkPeer(p)
	}
	return out
}

// Deadline returns the earliest time at which Tick has something to do
// (a retransmission, a probe or an ack), and false if it has nothing to
// do until the next Send or Receive. A caller that arms a timer for it
// after every call needs no other Tick.
func (e *Endpoint) Deadline() (time.Duration, bool) {
	var at time.Duration
	ok := false
	consider := func(t time.Duration) {
		if !ok || t < at {
			at, ok = t, true
		}
	}
	for _, id := range e.order {
		p := e.peers[id]
		for i := range p.inflight {
			consider(p.inflight[i].due)
		}
		if p.probeBackoff != 0 {
			consider(p.probeDue)
		}
		if p.ackPending {
			consider(p.ackDue)
		}
	}
	return at, ok
}
