package client_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/httpapi/client"
	"github.com/distsync/distsync/httpapi/client/clienttest"
)

// TestAgainstARealCluster runs every method against three real nodes in
// this process, then stops the lock leader: the client finds the new one.
func TestAgainstARealCluster(t *testing.T) {
	cl := clienttest.Start(t, 3)
	c, err := client.New(client.Config{Endpoints: cl.Endpoints, Retries: 30, MaxBackoff: 200 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Locks: a session, a grant, a conflicting try-lock, the lock's state.
	s, err := c.OpenSession(ctx, apitypes.SessionRequest{TTL: apitypes.Duration(30 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, "30s", s.TTL)
	a, err := c.Acquire(ctx, apitypes.AcquireRequest{Resource: "r1", Session: s.Session, Wait: apitypes.Duration(time.Second)})
	require.NoError(t, err)
	assert.True(t, a.Granted)
	assert.Equal(t, s.Session, a.Session)
	_, err = c.Acquire(ctx, apitypes.AcquireRequest{Resource: "r1", Wait: apitypes.Duration(0)})
	assert.True(t, client.IsCode(err, apitypes.CodeWouldBlock), "%v", err)
	assert.Equal(t, http.StatusConflict, client.StatusOf(err))
	st, err := c.Lock(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, st.Holders, 1)
	assert.Equal(t, s.Session, st.Holders[0].Session)
	assert.Equal(t, a.Token, st.Holders[0].Token)
	_, err = c.Renew(ctx, apitypes.SessionRequest{Session: s.Session})
	require.NoError(t, err)
	r, err := c.Release(ctx, apitypes.SessionRequest{Session: s.Session, Resource: "r1"})
	require.NoError(t, err)
	assert.True(t, r.OK)
	_, err = c.Release(ctx, apitypes.SessionRequest{Session: s.Session, Resource: "r1"})
	assert.True(t, client.IsCode(err, apitypes.CodeNotHolder), "%v", err)
	_, err = c.Acquire(ctx, apitypes.AcquireRequest{Resource: "r1", Mode: "sideways"})
	var e *client.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "mode", e.Field)
	_, err = c.CloseSession(ctx, apitypes.SessionRequest{Session: s.Session})
	require.NoError(t, err)

	// Queue: enqueue, dequeue, nack, dequeue again, ack, empty.
	en, err := c.Enqueue(ctx, apitypes.EnqueueRequest{Queue: "jobs", Body: []byte("job-1")})
	require.NoError(t, err)
	d, err := c.Dequeue(ctx, apitypes.DequeueRequest{Queue: "jobs", Visibility: apitypes.Duration(30 * time.Second)})
	require.NoError(t, err)
	require.False(t, d.Empty)
	assert.Equal(t, en.ID, d.ID)
	assert.Equal(t, "job-1", string(d.Body))
	_, err = c.Nack(ctx, apitypes.ReceiptRequest{Queue: "jobs", Receipt: d.Receipt})
	require.NoError(t, err)
	d, err = c.Dequeue(ctx, apitypes.DequeueRequest{Queue: "jobs"})
	require.NoError(t, err)
	assert.Equal(t, uint32(2), d.Deliveries)
	_, err = c.Ack(ctx, apitypes.ReceiptRequest{Queue: "jobs", Receipt: d.Receipt})
	require.NoError(t, err)
	_, err = c.Ack(ctx, apitypes.ReceiptRequest{Queue: "jobs", Receipt: d.Receipt})
	assert.True(t, client.IsCode(err, apitypes.CodeUnknownReceipt), "%v", err)
	d, err = c.Dequeue(ctx, apitypes.DequeueRequest{Queue: "jobs"})
	require.NoError(t, err)
	assert.True(t, d.Empty)

	// Cache: put, get from another node, delete, 404.
	p, err := c.CachePut(ctx, "k/1", []byte("v1"))
	require.NoError(t, err)
	v, err := c.At(2).CacheGet(ctx, "k/1")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(v.Value))
	assert.Equal(t, p.Version, v.Version)
	_, err = c.CacheDelete(ctx, "k/1")
	require.NoError(t, err)
	_, err = c.CacheGet(ctx, "k/1")
	assert.True(t, client.IsCode(err, apitypes.CodeNotFound), "%v", err)

	// Node calls.
	for i, ep := range c.Endpoints() {
		st, err := c.At(i).Status(ctx)
		require.NoError(t, err, ep)
		assert.Equal(t, []string{"locks", "queues", "caches"}, st.Services)
		require.NotNil(t, st.Locks)
		assert.NotEmpty(t, st.Locks.Leader)
		h, err := c.At(i).Health(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ok", h.Status)
	}

	// Stop the lock leader: the client, told by a follower or by its
	// memory to go there, falls back to the others until a new leader
	// serves.
	leader := cl.LockLeader()
	require.NotEmpty(t, leader)
	_, err = c.Lock(ctx, "r1") // remember the leader
	require.NoError(t, err)
	cl.StopNode(leader)
	a, err = c.Acquire(ctx, apitypes.AcquireRequest{Resource: "after", Wait: apitypes.Duration(time.Second)})
	require.NoError(t, err)
	assert.True(t, a.Granted)
}
