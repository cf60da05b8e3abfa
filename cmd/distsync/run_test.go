package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios"
)

// lastTraceHash returns the trace-hash line that ends run's, replay's and
// (per seed, in JSON) sweep's output.
func lastTraceHash(t *testing.T, out string) string {
	t.Helper()
	i := strings.LastIndex(out, "trace-hash: ")
	require.GreaterOrEqual(t, i, 0, out)
	return strings.TrimSpace(out[i:])
}

// TestWireCheckFlag runs shipped scenario seeds of the three services
// with --wire-check: they pass, every delivered message went through the
// codec, and the flag changes neither the run nor its trace-hash (run and
// replay agree with and without it).
func TestWireCheckFlag(t *testing.T) {
	for _, tc := range []struct{ file, seed string }{
		{"leader-crash", "3"},
		{"queue-owner-crash", "2"},
		{"cache-hot-key", "1"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := "../../scenarios/" + tc.file + ".yaml"
			out, err := run(t, "run", file, "--seed", tc.seed, "--wire-check", "--format", "json")
			require.NoError(t, err, out)
			var res scenarios.Result
			require.NoError(t, json.Unmarshal([]byte(out), &res), out)
			require.True(t, res.Passed, "%+v", res.Failure)
			assert.Positive(t, res.Stats.Net.WireChecked)
			assert.Equal(t, res.Stats.Net.Delivered, res.Stats.Net.WireChecked, "every delivered message round-tripped")

			plain, err := run(t, "run", file, "--seed", tc.seed, "--quiet")
			require.NoError(t, err, plain)
			assert.Equal(t, "trace-hash: "+res.TraceHash, lastTraceHash(t, plain), "the flag does not change the run")
			replayed, err := run(t, "replay", file, "--seed", tc.seed, "--quiet", "--wire-check")
			require.NoError(t, err, replayed)
			assert.Equal(t, "trace-hash: "+res.TraceHash, lastTraceHash(t, replayed))
		})
	}
}

func TestWireCheckFlagOnSweep(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sweep.json")
	text, err := run(t, "sweep", "../../scenarios/follower-crash.yaml", "--seeds", "2", "--parallel", "2", "--wire-check", "--json", out)
	require.NoError(t, err, text)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var r SweepReport
	require.NoError(t, json.Unmarshal(data, &r))
	require.Len(t, r.Scenarios, 1)
	assert.Len(t, r.Scenarios[0].Seeds, 2)
	assert.Zero(t, r.Failed())
}
