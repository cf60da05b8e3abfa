package reliable

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewConfigErrors(t *testing.T) {
	ok := Config{Self: "a", Epoch: 1, RTO: rto}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" for success
	}{
		{"valid", func(*Config) {}, ""},
		{"empty self", func(c *Config) { c.Self = "" }, "Self"},
		{"long self", func(c *Config) { c.Self = NodeID(strings.Repeat("x", 256)) }, "Self"},
		{"zero epoch", func(c *Config) { c.Epoch = 0 }, "Epoch is 0"},
		{"zero rto", func(c *Config) { c.RTO = 0 }, "RTO 0s"},
		{"huge rto", func(c *Config) { c.RTO = 2 * time.Hour }, "RTO 2h0m0s"},
		{"negative ack delay", func(c *Config) { c.AckDelay = -1 }, "AckDelay -1ns"},
		{"ack delay of rto", func(c *Config) { c.AckDelay = rto }, "AckDelay 100ms"},
		{"negative inflight", func(c *Config) { c.MaxInflight = -1 }, "MaxInflight -1"},
		{"huge buffered", func(c *Config) { c.MaxBuffered = 1 << 20 }, "MaxBuffered 1048576"},
		{"negative queued", func(c *Config) { c.MaxQueued = -3 }, "MaxQueued -3"},
		{"negative peers", func(c *Config) { c.MaxPeers = -1 }, "MaxPeers -1"},
		{"huge payload", func(c *Config) { c.MaxPayload = MaxPayloadLimit + 1 }, "MaxPayload 67108865"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			e, err := New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				got := e.Config()
				require.Equal(t, DefaultMaxInflight, got.MaxInflight)
				require.Equal(t, DefaultMaxBuffered, got.MaxBuffered)
				require.Equal(t, DefaultMaxQueued, got.MaxQueued)
				require.Equal(t, DefaultMaxPeers, got.MaxPeers)
				require.Equal(t, DefaultMaxPayload, got.MaxPayload)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, e)
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name    string
		to      NodeID
		payload int
		want    string
		is      error
	}{
		{"empty to", "", 1, `to ""`, nil},
		{"long to", NodeID(strings.Repeat("x", 256)), 1, "1 to 255 bytes", nil},
		{"self", "a", 1, `to "a" is this endpoint itself`, nil},
		{"payload", "b", 11, "payload of 11 bytes over MaxPayload 10", nil},
		{"peers", "z", 1, `2 known (MaxPeers 2), "z" is new`, ErrTooManyPeers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEP(t, "a", 1, func(c *Config) { c.MaxPayload, c.MaxPeers = 10, 2 })
			send(t, e, "b", "x", 0)
			send(t, e, "c", "x", 0)
			before := e.Pending(tt.to)
			_, err := e.Send(tt.to, make([]byte, tt.payload), 0)
			require.ErrorContains(t, err, tt.want)
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			require.Equal(t, before, e.Pending(tt.to), "nothing accepted")
		})
	}
}

func TestHandshakeThenInOrder(t *testing.T) {
	a, b := newEP(t, "a", 1, nil), newEP(t, "b", 7, nil)
	out := send(t, a, "b", "m1", 0)
	require.Equal(t, []string{"p"}, kinds(out), "the epoch of b is unknown: probe")
	require.Empty(t, send(t, a, "b", "m2", 0), "already probing")
	require.Empty(t, send(t, a, "b", "m3", 0))
	require.Equal(t, 3, a.Pending("b"))

	got, ack, resets := recv(b, 1, out...)
	require.Empty(t, got)
	require.Zero(t, resets, "learning a first epoch is no reset")
	require.Equal(t, []string{"a0"}, kinds(ack), "a probe is answered at once")
	require.Equal(t, uint64(1), ack[0].DstEpoch)
	require.Equal(t, uint64(7), ack[0].SrcEpoch)

	_, data, _ := recv(a, 2, ack...)
	require.Equal(t, []string{"d1a0", "d2a0", "d3a0"}, kinds(data))
	for _, pk := range data {
		require.Equal(t, uint64(7), pk.DstEpoch)
	}
	got, back, _ := recv(b, 3, data...)
	require.Equal(t, []string{"m1", "m2", "m3"}, got)
	require.Empty(t, back, "data acks wait for the next Tick")
	back = b.Tick(3)
	require.Equal(t, []string{"a3"}, kinds(back))
	require.Empty(t, b.Tick(4), "one ack is enough")
	_, _, _ = recv(a, 4, back...)
	require.Equal(t, 0, a.Pending("b"))
	_, ok := a.Deadline()
	require.False(t, ok, "nothing left to do")
	require.Equal(t, Stats{Sent: 3, Probes: 1}, a.Stats())
	require.Equal(t, Stats{Delivered: 3, Acks: 2}, b.Stats())
}

