package reliable

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// peer is an Endpoint's state for one peer: the stream to its current
// incarnation (send side) and the stream from it (receive side).
type peer struct {
	id NodeID
	// epoch is the peer's incarnation both streams belong to; 0 while
	// unknown (then both streams are empty).
	epoch uint64

	// nextSeq is the Seq the next data packet to the peer gets; from 1.
	nextSeq uint64
	// inflight holds the data packets sent and not acknowledged, by Seq:
	// contiguous, ending at nextSeq-1.
	inflight []inflight
	// queue holds the payloads waiting for room in the window, or for the
	// peer's epoch, oldest first.
	queue [][]byte
	// probeBackoff is the current probe interval while probing (epoch
	// unknown and something queued), else 0; probeDue is when the next
	// probe goes out.
	probeBackoff, probeDue time.Duration

	// recvNext is the Seq of the next data packet to deliver; from 1.
	recvNext uint64
	// held holds early data packets, by increasing Seq, all > recvNext.
	held []held
	// ackPending says a data packet arrived since the peer was last sent
	// an ack; ackDue is when Tick sends a pure ack for it.
	ackPending bool
	ackDue     time.Duration
}

// inflight is a data packet sent and not yet acknowledged.
type inflight struct {
	seq     uint64
	payload []byte
	// backoff is the current retransmission timeout; due is when the
	// packet goes out again.
	backoff, due time.Duration
}

// held is an early data packet kept for later delivery.
type held struct {
	seq     uint64
	payload []byte
}

// ackValue is the cumulative ack for the stream from p: the last Seq
// delivered.
func (p *peer) ackValue() uint64 { return p.recvNext - 1 }

// dataPacket builds the data packet for f, carrying the current ack, which
// makes a pure ack unnecessary.
func (e *Endpoint) dataPacket(p *peer, f *inflight) Packet {
	p.ackPending, p.ackDue = false, 0
	return Packet{
		From: e.cfg.Self, To: p.id,
		SrcEpoch: e.cfg.Epoch, DstEpoch: p.epoch,
		Seq: f.seq, Ack: p.ackValue(), Payload: f.payload,
	}
}

// pureAck builds an ack for p.
func (e *Endpoint) pureAck(p *peer) Packet {
	if p.epoch == 0 {
		panic(fmt.Sprintf("reliable: ack to %q whose epoch is unknown (recvNext %d)", p.id, p.recvNext))
	}
	p.ackPending, p.ackDue = false, 0
	e.stats.Acks++
	return Packet{
		From: e.cfg.Self, To: p.id,
		SrcEpoch: e.cfg.Epoch, DstEpoch: p.epoch,
		Ack: p.ackValue(),
	}
}

// probe builds a probe for p and schedules the next one, backing off.
func (e *Endpoint) probe(p *peer, now time.Duration) Packet {
	if p.epoch != 0 {
		panic(fmt.Sprintf("reliable: probe to %q whose epoch %d is known", p.id, p.epoch))
	}
	if p.probeBackoff == 0 {
		p.probeBackoff = e.cfg.RTO
	} else {
		p.probeBackoff = min(2*p.probeBackoff, maxBackoffFactor*e.cfg.RTO)
	}
	p.probeDue = now + p.probeBackoff
	e.stats.Probes++
	return Packet{From: e.cfg.Self, To: p.id, SrcEpoch: e.cfg.Epoch}
}

// flush moves queued payloads into the window while it has room and the
// peer's epoch is known, appending their data packets to out.
func (e *Endpoint) flush(p *peer, now time.Duration, out []Packet) []Packet {
	for p.epoch != 0 && len(p.queue) > 0 && len(p.inflight) < e.cfg.MaxInflight {
		payload := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.inflight = append(p.inflight, inflight{seq: p.nextSeq, payload: payload, backoff: e.cfg.RTO, due: now + e.cfg.RTO})
		p.nextSeq++
		e.stats.Sent++
		out = append(out, e.dataPacket(p, &p.inflight[len(p.inflight)-1]))
	}
	if len(p.queue) == 0 {
		p.queue = nil // let the backing array go
	}
	return out
}

// reset forgets both streams with p's current incarnation.
func (e *Endpoint) reset(p *peer) {
	e.stats.Resets++
	e.stats.Discarded += uint64(len(p.inflight) + len(p.queue))
	for _, in := range p.inflight {
		e.discarded = append(e.discarded, Discarded{To: p.id, Payload: in.payload})
	}
	for _, q := range p.queue {
		e.discarded = append(e.discarded, Discarded{To: p.id, Payload: q})
	}
	if limit := e.cfg.MaxInflight + e.cfg.MaxQueued; len(e.discarded) > limit {
		e.discarded = slices.Clone(e.discarded[len(e.discarded)-limit:]) // a caller that never takes them
	}
	p.nextSeq, p.inflight, p.queue = 1, nil, nil
	p.probeBackoff, p.probeDue = 0, 0
	p.recvNext, p.held = 1, nil
	p.ackPending, p.ackDue = false, 0
}

