package reliable

import (
	"fmt"
	"time"
)

// Defaults for the Config fields left zero.
const (
	// DefaultMaxInflight is the default Config.MaxInflight.
	DefaultMaxInflight = 32
	// DefaultMaxBuffered is the default Config.MaxBuffered.
	DefaultMaxBuffered = 32
	// DefaultMaxQueued is the default Config.MaxQueued.
	DefaultMaxQueued = 1024
	// DefaultMaxPeers is the default Config.MaxPeers.
	DefaultMaxPeers = 1024
	// DefaultMaxPayload is the default Config.MaxPayload, in bytes.
	DefaultMaxPayload = 1 << 20
)

// MaxRTO is the largest Config.RTO allowed, so that 8*RTO and the
// deadlines built from it stay far from overflowing a time.Duration.
const MaxRTO = time.Hour

// Upper bounds on the Config fields, so that a typo cannot ask for
// unbounded memory.
const (
	maxInflightCap = 1 << 16
	maxBufferedCap = 1 << 16
	maxQueuedCap   = 1 << 20
	maxPeersCap    = 1 << 20
)

// maxBackoffFactor caps the exponential retransmission backoff at
// maxBackoffFactor*RTO.
const maxBackoffFactor = 8

// Config configures an Endpoint.
type Config struct {
	// Self is this node's name.
	Self NodeID
	// Epoch identifies this incarnation of Self. It must not be 0, and it
	// must be greater than the Epoch of every earlier incarnation of Self
	// (a boot counter the caller persists and increments before each
	// start, or a boot timestamp from a clock that never goes back):
	// peers keep the highest epoch they have seen and drop what comes
	// from lower ones, so a reused or smaller epoch is not heard until the
	// peers forget the larger one (which they never do).
	Epoch uint64
	// RTO is the retransmission timeout: a data packet unacknowledged for
	// RTO is sent again, then after 2*RTO, 4*RTO, and 8*RTO thereafter.
	// Probes back off the same way. Must be in (0, MaxRTO].
	RTO time.Duration
	// AckDelay is how long a received data packet may wait for a data
	// packet going back to carry its ack before Tick sends a pure ack.
	// 0 (the default) means "at the next Tick". Must be in [0, RTO).
	AckDelay time.Duration
	// MaxInflight bounds, per peer, the data packets sent and not yet
	// acknowledged (the window). 0 means DefaultMaxInflight.
	MaxInflight int
	// MaxBuffered bounds, per peer, the out-of-order data packets kept
	// until the gap before them fills. 0 means DefaultMaxBuffered.
	MaxBuffered int
	// MaxQueued bounds, per peer, the payloads accepted by Send and
	// waiting for room in the window (or for the peer's epoch); Send
	// returns ErrBackpressure beyond it. 0 means DefaultMaxQueued.
	MaxQueued int
	// MaxPeers bounds the peers an Endpoint keeps state for. Send to one
	// more returns ErrTooManyPeers; packets from one more are dropped.
	// 0 means DefaultMaxPeers.
	MaxPeers int
	// MaxPayload bounds a payload, in bytes. 0 means DefaultMaxPayload;
	// at most MaxPayloadLimit.
	MaxPayload int
}

// withDefaults checks c and returns it with the zero fields defaulted.
// The error names the field and its value.
func (c Config) withDefaults() (Config, error) {
	if err := validNodeID("Self", c.Self); err != nil {
		return c, fmt.Errorf("reliable: config: Self %q: %w", c.Self, err)
	}
	if c.Epoch == 0 {
		return c, fmt.Errorf("reliable: config: Epoch is 0; incarnations are numbered from 1")
	}
	if c.RTO <= 0 || c.RTO > MaxRTO {
		return c, fmt.Errorf("reliable: config: RTO %v not in (0, %v]", c.RTO, MaxRTO)
	}
	if c.AckDelay < 0 || c.AckDelay >= c.RTO {
		return c, fmt.Errorf("reliable: config: AckDelay %v not in [0, RTO %v)", c.AckDelay, c.RTO)
	}
	limits := []struct {
		name  string
		v     *int
		def   int
		limit int
	}{
		{"MaxInflight", &c.MaxInflight, DefaultMaxInflight, maxInflightCap},
		{"MaxBuffered", &c.MaxBuffered, DefaultMaxBuffered, maxBufferedCap},
		{"MaxQueued", &c.MaxQueued, DefaultMaxQueued, maxQueuedCap},
		{"MaxPeers", &c.MaxPeers, DefaultMaxPeers, maxPeersCap},
		{"MaxPayload", &c.MaxPayload, DefaultMaxPayload, MaxPayloadLimit},
	}
	for _, l := range limits {
		if *l.v == 0 {
			*l.v = l.def
		}
		if *l.v < 0 || *l.v > l.limit {
			return c, fmt.Errorf("reliable: config: %s %d not in [0, %d]", l.name, *l.v, l.limit)
		}
	}
	return c, nil
}