func TestProbeBackoff(t *testing.T) {
	a := newEP(t, "a", 1, nil)
	require.Equal(t, []string{"p"}, kinds(send(t, a, "b", "m", 0)))
	var at []time.Duration
	for now := time.Duration(0); now <= 40*rto; now += rto / 2 {
		for range a.Tick(now) {
			at = append(at, now)
		}
	}
	require.Equal(t, []time.Duration{rto, 3 * rto, 7 * rto, 15 * rto, 23 * rto, 31 * rto, 39 * rto}, at)
}

func TestLossAndRetransmitBackoff(t *testing.T) {
	a, b := newEP(t, "a", 1, nil), newEP(t, "b", 2, nil)
	handshake(t, a, b, 0)
	out := send(t, a, "b", "m", 0) // lost
	require.Equal(t, []string{"d2a0"}, kinds(out))
	var at []time.Duration
	var last []Packet
	for now := time.Duration(0); now <= 40*rto; now += rto / 4 {
		d, ok := a.Deadline()
		require.True(t, ok)
		pkts := a.Tick(now)
		if len(pkts) > 0 {
			require.LessOrEqual(t, d, now)
			at = append(at, now)
			last = pkts
		}
	}
	require.Equal(t, []time.Duration{rto, 3 * rto, 7 * rto, 15 * rto, 23 * rto, 31 * rto, 39 * rto}, at, "doubling, capped at 8*RTO")
	require.Equal(t, uint64(7), a.Stats().Retransmitted)
	got, _, _ := recv(b, 40*rto, last...)
	require.Equal(t, []string{"m"}, got)
	_, _, _ = recv(a, 40*rto, b.Tick(40*rto)...)
	require.Equal(t, 0, a.Pending("b"))
	require.Empty(t, a.Tick(100*rto))
}

func TestAckProgressResetsBackoff(t *testing.T) {
	a, b := newEP(t, "a", 1, nil), newEP(t, "b", 2, nil)
	handshake(t, a, b, 0)
	first := send(t, a, "b", "m2", 0)
	send(t, a, "b", "m3", 0) // lost, as are all the retransmissions
	for now := rto; now <= 15*rto; now += rto {
		a.Tick(now) // lost
	}
	d, _ := a.Deadline()
	require.Equal(t, 23*rto, d, "both backed off to 8*RTO")
	_, _, _ = recv(b, 16*rto, first...)
	_, _, _ = recv(a, 16*rto, b.Tick(16*rto)...)
	d, _ = a.Deadline()
	require.Equal(t, 17*rto, d, "progress brings the rest back to RTO")
}

func TestDuplicates(t *testing.T) {
	a, b := newEP(t, "a", 1, nil), newEP(t, "b", 2, nil)
	handshake(t, a, b, 0)
	out := send(t, a, "b", "m", 0)
	got, _, _ := recv(b, 1, out[0], out[0], out[0])
	require.Equal(t, []string{"m"}, got)
	require.Equal(t, uint64(2), b.Stats().Duplicates)
	ack := b.Tick(1)
	require.Equal(t, []string{"a2"}, kinds(ack))
	// The ack is lost: the retransmission is a duplicate, and acked again.
	re := a.Tick(rto)
	require.Equal(t, []string{"d2a0"}, kinds(re))
	got, _, _ = recv(b, rto, re...)
	require.Empty(t, got)
	require.Equal(t, []string{"a2"}, kinds(b.Tick(rto)), "a duplicate is acked again")
	// A duplicated ack changes nothing.
	_, out, _ = recv(a, rto, ack[0], ack[0])
	require.Empty(t, out)
	require.Equal(t, 0, a.Pending("b"))
}

