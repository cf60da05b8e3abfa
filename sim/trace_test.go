package sim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/sim"
)

func TestTraceStreamsJSONLinesAndKeepsABoundedRing(t *testing.T) {
	run := func(stream bool) (*sim.World, *bytes.Buffer) {
		var buf bytes.Buffer
		w, err := sim.New(sim.Config{Seed: 9, Nodes: ids(3), Factory: gossip.New(0), Network: fixed, TraceKeep: 64})
		require.NoError(t, err)
		if stream {
			w.Trace().Stream(&buf)
		}
		require.NoError(t, w.Run(time.Second))
		require.NoError(t, w.Trace().Flush())
		return w, &buf
	}
	plain, _ := run(false)
	w, buf := run(true)
	assert.Equal(t, plain.Trace().HashString(), w.Trace().HashString(), "streaming does not change the run")
	assert.Len(t, w.Trace().Recent(), 64, "only the last records stay in memory")

	lines := 0
	kinds := map[string]int{}
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var rec struct {
			Event uint64 `json:"event"`
			AtNS  int64  `json:"at_ns"`
			Kind  string `json:"kind"`
			Node  string `json:"node"`
			Msg   string `json:"msg"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "line %d", lines+1)
		kinds[rec.Kind]++
		if rec.Kind == "deliver" {
			assert.Equal(t, "gossip.push", rec.Msg)
		}
		lines++
	}
	assert.EqualValues(t, w.Trace().Count(), lines, "every record is streamed")
	assert.Positive(t, kinds["send"])
	assert.Positive(t, kinds["deliver"])
	assert.Positive(t, kinds["timer"])
	assert.Equal(t, 3, kinds["start"])
	last := w.Trace().Recent()[63]
	assert.LessOrEqual(t, last.At, time.Second)
}
