package queues

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/queue"
)

func TestNewClientErrorsNameTheField(t *testing.T) {
	ok := ClientConfig{Servers: []nodes.NodeID{"n1"}, Queues: []string{"q"}, Produce: 0.5}
	with := func(f func(*ClientConfig)) ClientConfig {
		c := ok
		f(&c)
		return c
	}
	for _, c := range []struct {
		name  string
		cfg   ClientConfig
		field string
	}{
		{"no servers", with(func(c *ClientConfig) { c.Servers = nil }), "servers: empty"},
		{"no queues", with(func(c *ClientConfig) { c.Queues = nil }), "queues: empty"},
		{"empty queues", with(func(c *ClientConfig) { c.Queues = []string{} }), "queues: empty"},
		{"empty queue name", with(func(c *ClientConfig) { c.Queues = []string{"a", ""} }), "queues[1]"},
		{"long queue name", with(func(c *ClientConfig) { c.Queues = []string{strings.Repeat("q", 256)} }), "queues[0]"},
		{"produce below 0", with(func(c *ClientConfig) { c.Produce = -0.1 }), "produce:"},
		{"produce above 1", with(func(c *ClientConfig) { c.Produce = 1.5 }), "produce:"},
		{"produce NaN", with(func(c *ClientConfig) { c.Produce = math.NaN() }), "produce:"},
		{"poison above 1", with(func(c *ClientConfig) { c.Poison = 2 }), "poison:"},
		{"poison below 0", with(func(c *ClientConfig) { c.Poison = -1 }), "poison:"},
		{"dlq below 0", with(func(c *ClientConfig) { c.DLQ = -0.5 }), "dlq:"},
		{"dlq infinite", with(func(c *ClientConfig) { c.DLQ = math.Inf(1) }), "dlq:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := NewClient(c.cfg)
			require.Error(t, err)
			require.Nil(t, f)
			if strings.Contains(c.field, "queues[") {
				// ValidateQueueName prefixes its own "queues: ".
				require.Contains(t, err.Error(), "queue client config: "+c.field)
				require.ErrorIs(t, err, queue.ErrInvalidQueue)
				return
			}
			require.True(t, strings.HasPrefix(err.Error(), "queue client config: "+c.field), "error %q does not name %q", err, c.field)
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	for _, p := range []float64{0, 1} {
		f, err := NewClient(ClientConfig{Servers: []nodes.NodeID{"n1"}, Queues: []string{"q", "q.dlq"}, Produce: p, Poison: p, DLQ: p})
		require.NoError(t, err)
		c, ok := f("c1").(*Client)
		require.True(t, ok)
		require.Equal(t, 32, c.cfg.PayloadBytes)
		require.Equal(t, 2*time.Second, c.cfg.Visibility)
		require.Equal(t, 5*time.Millisecond, c.cfg.Process)
		require.Equal(t, 10*time.Millisecond, c.cfg.Think)
		require.Equal(t, 300*time.Millisecond, c.cfg.RequestTimeout)
	}
}