func TestReordering(t *testing.T) {
	tests := []struct {
		name     string
		buffered int
		order    []int // indexes into the 6 data packets of m1..m6
		want     []string
		overflow uint64
	}{
		{"in order", 2, []int{0, 1, 2, 3, 4, 5}, []string{"m1", "m2", "m3", "m4", "m5", "m6"}, 0},
		{"within buffer", 2, []int{2, 1, 0, 5, 4, 3}, []string{"m1", "m2", "m3", "m4", "m5", "m6"}, 0},
		{"beyond buffer, farthest dropped", 2, []int{1, 2, 3, 0, 4, 5}, []string{"m1", "m2", "m3"}, 1},
		{"beyond buffer, farthest evicted", 2, []int{5, 4, 3, 0, 1, 2}, []string{"m1", "m2", "m3", "m4", "m5"}, 1},
		{"buffer of one", 1, []int{5, 4, 3, 2, 1, 0}, []string{"m1", "m2"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newEP(t, "a", 1, nil), newEP(t, "b", 2, func(c *Config) { c.MaxBuffered = tt.buffered })
			handshake(t, a, b, 0)
			var data []Packet
			for i := 1; i <= 6; i++ {
				data = append(data, send(t, a, "b", "m"+itoa(uint64(i)), 0)...)
			}
			var got []string
			for _, i := range tt.order {
				g, _, _ := recv(b, 1, data[i])
				got = append(got, g...)
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.overflow, b.Stats().Overflow)
			// The sender retransmits what was dropped; all arrives, in order.
			_, _, _ = recv(a, 1, b.Tick(1)...)
			for now := rto; a.Pending("b") > 0; now += rto {
				require.Less(t, now, 100*rto)
				g, _, _ := recv(b, now, a.Tick(now)...)
				got = append(got, g...)
				_, _, _ = recv(a, now, b.Tick(now)...)
			}
			require.Equal(t, []string{"m1", "m2", "m3", "m4", "m5", "m6"}, got)
		})
	}
}

func TestWindowAndBackpressure(t *testing.T) {
	a, b := newEP(t, "a", 1, func(c *Config) { c.MaxInflight, c.MaxQueued = 2, 2 }), newEP(t, "b", 2, nil)
	handshake(t, a, b, 0)
	var data []Packet
	for i := 2; i <= 5; i++ {
		data = append(data, send(t, a, "b", "m"+itoa(uint64(i)), 0)...)
	}
	require.Equal(t, []string{"d2a0", "d3a0"}, kinds(data), "window of 2")
	_, err := a.Send("b", []byte("m6"), 0)
	require.ErrorIs(t, err, ErrBackpressure)
	require.ErrorContains(t, err, "2 payloads queued behind 2 in flight (MaxQueued 2)")
	require.Equal(t, 4, a.Pending("b"))

	got, _, _ := recv(b, 1, data[0])
	require.Equal(t, []string{"m2"}, got)
	_, more, _ := recv(a, 1, b.Tick(1)...)
	require.Equal(t, []string{"d4a0"}, kinds(more), "an ack for one makes room for one")
	send(t, a, "b", "m6", 1)
	require.Equal(t, 4, a.Pending("b"))
}

func TestPiggybackAndAckDelay(t *testing.T) {
	a, b := newEP(t, "a", 1, nil), newEP(t, "b", 2, func(c *Config) { c.AckDelay = 10 * time.Millisecond })
	handshake(t, a, b, 0)
	data := send(t, a, "b", "ping", 0)
	_, _, _ = recv(b, 20*time.Millisecond, data...)
	d, ok := b.Deadline()
	require.True(t, ok)
	require.Equal(t, 30*time.Millisecond, d)
	require.Empty(t, b.Tick(25*time.Millisecond), "the ack waits AckDelay")

	reply := send(t, b, "a", "pong", 26*time.Millisecond)
	require.Equal(t, []string{"d1a2"}, kinds(reply), "the reply carries the ack")
	require.Empty(t, b.Tick(30*time.Millisecond), "no pure ack once piggybacked")
	_, _, _ = recv(a, 27*time.Millisecond, reply...)
	require.Equal(t, 0, a.Pending("b"))
	require.Equal(t, []string{"a1"}, kinds(a.Tick(27*time.Millisecond)))
	require.Equal(t, uint64(2), b.Stats().Acks, "only the handshake's two")
}