// onAck applies a cumulative ack from p's current incarnation. It returns
// false, changing nothing, if ack covers data never sent.
func (e *Endpoint) onAck(p *peer, ack uint64, now time.Duration) bool {
	if ack >= p.nextSeq {
		return false
	}
	if len(p.inflight) == 0 || ack < p.inflight[0].seq {
		return true // nothing new
	}
	n := int(ack - p.inflight[0].seq + 1)
	clear(p.inflight[:n])
	p.inflight = p.inflight[n:]
	if len(p.inflight) == 0 {
		p.inflight = nil
	}
	// The peer is there: what it has not acked yet is worth retrying
	// soon, not after a long backoff.
	for i := range p.inflight {
		f := &p.inflight[i]
		if f.backoff > e.cfg.RTO {
			f.backoff = e.cfg.RTO
			f.due = min(f.due, now+e.cfg.RTO)
		}
	}
	return true
}

// onData handles a data packet of the stream from p's current incarnation
// and returns what it delivers.
func (e *Endpoint) onData(p *peer, pk Packet, now time.Duration) []Delivery {
	if !p.ackPending {
		p.ackPending, p.ackDue = true, now+e.cfg.AckDelay
	}
	switch {
	case pk.Seq < p.recvNext:
		e.stats.Duplicates++
		return nil
	case pk.Seq > p.recvNext:
		e.hold(p, pk)
		return nil
	}
	out := []Delivery{{From: p.id, Payload: pk.Payload}}
	p.recvNext++
	for len(p.held) > 0 && p.held[0].seq == p.recvNext {
		out = append(out, Delivery{From: p.id, Payload: p.held[0].payload})
		p.held[0] = held{}
		p.held = p.held[1:]
		p.recvNext++
	}
	if len(p.held) == 0 {
		p.held = nil
	}
	e.stats.Delivered += uint64(len(out))
	return out
}

// hold keeps an early data packet, if it is not held already and there is
// room, making room by evicting the farthest one if this one is nearer.
func (e *Endpoint) hold(p *peer, pk Packet) {
	i, found := slices.BinarySearchFunc(p.held, pk.Seq, func(h held, seq uint64) int { return cmp.Compare(h.seq, seq) })
	if found {
		e.stats.Duplicates++
		return
	}
	if len(p.held) >= e.cfg.MaxBuffered {
		e.stats.Overflow++
		if i == len(p.held) {
			return // the farthest of all: drop it
		}
		p.held[len(p.held)-1] = held{}
		p.held = p.held[:len(p.held)-1]
	}
	p.held = slices.Insert(p.held, i, held{seq: pk.Seq, payload: append([]byte(nil), pk.Payload...)})
	e.stats.Buffered++
}

// checkPeer panics, with the numbers, if p's state is impossible.
func (e *Endpoint) checkPeer(p *peer) {
	c := &e.cfg
	if p.nextSeq == 0 || p.recvNext == 0 {
		panic(fmt.Sprintf("reliable: peer %q: nextSeq %d, recvNext %d; both start at 1", p.id, p.nextSeq, p.recvNext))
	}
	if len(p.inflight) > c.MaxInflight || len(p.queue) > c.MaxQueued || len(p.held) > c.MaxBuffered {
		panic(fmt.Sprintf("reliable: peer %q: %d in flight (max %d), %d queued (max %d), %d held (max %d)",
			p.id, len(p.inflight), c.MaxInflight, len(p.queue), c.MaxQueued, len(p.held), c.MaxBuffered))
	}
	if p.epoch == 0 && (p.nextSeq != 1 || p.recvNext != 1 || len(p.inflight) != 0 || len(p.held) != 0 || p.ackPending) {
		panic(fmt.Sprintf("reliable: peer %q: epoch unknown but nextSeq %d, recvNext %d, %d in flight, %d held, ack pending %v",
			p.id, p.nextSeq, p.recvNext, len(p.inflight), len(p.held), p.ackPending))
	}
	if p.epoch != 0 && len(p.queue) > 0 && len(p.inflight) < c.MaxInflight {
		panic(fmt.Sprintf("reliable: peer %q: %d queued while only %d of %d in flight", p.id, len(p.queue), len(p.inflight), c.MaxInflight))
	}
	if probing := p.epoch == 0 && len(p.queue) > 0; probing != (p.probeBackoff != 0) {
		panic(fmt.Sprintf("reliable: peer %q: epoch %d, %d queued, yet probe backoff %v", p.id, p.epoch, len(p.queue), p.probeBackoff))
	}
	for i, f := range p.inflight {
		if want := p.nextSeq - uint64(len(p.inflight)-i); f.seq != want {
			panic(fmt.Sprintf("reliable: peer %q: in flight #%d has Seq %d, want %d (nextSeq %d, %d in flight)",
				p.id, i, f.seq, want, p.nextSeq, len(p.inflight)))
		}
		if f.backoff < c.RTO || f.backoff > maxBackoffFactor*c.RTO {
			panic(fmt.Sprintf("reliable: peer %q: Seq %d backoff %v outside [%v, %v]", p.id, f.seq, f.backoff, c.RTO, maxBackoffFactor*c.RTO))
		}
	}
	prev := p.recvNext
	for i, h := range p.held {
		if h.seq <= prev {
			panic(fmt.Sprintf("reliable: peer %q: held #%d has Seq %d, not above %d (recvNext %d)", p.id, i, h.seq, prev, p.recvNext))
		}
		prev = h.seq
	}
}
