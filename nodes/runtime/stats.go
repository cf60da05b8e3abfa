package runtime

import "sync/atomic"

// Stats counts what a Host's transport and event loop did. Every drop has
// its own counter, so an operator can tell a slow peer (queue full) from a
// misconfigured one (wrong destination) from a broken codec (decode errors).
type Stats struct {
	// Enqueued counts messages accepted into a peer's send queue.
	Enqueued uint64
	// Sent counts frames written to a peer connection.
	Sent uint64
	// SentSelf counts messages the node sent to itself, delivered through
	// its own event loop without touching the network.
	SentSelf uint64
	// Received counts frames from the network decoded and handed to the
	// event loop.
	Received uint64
	// Replies counts messages delivered to a caller waiting in Request.
	Replies uint64
	// DroppedQueueFull counts messages dropped because the peer's send
	// queue (or, for messages to self, the self queue) was full.
	DroppedQueueFull uint64
	// DroppedTooLarge counts outbound messages whose frame would exceed
	// MaxFrameBytes.
	DroppedTooLarge uint64
	// DroppedWriteError counts frames lost because their connection failed
	// while they were being written.
	DroppedWriteError uint64
	// DroppedUnknownDest counts Sends to an id that is neither a peer nor
	// a client waiting in Request.
	DroppedUnknownDest uint64
	// DroppedWrongDest counts inbound frames addressed to another node.
	DroppedWrongDest uint64
	// DroppedUnknownSender counts inbound frames from an id not in Peers.
	DroppedUnknownSender uint64
	// DroppedWrongSender counts inbound frames from a peer other than the
	// one their connection's handshake authenticated.
	DroppedWrongSender uint64
	// DecodeErrors counts inbound frames whose envelope did not decode, and
	// messages to self or replies whose codec round trip failed.
	DecodeErrors uint64
	// FrameErrors counts inbound connections closed for an oversized frame,
	// a wrong version byte or a malformed header.
	FrameErrors uint64
	// Accepted counts inbound connections, those refused by the handshake
	// included.
	Accepted uint64
	// RejectedConns counts inbound connections closed before any frame
	// because their TLS or peer handshake failed: a wrong token, an unknown
	// or mistaken node id, a stale or replayed hello, garbage, a timeout.
	RejectedConns uint64
	// Connects counts successful outbound connections, first ones included.
	Connects uint64
	// Reconnects counts successful outbound connections to a peer whose
	// previous connection was lost.
	Reconnects uint64
	// DialFailures counts failed outbound connection attempts, those whose
	// handshake failed included.
	DialFailures uint64
	// HandshakeFailures counts outbound connections closed because their
	// TLS or peer handshake failed: the peer did not prove it holds the
	// token, refused ours, or did not answer in time.
	HandshakeFailures uint64
	// TimersFired counts timers delivered to the node.
	TimersFired uint64
	// TimersStale counts timer firings discarded because the timer had
	// been cancelled after its clock ran out.
	TimersStale uint64
	// FaultDropped counts outbound messages dropped by fault injection
	// (Host.SetFaults): to a peer in Drop, lost to Loss, over MaxDelayed, or
	// still held for a delay when the Host stopped.
	FaultDropped uint64
	// FaultDelayed counts outbound messages (copies included) held back
	// for Faults.Delay and Faults.Jitter before being queued.
	FaultDelayed uint64
	// FaultDuplicated counts outbound messages sent twice for
	// Faults.Duplicate (each counts once, for its extra copy).
	FaultDuplicated uint64
}

// counters is the live, atomically updated form of Stats.
type counters struct {
	enqueued, sent, sentSelf, received, replies             atomic.Uint64
	droppedQueueFull, droppedTooLarge, droppedWriteError    atomic.Uint64
	droppedUnknownDest, droppedWrongDest, droppedUnknownSnd atomic.Uint64
	droppedWrongSender                                      atomic.Uint64
	decodeErrors, frameErrors, accepted, rejectedConns      atomic.Uint64
	connects, reconnects, dialFailures, handshakeFailures   atomic.Uint64
	timersFired, timersStale                                atomic.Uint64
	faultDropped, faultDelayed, faultDuplicated             atomic.Uint64
}

// snapshot reads every counter. The fields are read one by one, so a
// snapshot taken under load is not a single instant, only close to one.
func (c *counters) snapshot() Stats {
	return Stats{
		Enqueued:             c.enqueued.Load(),
		Sent:                 c.sent.Load(),
		SentSelf:             c.sentSelf.Load(),
		Received:             c.received.Load(),
		Replies:              c.replies.Load(),
		DroppedQueueFull:     c.droppedQueueFull.Load(),
		DroppedTooLarge:      c.droppedTooLarge.Load(),
		DroppedWriteError:    c.droppedWriteError.Load(),
		DroppedUnknownDest:   c.droppedUnknownDest.Load(),
		DroppedWrongDest:     c.droppedWrongDest.Load(),
		DroppedUnknownSender: c.droppedUnknownSnd.Load(),
		DroppedWrongSender:   c.droppedWrongSender.Load(),
		DecodeErrors:         c.decodeErrors.Load(),
		FrameErrors:          c.frameErrors.Load(),
		Accepted:             c.accepted.Load(),
		RejectedConns:        c.rejectedConns.Load(),
		Connects:             c.connects.Load(),
		Reconnects:           c.reconnects.Load(),
		DialFailures:         c.dialFailures.Load(),
		HandshakeFailures:    c.handshakeFailures.Load(),
		TimersFired:          c.timersFired.Load(),
		TimersStale:          c.timersStale.Load(),
		FaultDropped:         c.faultDropped.Load(),
		FaultDelayed:         c.faultDelayed.Load(),
		FaultDuplicated:      c.faultDuplicated.Load(),
	}
}
