package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/sim"
)

// lamportMs shortens the test traces' times.
const lamportMs = time.Millisecond

// lamportRecords is a small hand-written trace over servers n1..n3 and client
// c1, with one message of every ending.
func lamportRecords() []sim.Record {
	msg := lamportMsgType()
	rec := func(event uint64, at time.Duration, kind sim.TraceKind, node, peer string, id uint64) sim.Record {
		r := sim.Record{Event: event, At: at, Kind: kind, Node: nodes.NodeID(node), Peer: nodes.NodeID(peer), MsgID: id}
		if id != 0 {
			r.Msg = msg
		}
		return r
	}
	return []sim.Record{
		rec(1, 10*lamportMs, sim.TraceSend, "n1", "n2", 1),
		rec(1, 10*lamportMs, sim.TraceSend, "n1", "n3", 2),
		rec(1, 10*lamportMs, sim.TraceDrop, "n1", "n3", 2), // lost at send
		rec(2, 11*lamportMs, sim.TraceSend, "n2", "n1", 3),
		rec(2, 11*lamportMs, sim.TraceDuplicate, "n2", "n1", 3),
		rec(3, 12*lamportMs, sim.TraceDeliver, "n2", "n1", 1),
		rec(4, 13*lamportMs, sim.TraceDeliver, "n1", "n2", 3),
		rec(5, 14*lamportMs, sim.TraceDeliver, "n1", "n2", 3), // the duplicate
		rec(6, 15*lamportMs, sim.TraceSend, "n1", "c1", 4),
		rec(7, 17*lamportMs, sim.TraceDeliver, "c1", "n1", 4),
		rec(8, 20*lamportMs, sim.TraceCrash, "n3", "", 0),
		rec(9, 21*lamportMs, sim.TraceSend, "n1", "n3", 5),
		rec(10, 23*lamportMs, sim.TraceDead, "n3", "n1", 5),
		rec(11, 25*lamportMs, sim.TraceSend, "n2", "n3", 6),
		rec(12, 26*lamportMs, sim.TraceFault, "", "", 0),
		rec(13, 27*lamportMs, sim.TraceDrop, "n3", "n2", 6), // a partition, on arrival
		rec(14, 30*lamportMs, sim.TraceStart, "n3", "", 0),
		rec(15, 40*lamportMs, sim.TraceSend, "n1", "n2", 7), // never arrives
		rec(16, 50*lamportMs, sim.TraceTimer, "n1", "", 0),
	}
}

// lamportMsgType is a registered message type, for the records' labels.
func lamportMsgType() nodes.MessageType { return (&gossip.Push{}).Type() }

func lamportBuild(t *testing.T, opts LamportOptions) *LamportDiagram {
	t.Helper()
	if opts.Servers == nil {
		opts.Servers = []nodes.NodeID{"n1", "n2", "n3"}
	}
	b := NewLamportBuilder(opts)
	for _, r := range lamportRecords() {
		b.Add(&r, nil)
	}
	return b.Diagram(50 * lamportMs)
}

func lamportLaneIDs(d *LamportDiagram) []string {
	var out []string
	for _, l := range d.Lanes {
		out = append(out, string(l.ID))
	}
	return out
}

func TestLamportWholeRun(t *testing.T) {
	d := lamportBuild(t, LamportOptions{Clients: true})
	assert.Equal(t, []string{"n1", "n2", "n3", "c1"}, lamportLaneIDs(d))
	assert.True(t, d.Lanes[3].Client)
	assert.Equal(t, 7, d.Messages)
	require.Len(t, d.Arrows, 8, "message 3 was duplicated: two arrows")
	assert.Equal(t, 4, d.Count(EndDelivered))
	assert.Equal(t, 1, d.Count(EndLost))
	assert.Equal(t, 1, d.Count(EndDropped))
	assert.Equal(t, 1, d.Count(EndDead))
	assert.Equal(t, 1, d.Count(EndInFlight))
	dups := 0
	for _, a := range d.Arrows {
		if a.Dup {
			dups++
			assert.Equal(t, uint64(3), a.MsgID)
		}
		assert.Equal(t, "gossip.push", a.Type)
		assert.Equal(t, "gossip.push", a.Label, "no Label option: the type names it")
	}
	assert.Equal(t, 2, dups)
	lost := d.Arrows[lamportIndex(d.Arrows, 2)]
	assert.Equal(t, Arrow{MsgID: 2, Type: "gossip.push", Label: "gossip.push", From: "n1", To: "n3", Sent: 10 * lamportMs, At: 10 * lamportMs, End: EndLost}, lost)
	assert.Equal(t, []LaneSpan{{20 * lamportMs, 30 * lamportMs}}, d.Lanes[2].Down)
	kinds := map[MarkKind]int{}
	for _, m := range d.Marks {
		kinds[m.Kind]++
	}
	assert.Equal(t, map[MarkKind]int{MarkCrash: 1, MarkRestart: 1, MarkFault: 1}, kinds)
	assert.False(t, d.Truncated)
	assert.Equal(t, time.Duration(0), d.From)
	assert.Equal(t, 50*lamportMs, d.To)
}

