package runtime

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// frameOf encodes an envelope as the transport frames it.
func frameOf(from, to nodes.NodeID, m nodes.Message) []byte {
	var e wire.Encoder
	nodes.AppendEnvelope(&e, nodes.Envelope{From: from, To: to, Msg: m})
	return wire.AppendFrame(nil, e.Bytes())
}

// rawHost starts n1 (a probe) with peer n2 and returns a raw connection to
// it, standing in for n2, past the handshake.
func rawHost(t *testing.T) (*Host, net.Conn) {
	t.Helper()
	h := single(t, probeFactory(nil, nil), func(c *Config) {
		c.Peers = map[nodes.NodeID]string{"n1": "", "n2": "127.0.0.1:1"}
		c.MaxFrameBytes = 1024
		c.BackoffMax = 50 * time.Millisecond
	})
	conn, err := net.Dial("tcp", h.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, clientHandshake(conn, nil, "n2", "n1"))
	return h, conn
}

// requireClosedByPeer waits until the host closes conn.
func requireClosedByPeer(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := io.Copy(io.Discard, conn)
	if err != nil { // a reset is a close too; a timeout is not
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection still open: %v", err)
	}
}

func TestBadFramesCloseTheConnection(t *testing.T) {
	header := func(length uint32, version byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, length), version)
	}
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"oversized frame", header(1024+2, wire.Version)},
		{"wrong version byte", append(header(3, wire.Version+1), 1, 2)},
		{"zero length", header(0, wire.Version)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, conn := rawHost(t)
			// A good frame first: the connection works until the bad one.
			_, err := conn.Write(frameOf("n2", "n1", &note{N: 1}))
			require.NoError(t, err)
			_, err = conn.Write(tc.bytes)
			require.NoError(t, err)
			requireClosedByPeer(t, conn)
			require.Eventually(t, func() bool { return h.Stats().FrameErrors == 1 }, 5*time.Second, 2*time.Millisecond)
			require.Equal(t, 1, received(t, h))
		})
	}
}

func TestUndeliverableFramesAreCountedAndSkipped(t *testing.T) {
	h, conn := rawHost(t)
	garbage := wire.AppendFrame(nil, []byte{0xff, 0xff, 0xff})
	for _, b := range [][]byte{
		garbage,                                   // does not decode
		frameOf("n2", "n3", &note{N: 1}),          // for another node
		frameOf("n7", "n1", &note{N: 2}),          // from a stranger
		frameOf("n2", "n1", &note{N: 3}),          // good
		wire.AppendFrame(nil, make([]byte, 1024)), // at the limit: allowed, but does not decode
	} {
		_, err := conn.Write(b)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return h.Stats().DecodeErrors == 2 }, 5*time.Second, 2*time.Millisecond)
	st := h.Stats()
	require.Equal(t, uint64(1), st.DroppedWrongDest)
	require.Equal(t, uint64(1), st.DroppedUnknownSender)
	require.Equal(t, uint64(1), st.Received)
	require.Zero(t, st.FrameErrors)
	inspect(t, h, func(p *probe) { require.Equal(t, []delivery{{from: "n2", n: 3}}, p.got) })
}

func TestFullSendQueueDropsAndCounts(t *testing.T) {
	lns, addrs := cluster(t, ids(2))
	require.NoError(t, lns["n2"].Close()) // n2 refuses connections: nothing drains the queue
	const queue, total = 4, 100
	h := startHost(t, Config{ID: "n1", Peers: addrs, Listener: lns["n1"], Dir: t.TempDir(),
		Factory: probeFactory(nil, nil), SendQueue: queue, MaxFrameBytes: 1024})
	start := time.Now()
	inspect(t, h, func(p *probe) {
		for i := range total {
			p.env.Send("n2", &note{N: uint64(i)})
		}
		p.env.Send("n2", &note{Pad: make([]byte, 2000)}) // over the frame limit
		p.env.Send("n9", &note{})                        // nobody
	})
	require.Less(t, time.Since(start), time.Second, "Send blocked the loop")
	st := h.Stats()
	require.Equal(t, uint64(total), st.Enqueued+st.DroppedQueueFull)
	// The writer may hold one frame while it dials; the queue holds the rest.
	require.GreaterOrEqual(t, st.DroppedQueueFull, uint64(total-queue-1))
	require.Equal(t, uint64(1), st.DroppedTooLarge)
	require.Equal(t, uint64(1), st.DroppedUnknownDest)
	require.Zero(t, st.Sent)
	require.Eventually(t, func() bool { return h.Stats().DialFailures >= 2 }, 5*time.Second, 5*time.Millisecond)
}

func TestReconnectAfterPeerRestarts(t *testing.T) {
	hosts, addrs, dirs := startCluster(t, ids(2), probeFactory(nil, nil), func(c *Config) {
		c.BackoffMax = 50 * time.Millisecond
	})
	n1 := hosts["n1"]
	send := func(k uint64) {
		inspect(t, n1, func(p *probe) { p.env.Send("n2", &note{N: k}) })
	}
	// sendUntil sends until h has received something, so messages lost while
	// a connection is being replaced do not matter.
	sendUntil := func(h *Host) {
		t.Helper()
		end := time.Now().Add(5 * time.Second)
		for k := uint64(0); received(t, h) == 0; k++ {
			require.True(t, time.Now().Before(end), "n2 received nothing; n1 stats %+v", n1.Stats())
			send(k)
			time.Sleep(5 * time.Millisecond)
		}
	}
	sendUntil(hosts["n2"])
	require.Equal(t, uint64(1), n1.Stats().Connects)
	require.NoError(t, hosts["n2"].Stop())

	again := startHost(t, Config{ID: "n2", Peers: addrs, Dir: dirs["n2"], Factory: probeFactory(nil, nil)})
	require.Equal(t, addrs["n2"], again.Addr().String())
	sendUntil(again)
	st := n1.Stats()
	require.GreaterOrEqual(t, st.Reconnects, uint64(1), "%+v", st)
	inspect(t, again, func(p *probe) { require.Equal(t, nodes.NodeID("n1"), p.got[0].from) })
}

func TestStopFlushesQueuedFrames(t *testing.T) {
	hosts, _, _ := startCluster(t, ids(2), probeFactory(nil, nil), nil)
	// Wait for n1's connection to n2, then queue a burst and stop at once.
	require.Eventually(t, func() bool { return hosts["n1"].Stats().Connects == 1 }, 5*time.Second, 2*time.Millisecond)
	const burst = 200
	inspect(t, hosts["n1"], func(p *probe) {
		for i := range burst {
			p.env.Send("n2", &note{N: uint64(i)})
		}
	})
	require.NoError(t, hosts["n1"].Stop())
	require.Equal(t, uint64(burst), hosts["n1"].Stats().Sent)
	require.Eventually(t, func() bool { return received(t, hosts["n2"]) == burst }, 5*time.Second, 5*time.Millisecond)
	inspect(t, hosts["n2"], func(p *probe) {
		for i, d := range p.got {
			require.Equal(t, uint64(i), d.n, "one connection keeps order")
		}
	})
}
