package runtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// echoN answers each note with k notes numbered N+1..N+k.
func echoN(k int) nodes.Factory {
	return probeFactory(nil, func(p *probe, from nodes.NodeID, m nodes.Message) {
		for i := range k {
			p.env.Send(from, &note{N: m.(*note).N + uint64(i) + 1})
		}
	})
}

// next reads one message from sub or fails after a timeout.
func next(t *testing.T, sub *Subscription) *note {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription channel closed")
		return m.(*note)
	case <-time.After(5 * time.Second):
		t.Fatal("no message on the subscription")
		return nil
	}
}

func TestSubscribeGetsEveryMessageInOrder(t *testing.T) {
	h := single(t, echoN(3), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := h.Subscribe("c1", 8)
	require.NoError(t, err)
	defer sub.Close()
	require.Equal(t, nodes.NodeID("c1"), sub.Client())
	require.NoError(t, sub.Send(ctx, &note{N: 10}))
	for i := range uint64(3) {
		require.Equal(t, 11+i, next(t, sub).N)
	}
	// A message the node sends later, unprompted (a lock's Notify).
	inspect(t, h, func(p *probe) { p.env.Send("c1", &note{N: 99}) })
	require.Equal(t, uint64(99), next(t, sub).N)
	require.Equal(t, uint64(4), h.Stats().Replies)
	require.Zero(t, sub.Dropped())
}

func TestSubscriptionFullDropsAndCounts(t *testing.T) {
	h := single(t, echoN(3), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := h.Subscribe("c1", 1)
	require.NoError(t, err)
	defer sub.Close()
	require.NoError(t, sub.Send(ctx, &note{N: 0}))
	inspect(t, h, func(*probe) {}) // the handler has run
	require.Equal(t, uint64(1), next(t, sub).N)
	require.Equal(t, uint64(2), sub.Dropped())
	st := h.Stats()
	require.Equal(t, uint64(2), st.DroppedQueueFull)
	require.Equal(t, uint64(1), st.Replies)
}

func TestSubscriptionClose(t *testing.T) {
	h := single(t, echoN(1), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := h.Subscribe("c1", 4)
	require.NoError(t, err)
	sub.Close()
	sub.Close() // idempotent
	_, open := <-sub.C()
	require.False(t, open, "channel still open after Close")
	require.ErrorContains(t, sub.Send(ctx, &note{}), "subscription closed")
	inspect(t, h, func(p *probe) { p.env.Send("c1", &note{N: 1}) })
	require.Equal(t, uint64(1), h.Stats().DroppedUnknownDest)

	again, err := h.Subscribe("c1", 4) // the id is free again
	require.NoError(t, err)
	defer again.Close()
	require.NoError(t, again.Send(ctx, &note{N: 5}))
	require.Equal(t, uint64(6), next(t, again).N)
}

func TestSubscribeErrors(t *testing.T) {
	lns, addrs := cluster(t, ids(2))
	_ = lns["n2"].Close()
	h := startHost(t, Config{ID: "n1", Peers: addrs, Listener: lns["n1"], Dir: t.TempDir(), Factory: echoN(1)})
	for _, tc := range []struct {
		client nodes.NodeID
		buffer int
		want   string
	}{
		{"n2", 1, "peer id"},
		{"n1", 1, "peer id"},
		{"bad id", 1, "bad id"},
		{"", 1, "empty"},
		{"c1", 0, "buffer 0"},
		{"c1", 1 << 21, "buffer 2097152"},
	} {
		_, err := h.Subscribe(tc.client, tc.buffer)
		require.ErrorContains(t, err, tc.want, "client %q buffer %d", tc.client, tc.buffer)
	}
	sub, err := h.Subscribe("c1", 1)
	require.NoError(t, err)
	defer sub.Close()
	_, err = h.Subscribe("c1", 1)
	require.ErrorContains(t, err, "already has a subscription")
	_, err = h.Request(context.Background(), "c1", &note{})
	require.ErrorContains(t, err, "already has a subscription")
	require.ErrorContains(t, sub.Send(context.Background(), nil), "nil message")
}

func TestStopClosesSubscriptions(t *testing.T) {
	h, err := Start(Config{ID: "n1", Peers: map[nodes.NodeID]string{"n1": ""}, Dir: t.TempDir(), Factory: echoN(1), Seed: 1})
	require.NoError(t, err)
	sub, err := h.Subscribe("c1", 4)
	require.NoError(t, err)
	inspect(t, h, func(p *probe) { p.env.Send("c1", &note{N: 7}) })
	require.NoError(t, h.Stop())
	m, ok := <-sub.C() // what arrived before the stop is still there
	require.True(t, ok)
	require.Equal(t, uint64(7), m.(*note).N)
	_, ok = <-sub.C()
	require.False(t, ok, "channel still open after Stop")
	sub.Close() // harmless after the stop
	require.ErrorContains(t, sub.Send(context.Background(), &note{}), "subscription closed")
	_, err = h.Subscribe("c2", 1)
	require.ErrorIs(t, err, ErrStopped)
}

func TestSubscriptionsConcurrently(t *testing.T) {
	h := single(t, echoN(2), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const clients, rounds = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			errs <- subscriberRounds(ctx, h, nodes.NodeID(fmt.Sprintf("c%d", c)), rounds)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, uint64(clients*rounds*2), h.Stats().Replies)
}

// subscriberRounds subscribes as id, sends a request, reads both answers
// and closes, rounds times.
func subscriberRounds(ctx context.Context, h *Host, id nodes.NodeID, rounds int) error {
	for r := range uint64(rounds) {
		sub, err := h.Subscribe(id, 2)
		if err != nil {
			return err
		}
		if err := sub.Send(ctx, &note{N: r * 10}); err != nil {
			return err
		}
		for i := range uint64(2) {
			select {
			case m := <-sub.C():
				if got := m.(*note).N; got != r*10+i+1 {
					return fmt.Errorf("%s round %d: got %d", id, r, got)
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		sub.Close()
	}
	return nil
}
