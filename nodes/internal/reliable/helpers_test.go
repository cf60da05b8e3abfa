package reliable

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rto is the retransmission timeout of the unit tests.
const rto = 100 * time.Millisecond

// newEP returns an endpoint for self at epoch, with the config changed by
// mod (if not nil).
func newEP(t *testing.T, self NodeID, epoch uint64, mod func(*Config)) *Endpoint {
	t.Helper()
	cfg := Config{Self: self, Epoch: epoch, RTO: rto}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	require.NoError(t, err)
	return e
}

// send calls e.Send and requires it to succeed.
func send(t *testing.T, e *Endpoint, to NodeID, payload string, now time.Duration) []Packet {
	t.Helper()
	out, err := e.Send(to, []byte(payload), now)
	require.NoError(t, err)
	return out
}

// recv hands every packet to e and collects the results.
func recv(e *Endpoint, now time.Duration, pkts ...Packet) (payloads []string, out []Packet, resets int) {
	for _, pk := range pkts {
		del, o, reset := e.Receive(pk, now)
		for _, d := range del {
			if d.From != pk.From {
				panic("delivery from " + string(d.From) + " in a packet from " + string(pk.From))
			}
			payloads = append(payloads, string(d.Payload))
		}
		out = append(out, o...)
		if reset {
			resets++
		}
	}
	return payloads, out, resets
}

// handshake makes a and b learn each other's epochs, with nothing pending.
func handshake(t *testing.T, a, b *Endpoint, now time.Duration) {
	t.Helper()
	probe := send(t, a, b.cfg.Self, "hello", now)
	require.Len(t, probe, 1)
	_, ack, _ := recv(b, now, probe...)
	require.Len(t, ack, 1)
	_, data, _ := recv(a, now, ack...)
	require.Len(t, data, 1)
	got, _, _ := recv(b, now, data...)
	require.Equal(t, []string{"hello"}, got)
	_, _, _ = recv(a, now, b.Tick(now+b.cfg.AckDelay)...)
	require.Equal(t, 0, a.Pending(b.cfg.Self))
	require.Equal(t, b.cfg.Epoch, a.PeerEpoch(b.cfg.Self))
	require.Equal(t, a.cfg.Epoch, b.PeerEpoch(a.cfg.Self))
}

// kinds summarizes packets for comparison: "d<seq>a<ack>" for data,
// "a<ack>" for a pure ack, "p" for a probe.
func kinds(pkts []Packet) []string {
	var s []string
	for _, pk := range pkts {
		switch {
		case pk.Seq > 0:
			s = append(s, "d"+itoa(pk.Seq)+"a"+itoa(pk.Ack))
		case pk.DstEpoch == 0:
			s = append(s, "p")
		default:
			s = append(s, "a"+itoa(pk.Ack))
		}
	}
	return s
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
