package runtime

import (
	"context"
	"errors"
	"net"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// single starts a one-node cluster of probes.
func single(t *testing.T, f nodes.Factory, tweak func(*Config)) *Host {
	t.Helper()
	cfg := Config{ID: "n1", Peers: map[nodes.NodeID]string{"n1": ""}, Dir: t.TempDir(), Factory: f}
	if tweak != nil {
		tweak(&cfg)
	}
	return startHost(t, cfg)
}

func TestConfigErrorsNameFieldAndValue(t *testing.T) {
	probeF := probeFactory(nil, nil)
	ok := func() Config {
		return Config{ID: "n1", Peers: map[nodes.NodeID]string{"n1": "", "n2": "127.0.0.1:1"}, Dir: t.TempDir(), Factory: probeF}
	}
	tests := []struct {
		name  string
		tweak func(*Config)
		want  []string
	}{
		{"empty peers", func(c *Config) { c.Peers = nil }, []string{"peers", "empty"}},
		{"unknown self", func(c *Config) { c.ID = "n9" }, []string{"id", `"n9"`, "not in peers"}},
		{"bad self id", func(c *Config) { c.ID = "n 1" }, []string{"id", `"n 1"`}},
		{"bad peer id", func(c *Config) { c.Peers["n/2"] = "127.0.0.1:2" }, []string{"peers", `"n/2"`}},
		{"bad peer address", func(c *Config) { c.Peers["n2"] = "nohost" }, []string{"peers[n2]", `"nohost"`}},
		{"empty peer address", func(c *Config) { c.Peers["n2"] = "" }, []string{"peers[n2]", `""`}},
		{"bad listen address", func(c *Config) { c.Listen = "a:b:c" }, []string{"listen", `"a:b:c"`}},
		{"unbindable listen address", func(c *Config) { c.Listen = "256.1.1.1:0" }, []string{"listen", `"256.1.1.1:0"`}},
		{"empty dir", func(c *Config) { c.Dir = "" }, []string{"dir", "empty"}},
		{"nil factory", func(c *Config) { c.Factory = nil }, []string{"factory", "nil"}},
		{"nil node", func(c *Config) { c.Factory = func(nodes.NodeID) nodes.Node { return nil } }, []string{"factory", "nil node"}},
		{"negative send queue", func(c *Config) { c.SendQueue = -1 }, []string{"send_queue", "-1"}},
		{"huge event queue", func(c *Config) { c.EventQueue = 1 << 30 }, []string{"event_queue", "1073741824"}},
		{"negative max frame", func(c *Config) { c.MaxFrameBytes = -5 }, []string{"max_frame_bytes", "-5"}},
		{"negative dial timeout", func(c *Config) { c.DialTimeout = -time.Second }, []string{"dial_timeout", "-1s"}},
		{"backoff min over max", func(c *Config) { c.BackoffMin, c.BackoffMax = 2*time.Second, time.Second }, []string{"backoff_min", "2s", "1s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.tweak(&cfg)
			h, err := Start(cfg)
			require.Nil(t, h)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestStartPanicIsReportedNotPropagated(t *testing.T) {
	f := probeFactory(func(*probe) { panic("boom at start") }, nil)
	h, err := Start(Config{ID: "n1", Peers: map[nodes.NodeID]string{"n1": ""}, Dir: t.TempDir(), Factory: f})
	require.Nil(t, h)
	require.ErrorContains(t, err, "boom at start")
}

func TestCancelledTimerNeverFires(t *testing.T) {
	h := single(t, probeFactory(nil, nil), nil)

	// The hard case first, while nothing else feeds the loop: the timer's
	// clock runs out and its firing is already queued for the loop when the
	// node cancels it.
	inspect(t, h, func(p *probe) {
		late := p.env.SetTimer(0, nodes.Timer{Kind: "late"})
		require.NotZero(t, late)
		deadline := time.Now().Add(5 * time.Second)
		for len(h.events) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		require.Len(t, h.events, 1, "the late timer's firing was never queued")
		p.env.CancelTimer(late)
		p.env.CancelTimer(late)    // twice: harmless
		p.env.CancelTimer(1 << 40) // unknown: harmless
	})
	inspect(t, h, func(p *probe) { require.Empty(t, p.fired) }) // runs after the stale firing
	require.Equal(t, uint64(1), h.Stats().TimersStale)

	// Many timers, half cancelled at once.
	const k = 200
	inspect(t, h, func(p *probe) {
		for i := range k {
			id := p.env.SetTimer(time.Duration(i%3)*time.Millisecond, nodes.Timer{Kind: "t", Arg: uint64(i)})
			if i%2 == 1 {
				p.env.CancelTimer(id)
			}
		}
	})
	require.Eventually(t, func() bool { return h.Stats().TimersFired == k/2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(20 * time.Millisecond) // give a wrongly surviving timer time to fire
	inspect(t, h, func(p *probe) {
		require.Len(t, p.fired, k/2)
		for _, f := range p.fired {
			require.Equal(t, "t", f.Kind)
			require.Zero(t, f.Arg%2, "cancelled timer %v fired", f)
		}
	})
}

func TestHandlersRunOnTheLoopGoroutine(t *testing.T) {
	f := probeFactory(func(p *probe) {
		p.env.SetTimer(time.Millisecond, nodes.Timer{Kind: "a"})
		p.env.SetTimer(2*time.Millisecond, nodes.Timer{Kind: "b"})
		p.env.Send(p.env.ID(), &note{N: 7}) // to self, through the loop
	}, nil)
	h := single(t, f, nil)
	require.Eventually(t, func() bool { return h.Stats().TimersFired == 2 }, 5*time.Second, 2*time.Millisecond)
	var ranOn string
	inspect(t, h, func(p *probe) {
		ranOn = goid()
		p.goroutine[ranOn] = true
		require.Len(t, p.goroutine, 1, "handlers ran on several goroutines: %v", p.goroutine)
		require.Equal(t, []delivery{{from: "n1", n: 7}}, p.got)
		require.ElementsMatch(t, []nodes.Timer{{Kind: "a"}, {Kind: "b"}}, p.fired)
	})
	require.NotEqual(t, goid(), ranOn)
	require.Equal(t, uint64(1), h.Stats().SentSelf)
}

func TestDoAbandonedBeforeItRunsNeverRuns(t *testing.T) {
	h := single(t, probeFactory(nil, nil), nil)
	release, busy := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- h.Do(context.Background(), func(nodes.Node, nodes.Env) {
			close(busy)
			<-release
		})
	}()
	<-busy // the loop is now stuck in the first call
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := h.Do(ctx, func(nodes.Node, nodes.Env) { ran = true })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(release)
	require.NoError(t, <-blocked)
	inspect(t, h, func(*probe) {}) // the abandoned call was behind us in the queue
	inspect(t, h, func(*probe) { require.False(t, ran) })

	require.Error(t, h.Do(context.Background(), nil))
}

func TestRequestGetsTheReply(t *testing.T) {
	echo := probeFactory(nil, func(p *probe, from nodes.NodeID, m nodes.Message) {
		p.env.Send(from, &note{N: m.(*note).N + 1})
		p.env.Send(from, &note{N: 1000}) // after the reply: dropped
	})
	h := single(t, echo, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range uint64(3) {
		out, err := h.Request(ctx, "", &note{N: 41 + i})
		require.NoError(t, err)
		require.Equal(t, &note{N: 42 + i, Pad: []byte{}}, out)
	}
	st := h.Stats()
	require.Equal(t, uint64(3), st.Replies)
	require.Equal(t, uint64(3), st.DroppedUnknownDest)

	_, err := h.Request(ctx, "n1", &note{})
	require.ErrorContains(t, err, "peer id")
	_, err = h.Request(ctx, "bad id", &note{})
	require.ErrorContains(t, err, "bad id")
	_, err = h.Request(ctx, "c1", nil)
	require.ErrorContains(t, err, "nil message")

	silent := single(t, probeFactory(nil, nil), nil)
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	_, err = silent.Request(short, "c1", &note{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestNodePanicStopsTheLoop(t *testing.T) {
	f := probeFactory(nil, func(_ *probe, _ nodes.NodeID, m nodes.Message) {
		if m.(*note).N == 13 {
			panic("unlucky")
		}
	})
	h := single(t, f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.Request(ctx, "c1", &note{N: 13})
	require.ErrorIs(t, err, ErrStopped)
	require.ErrorContains(t, err, "unlucky")
	<-h.Done()
	require.ErrorContains(t, h.Err(), "panic in receive from client")
	require.ErrorIs(t, h.Do(ctx, func(nodes.Node, nodes.Env) {}), ErrStopped)
}

func TestStopIsCleanAndIdempotent(t *testing.T) {
	before := goruntime.NumGoroutine()
	lns, addrs := cluster(t, ids(2))
	_ = lns["n2"].Close() // n2 is down: n1 keeps redialing until Stop
	f := probeFactory(func(p *probe) {
		for i := range 100 {
			p.env.SetTimer(time.Hour, nodes.Timer{Kind: "never", Arg: uint64(i)})
		}
		p.env.Send("n2", &note{N: 1})
	}, nil)
	h, err := Start(Config{ID: "n1", Peers: addrs, Listener: lns["n1"], Dir: t.TempDir(), Factory: f, Seed: 3})
	require.NoError(t, err)
	require.Equal(t, uint64(3), h.Seed())
	inspect(t, h, func(p *probe) {
		file, err := p.env.Disk().Open("left-open")
		require.NoError(t, err)
		_, err = file.Append([]byte("x"))
		require.NoError(t, err)
	})
	require.NoError(t, h.Stop())
	require.NoError(t, h.Stop())
	require.ErrorIs(t, h.Do(context.Background(), func(nodes.Node, nodes.Env) {}), ErrStopped)
	_, err = net.Dial("tcp", addrs["n1"])
	require.Error(t, err, "listener still open after Stop")
	// Polled by hand: require.Eventually runs its condition on a goroutine
	// of its own, which would be counted.
	end := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, goruntime.NumGoroutine(), before, "goroutines left after Stop")
}

func TestRandomSeedIsDrawnAndReported(t *testing.T) {
	h1, err := Start(Config{ID: "n1", Peers: map[nodes.NodeID]string{"n1": ""}, Dir: t.TempDir(), Factory: probeFactory(nil, nil)})
	require.NoError(t, err)
	defer func() { require.NoError(t, h1.Stop()) }()
	require.NotZero(t, h1.Seed())

	draw := func(seed uint64) (out [4]uint64) {
		h := single(t, probeFactory(nil, nil), func(c *Config) { c.Seed = seed })
		inspect(t, h, func(p *probe) {
			for i := range out {
				out[i] = p.env.Rand().Uint64()
			}
		})
		return out
	}
	require.Equal(t, draw(42), draw(42), "same seed and id, same stream")
	require.NotEqual(t, draw(42), draw(43))
}

func TestErrStoppedWraps(t *testing.T) {
	h := single(t, probeFactory(nil, nil), nil)
	require.NoError(t, h.Stop())
	_, err := h.Request(context.Background(), "", &note{})
	require.True(t, errors.Is(err, ErrStopped))
}