func lamportIndex(arrows []Arrow, id uint64) int {
	for i, a := range arrows {
		if a.MsgID == id {
			return i
		}
	}
	return -1
}

func TestLamportWindowClipsAndKeepsSendTimes(t *testing.T) {
	d := lamportBuild(t, LamportOptions{From: 12 * lamportMs, To: 22 * lamportMs, Clients: true})
	// In the window: 1 and 3 (sent before it, arriving in it), 4, and 5
	// (sent in it, ending at 23ms, after it).
	assert.Equal(t, 4, d.Messages)
	ids := map[uint64]int{}
	for _, a := range d.Arrows {
		ids[a.MsgID]++
	}
	assert.Equal(t, map[uint64]int{1: 1, 3: 2, 4: 1, 5: 1}, ids)
	a1 := d.Arrows[lamportIndex(d.Arrows, 1)]
	assert.Equal(t, 10*lamportMs, a1.Sent, "the true send time, for the renderer to clip")
	a5 := d.Arrows[lamportIndex(d.Arrows, 5)]
	assert.Equal(t, EndDead, a5.End)
	assert.Equal(t, 23*lamportMs, a5.At)
	assert.Equal(t, []LaneSpan{{20 * lamportMs, 22 * lamportMs}}, d.Lanes[2].Down, "down from the crash to the window's end")
	require.Len(t, d.Marks, 1)
	assert.Equal(t, MarkCrash, d.Marks[0].Kind)
}

func TestLamportFilters(t *testing.T) {
	d := lamportBuild(t, LamportOptions{Node: "n3"})
	assert.Equal(t, 3, d.Messages, "2, 5 and 6 touch n3")
	assert.Equal(t, []string{"n1", "n2", "n3"}, lamportLaneIDs(d), "every server keeps its lane")

	d = lamportBuild(t, LamportOptions{Clients: false})
	assert.Equal(t, 6, d.Messages, "message 4 goes to a client")
	assert.Equal(t, []string{"n1", "n2", "n3"}, lamportLaneIDs(d))

	d = lamportBuild(t, LamportOptions{Node: "c1"})
	assert.Equal(t, 1, d.Messages, "a client named by --node gets its lane")
	assert.Equal(t, []string{"n1", "n2", "n3", "c1"}, lamportLaneIDs(d))
}

func TestLamportBoundTruncates(t *testing.T) {
	d := lamportBuild(t, LamportOptions{MaxMessages: 2, Clients: true})
	assert.True(t, d.Truncated)
	assert.Equal(t, 2, d.Messages)
	assert.Equal(t, 11*lamportMs, d.To, "the diagram stops where the third message was sent")
	assert.Equal(t, 5, d.Omitted)
	var svg bytes.Buffer
	require.NoError(t, d.WriteSVG(&svg))
	assert.Contains(t, svg.String(), "TRUNCATED: drew the first 2 messages")
}

// lamportSVGCounts parses an SVG document and counts its elements by
// "name.firstclass" (and by name alone).
func lamportSVGCounts(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG must parse as XML")
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
			for _, a := range se.Attr {
				if a.Name.Local == "class" {
					counts[se.Name.Local+"."+strings.Fields(a.Value)[0]]++
				}
			}
		}
	}
	return counts
}