func TestPeerRestart(t *testing.T) {
	a, b1 := newEP(t, "a", 1, nil), newEP(t, "b", 1, nil)
	handshake(t, a, b1, 0)
	toOld := send(t, a, "b", "lost1", 0) // in flight to b1
	send(t, a, "b", "lost2", 0)
	fromOld := send(t, b1, "a", "old", 0) // in flight from b1
	require.Equal(t, 2, a.Pending("b"))

	b2 := newEP(t, "b", 2, nil) // b1 crashed
	t.Run("stale data to the new incarnation is dropped and answered", func(t *testing.T) {
		got, out, _ := recv(b2, 1, toOld...)
		require.Empty(t, got)
		require.Equal(t, []string{"a0"}, kinds(out))
		require.Equal(t, uint64(1), b2.Stats().Stale)
		require.Equal(t, uint64(1), b2.PeerEpoch("a"))

		_, back, resets := recv(a, 1, out[0], out[0])
		require.Equal(t, 1, resets, "reported once")
		require.Empty(t, back)
		require.Equal(t, 0, a.Pending("b"), "unacked payloads for b1 are discarded, not resent")
		require.Equal(t, uint64(2), a.Stats().Discarded)
		require.Equal(t, uint64(2), a.PeerEpoch("b"))
		require.Empty(t, a.Tick(100*rto))
		d := a.TakeDiscarded()
		require.Len(t, d, 2, "the caller gets what the reset threw away, in order")
		require.Equal(t, NodeID("b"), d[0].To)
		require.Equal(t, []string{"lost1", "lost2"}, []string{string(d[0].Payload), string(d[1].Payload)})
		require.Empty(t, a.TakeDiscarded(), "taken once")
	})
	t.Run("packets of the old incarnation are dropped", func(t *testing.T) {
		got, out, resets := recv(a, 2, fromOld...)
		require.Empty(t, got)
		require.Empty(t, out)
		require.Zero(t, resets)
		require.Equal(t, uint64(1), a.Stats().Stale)
	})
	t.Run("the streams restart at Seq 1", func(t *testing.T) {
		out := send(t, a, "b", "new", 3)
		require.Equal(t, []string{"d1a0"}, kinds(out))
		got, _, resets := recv(b2, 3, out...)
		require.Equal(t, []string{"new"}, got)
		require.Zero(t, resets)
		out = send(t, b2, "a", "hi", 4)
		require.Equal(t, []string{"d1a1"}, kinds(out))
		got, _, resets = recv(a, 4, out...)
		require.Equal(t, []string{"hi"}, got)
		require.Zero(t, resets)
		require.Equal(t, uint64(1), a.Stats().Resets)
	})
}

func TestPeerRestartAnnouncedByProbe(t *testing.T) {
	a, b1 := newEP(t, "a", 1, nil), newEP(t, "b", 1, nil)
	handshake(t, a, b1, 0)
	send(t, b1, "a", "early", 0) // b1 sends, a never gets it
	got, _, _ := recv(a, 0, send(t, b1, "a", "gap", 0)...)
	require.Empty(t, got, "held behind the lost one")

	b2 := newEP(t, "b", 2, nil)
	probe := send(t, b2, "a", "fresh", 1)
	got, out, resets := recv(a, 1, probe...)
	require.Empty(t, got, "what a held from b1 is gone")
	require.Equal(t, 1, resets)
	require.Equal(t, []string{"a0"}, kinds(out))
	_, data, _ := recv(b2, 1, out...)
	got, _, resets = recv(a, 1, data...)
	require.Equal(t, []string{"fresh"}, got)
	require.Zero(t, resets)
}

