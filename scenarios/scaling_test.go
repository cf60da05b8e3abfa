package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios"
)

func TestScalingMeasuresEachSize(t *testing.T) {
	for _, n := range []int{1, 3} {
		c := scenarios.DefaultScaling()
		c.Servers, c.Clients, c.Measure = n, 16, 500*time.Millisecond
		p, err := scenarios.MeasureScaling(c)
		require.NoError(t, err)
		assert.Equal(t, n, p.Servers)
		assert.Positive(t, p.Ops)
		assert.InDelta(t, float64(p.Ops)/0.5, p.OpsPerSec, 1e-9)
		assert.Positive(t, p.Acquires)
		assert.Positive(t, p.AcquireP50)
		assert.GreaterOrEqual(t, p.AcquireP99, p.AcquireP50)
		assert.Positive(t, p.Events)
		assert.Positive(t, p.Syncs)
		assert.Equal(t, 1, p.Elections, "no faults: one leader")
		// Group commit: the requests that queue while an fsync runs share
		// the next one, so a server makes fewer fsyncs than there are
		// operations.
		syncsPerNode := float64(p.Syncs) / float64(n) / 0.5
		assert.Less(t, syncsPerNode, p.OpsPerSec, "%d servers: %.0f fsyncs/s per server for %.0f ops/s", n, syncsPerNode, p.OpsPerSec)

		// Without it, each request is its own fsync: a 0.5ms fsync caps
		// the leader at 2,000 operations per second.
		c.NoGroupCommit = true
		q, err := scenarios.MeasureScaling(c)
		require.NoError(t, err)
		assert.LessOrEqual(t, q.OpsPerSec, 2000.0*1.01)
		if n == 1 {
			assert.Greater(t, p.OpsPerSec, 1.3*q.OpsPerSec, "group commit lifts the single server above the fsync bound")
		}
	}
}

func TestScalingIsDeterministic(t *testing.T) {
	c := scenarios.DefaultScaling()
	c.Servers, c.Measure, c.Checked = 3, 300*time.Millisecond, true
	a, err := scenarios.MeasureScaling(c)
	require.NoError(t, err)
	b, err := scenarios.MeasureScaling(c)
	require.NoError(t, err)
	a.Wall, b.Wall = 0, 0
	assert.Equal(t, a, b)
	c.Checked = false
	u, err := scenarios.MeasureScaling(c)
	require.NoError(t, err)
	u.Wall = 0
	assert.Equal(t, a.Ops, u.Ops, "the checkers only observe: same figures without them")
	assert.Equal(t, a.Events, u.Events)
}

func TestScalingRejectsBadConfigs(t *testing.T) {
	for _, mutate := range []func(*scenarios.ScalingConfig){
		func(c *scenarios.ScalingConfig) { c.Servers = 0 },
		func(c *scenarios.ScalingConfig) { c.Servers = 10 },
		func(c *scenarios.ScalingConfig) { c.Clients = 0 },
		func(c *scenarios.ScalingConfig) { c.Clients = 65 },
		func(c *scenarios.ScalingConfig) { c.Measure = 0 },
		func(c *scenarios.ScalingConfig) { c.Warmup = -time.Second },
	} {
		c := scenarios.DefaultScaling()
		mutate(&c)
		_, err := scenarios.MeasureScaling(c)
		assert.Error(t, err, "%+v", c)
	}
}