func TestLamportSVGElements(t *testing.T) {
	d := lamportBuild(t, LamportOptions{Clients: true, Title: `run <1> & "2"`})
	var buf bytes.Buffer
	require.NoError(t, d.WriteSVG(&buf))
	c := lamportSVGCounts(t, buf.Bytes())
	assert.Equal(t, 1, c["svg"])
	assert.Equal(t, 4, c["line.lane"], "one lane per node")
	assert.Equal(t, 1, c["line.down"], "n3 is down from 20ms to 30ms")
	assert.Equal(t, 8, c["line.arrow"], "one line per arrow")
	assert.Equal(t, 4, c["path.head"], "a head on each delivered arrow")
	assert.Equal(t, 2, c["path.drop"], "a red X on the lost and the dropped message")
	assert.Equal(t, 1, c["circle.dead"])
	assert.Equal(t, 1, c["path.crash"])
	assert.Equal(t, 1, c["path.restart"])
	assert.Equal(t, 1, c["line.fault"], "a world-wide fault crosses every lane")
	assert.Equal(t, 8, c["text.mlabel"], "each arrow is labelled")
	assert.Positive(t, c["line.tick"], "a time scale")
	assert.Contains(t, buf.String(), "run &lt;1&gt; &amp; &#34;2&#34;", "text is escaped")
}

func TestLamportEmptyWindow(t *testing.T) {
	b := NewLamportBuilder(LamportOptions{Servers: []nodes.NodeID{"n1"}})
	d := b.Diagram(0)
	var buf bytes.Buffer
	require.NoError(t, d.WriteSVG(&buf))
	c := lamportSVGCounts(t, buf.Bytes())
	assert.Equal(t, 1, c["line.lane"])
	assert.Zero(t, c["line.arrow"])
}

// TestLamportMatchesTheSimulator builds a diagram from a real run on a
// lossy, duplicating network with a crash, and checks its arrows against
// the simulator's own counters.
func TestLamportMatchesTheSimulator(t *testing.T) {
	ids := []nodes.NodeID{"n1", "n2", "n3", "n4"}
	w, err := sim.New(sim.Config{
		Seed: 7, Nodes: ids, Factory: gossip.New(20 * lamportMs),
		Network: sim.LinkConfig{Latency: sim.Uniform(lamportMs, 5*lamportMs), Loss: 0.2, Duplicate: 0.1},
	})
	require.NoError(t, err)
	b := NewLamportBuilder(LamportOptions{Servers: ids, MaxMessages: 100_000, Label: func(m nodes.Message) string {
		return "push"
	}})
	w.Trace().Watch(func(r sim.Record, m nodes.Message) { b.Add(&r, m) })
	w.At(300*lamportMs, "crash", func(w *sim.World) { _ = w.Crash("n2") })
	w.At(500*lamportMs, "restart", func(w *sim.World) { _ = w.Restart("n2") })
	require.NoError(t, w.Run(time.Second))
	d := b.Diagram(w.Now())
	net := w.Stats().Net
	require.Positive(t, net.Sent)
	assert.Equal(t, int(net.Sent), d.Messages)
	assert.Equal(t, int(net.Delivered), d.Count(EndDelivered))
	assert.Equal(t, int(net.DroppedLoss+net.DroppedPartition), d.Count(EndLost)+d.Count(EndDropped))
	assert.Equal(t, int(net.DroppedDead), d.Count(EndDead))
	assert.Positive(t, d.Count(EndDead), "messages reached n2 while it was down")
	dups := 0
	for _, a := range d.Arrows {
		assert.Equal(t, "push", a.Label)
		if a.Dup && a.End != EndLost {
			dups++
		}
	}
	assert.GreaterOrEqual(t, dups, int(net.Duplicated), "each duplicated message draws (at least) its two copies")
	require.Len(t, d.Lanes, 4)
	assert.Equal(t, []LaneSpan{{300 * lamportMs, 500 * lamportMs}}, d.Lanes[1].Down)
	var buf bytes.Buffer
	require.NoError(t, d.WriteSVG(&buf))
	c := lamportSVGCounts(t, buf.Bytes())
	assert.Equal(t, len(d.Arrows), c["line.arrow"])
	assert.Equal(t, d.Count(EndLost)+d.Count(EndDropped), c["path.drop"])
}