func TestOwnRestart(t *testing.T) {
	a1, b := newEP(t, "a", 1, nil), newEP(t, "b", 5, nil)
	handshake(t, a1, b, 0)
	toOld := send(t, b, "a", "for-a1", 0)
	fromOld := send(t, a1, "b", "from-a1", 0)

	a2 := newEP(t, "a", 2, nil) // a1 crashed
	got, out, resets := recv(a2, 1, toOld...)
	require.Empty(t, got, "meant for a1")
	require.Zero(t, resets, "a2 never knew b before")
	require.Equal(t, []string{"a0"}, kinds(out))

	_, back, resets := recv(b, 1, out...)
	require.Equal(t, 1, resets)
	require.Empty(t, back)
	require.Equal(t, 0, b.Pending("a"), "for-a1 is discarded")

	got, _, resets = recv(b, 2, fromOld...)
	require.Empty(t, got, "a1's data is stale now")
	require.Zero(t, resets)

	out = send(t, a2, "b", "from-a2", 3)
	require.Equal(t, []string{"d1a0"}, kinds(out), "a2 learned b's epoch: no probe")
	got, _, _ = recv(b, 3, out...)
	require.Equal(t, []string{"from-a2"}, got)
}

func TestReceiveDrops(t *testing.T) {
	good := Packet{From: "b", To: "a", SrcEpoch: 2, DstEpoch: 1, Seq: 1, Payload: []byte("x")}
	tests := []struct {
		name  string
		mod   func(*Packet)
		field func(Stats) uint64
	}{
		{"malformed", func(p *Packet) { p.SrcEpoch = 0 }, func(s Stats) uint64 { return s.Invalid }},
		{"not to self", func(p *Packet) { p.To = "c" }, func(s Stats) uint64 { return s.Invalid }},
		{"from self", func(p *Packet) { p.From = "a" }, func(s Stats) uint64 { return s.Invalid }},
		{"over MaxPayload", func(p *Packet) { p.Payload = make([]byte, 5) }, func(s Stats) uint64 { return s.Invalid }},
		{"ack of unsent data", func(p *Packet) { p.Ack = 1 }, func(s Stats) uint64 { return s.Invalid }},
		{"too many peers", func(p *Packet) { p.From = "z" }, func(s Stats) uint64 { return s.Refused }},
		{"older epoch", func(p *Packet) { p.SrcEpoch = 1 }, func(s Stats) uint64 { return s.Stale }},
		{"newer own epoch", func(p *Packet) { p.DstEpoch = 9 }, func(s Stats) uint64 { return s.Stale }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newEP(t, "a", 1, func(c *Config) { c.MaxPayload, c.MaxPeers = 4, 1 })
			_, _, _ = recv(a, 0, Packet{From: "b", To: "a", SrcEpoch: 2}) // a knows b at 2
			before := tt.field(a.Stats())
			pk := good
			tt.mod(&pk)
			del, _, reset := a.Receive(pk, 1)
			require.Empty(t, del)
			require.False(t, reset)
			require.Equal(t, before+1, tt.field(a.Stats()))
		})
	}
}

func TestClockGoingBack(t *testing.T) {
	a, b := newEP(t, "a", 1, nil), newEP(t, "b", 2, nil)
	handshake(t, a, b, 10*rto)
	send(t, a, "b", "m", 10*rto)
	require.Empty(t, a.Tick(rto), "an earlier now counts as the latest seen")
	d, _ := a.Deadline()
	require.Equal(t, 11*rto, d)
	require.Len(t, a.Tick(11*rto), 1)
}

func TestTickOrderIsByNodeID(t *testing.T) {
	a := newEP(t, "a", 1, nil)
	for _, id := range []NodeID{"q", "c", "x", "b", "m"} {
		send(t, a, id, "m", 0)
	}
	var to []NodeID
	for _, pk := range a.Tick(rto) {
		to = append(to, pk.To)
	}
	require.Equal(t, []NodeID{"b", "c", "m", "q", "x"}, to)
}
