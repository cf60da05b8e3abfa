package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/httpapi/client"
)

// node is a fake node: an httptest server with a handler and a hit count.
type node struct {
	*httptest.Server
	hits atomic.Int32
}

func newNode(t *testing.T, h http.HandlerFunc) *node {
	t.Helper()
	n := &node{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(n.Close)
	return n
}

// deadURL is the URL of a server that is closed: connections are refused.
func deadURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func noQuorum(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "no quorum", "code": "no_quorum", "detail": "election"})
}

// granted answers an acquire with the resource of its body.
func granted(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req apitypes.AcquireRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Resource == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "no body", "code": "bad_request"})
			return
		}
		writeJSON(w, http.StatusOK, apitypes.AcquireReply{Granted: true, Token: 7, Session: 3, Resource: req.Resource, Mode: req.Mode})
	}
}

func redirectTo(target func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target()+r.URL.RequestURI())
		writeJSON(w, http.StatusTemporaryRedirect, map[string]any{"error": "not leader", "code": "redirect", "leader": "n2"})
	}
}

func newClient(t *testing.T, endpoints ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: endpoints, Timeout: 2 * time.Second, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	require.NoError(t, err)
	return c
}

func TestFollowsRedirectResendingTheBodyAndRemembersTheLeader(t *testing.T) {
	leader := newNode(t, granted(t))
	follower := newNode(t, redirectTo(func() string { return leader.URL }))
	c := newClient(t, follower.URL)
	rep, err := c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r1"})
	require.NoError(t, err)
	assert.Equal(t, "r1", rep.Resource, "the 307 re-sent the body")
	assert.Equal(t, apitypes.ModeExclusive, rep.Mode, "an empty mode is exclusive")
	assert.Equal(t, uint64(7), rep.Token)
	_, err = c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r2"})
	require.NoError(t, err)
	assert.Equal(t, int32(1), follower.hits.Load(), "the second lock request goes to the leader the redirect named")
	assert.Equal(t, int32(2), leader.hits.Load())
}

func TestRetries503OnTheNextEndpoint(t *testing.T) {
	busy := newNode(t, noQuorum)
	ok := newNode(t, granted(t))
	c := newClient(t, busy.URL, ok.URL)
	_, err := c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r"})
	require.NoError(t, err)
	assert.Equal(t, int32(1), busy.hits.Load())
	_, err = c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r"})
	require.NoError(t, err)
	assert.Equal(t, int32(1), busy.hits.Load(), "the endpoint that answered is tried first")
}

func TestRedirectToADeadLeaderFallsBackToAnotherEndpoint(t *testing.T) {
	dead := deadURL(t)
	stale := newNode(t, redirectTo(func() string { return dead }))
	ok := newNode(t, granted(t))
	c := newClient(t, stale.URL, ok.URL)
	rep, err := c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r"})
	require.NoError(t, err)
	assert.True(t, rep.Granted)
	assert.Equal(t, int32(1), stale.hits.Load())
	assert.Equal(t, int32(1), ok.hits.Load())
}

func TestAPIErrorsAreTypedAndNotRetried(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": `wait: "soon" is not a duration`, "code": "bad_request", "field": "wait", "session": 4})
	})
	other := newNode(t, granted(t))
	c := newClient(t, n.URL, other.URL)
	_, err := c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r", Wait: apitypes.Duration(time.Second)})
	var e *client.Error
	require.True(t, errors.As(err, &e), "got %T %v", err, err)
	assert.Equal(t, http.StatusBadRequest, e.Status)
	assert.Equal(t, "bad_request", e.Code)
	assert.Equal(t, "wait", e.Field)
	assert.Equal(t, float64(4), e.Extra["session"])
	assert.Contains(t, e.Error(), `400 bad_request: wait: "soon" is not a duration (field "wait")`)
	assert.Equal(t, "bad_request", client.Code(err))
	assert.False(t, e.Retryable())
	assert.Equal(t, int32(1), n.hits.Load())
	assert.Equal(t, int32(0), other.hits.Load(), "a 400 is not retried")
}

func TestRetriesRunOut(t *testing.T) {
	a, b := newNode(t, noQuorum), newNode(t, noQuorum)
	c, err := client.New(client.Config{Endpoints: []string{a.URL, b.URL}, Retries: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	require.NoError(t, err)
	_, err = c.Enqueue(context.Background(), apitypes.EnqueueRequest{Queue: "q", Body: []byte("x")})
	var e *client.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status)
	assert.Equal(t, apitypes.CodeNoQuorum, e.Code)
	assert.Equal(t, time.Second, e.RetryAfter)
	assert.Equal(t, 4, e.Attempts)
	assert.Equal(t, int32(2), a.hits.Load(), "attempts alternate between the endpoints")
	assert.Equal(t, int32(2), b.hits.Load())
}

func TestNoAnswerIsUnreachable(t *testing.T) {
	c, err := client.New(client.Config{Endpoints: []string{deadURL(t)}, Retries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	require.NoError(t, err)
	_, err = c.Status(context.Background())
	var e *client.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	assert.Equal(t, 0, e.Status)
	assert.Equal(t, client.CodeUnreachable, e.Code)
	assert.Equal(t, 2, e.Attempts)
	assert.NotNil(t, errors.Unwrap(e))
}

func TestCancelledContextStopsTheRetries(t *testing.T) {
	n := newNode(t, noQuorum)
	c, err := client.New(client.Config{Endpoints: []string{n.URL}, Retries: 100, MinBackoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	_, err = c.Health(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, "deadline", client.Code(err))
	assert.Less(t, n.hits.Load(), int32(10))
}

func TestTooManyRedirects(t *testing.T) {
	var self string
	n := newNode(t, redirectTo(func() string { return self }))
	self = n.URL
	c := newClient(t, n.URL)
	_, err := c.Lock(context.Background(), "r")
	var e *client.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	assert.Equal(t, http.StatusTemporaryRedirect, e.Status)
	assert.Contains(t, e.Message, "redirects")
}

func TestAcquireWaitExtendsTheAttemptTimeout(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // a queued acquire
		granted(t)(w, r)
	})
	c, err := client.New(client.Config{Endpoints: []string{n.URL}, Timeout: 100 * time.Millisecond, Retries: -1})
	require.NoError(t, err)
	_, err = c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r", Wait: apitypes.Duration(time.Second)})
	require.NoError(t, err)
	_, err = c.Acquire(context.Background(), apitypes.AcquireRequest{Resource: "r"})
	assert.Equal(t, client.CodeUnreachable, client.Code(err), "without a wait the attempt times out")
}

func TestCache(t *testing.T) {
	var putBody []byte
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/cache/a/b c":
			assert.Equal(t, "/cache/a%2Fb%20c", r.URL.RawPath, "the key is one path segment")
			w.Header().Set(apitypes.HeaderVersion, "12")
			w.Header().Set(apitypes.HeaderHit, "true")
			_, _ = w.Write([]byte("v\x00"))
		case r.Method == http.MethodGet:
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "key not found", "code": "not_found", "key": "zz", "version": 3})
		case r.Method == http.MethodPut:
			putBody, _ = io.ReadAll(r.Body)
			writeJSON(w, http.StatusOK, apitypes.CachePutReply{Key: "k", Version: 5})
		case r.Method == http.MethodDelete:
			writeJSON(w, http.StatusOK, apitypes.CacheDeleteReply{Key: "k", Version: 6, Deleted: true})
		}
	})
	c := newClient(t, n.URL+"/")
	ctx := context.Background()
	v, err := c.CacheGet(ctx, "a/b c")
	require.NoError(t, err)
	assert.Equal(t, apitypes.CacheValue{Key: "a/b c", Value: []byte("v\x00"), Version: 12, Hit: true}, *v)
	_, err = c.CacheGet(ctx, "zz")
	assert.True(t, client.IsCode(err, apitypes.CodeNotFound), "%v", err)
	assert.Equal(t, http.StatusNotFound, client.StatusOf(err))
	p, err := c.CachePut(ctx, "k", []byte("value"))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), p.Version)
	assert.Equal(t, "value", string(putBody))
	d, err := c.CacheDelete(ctx, "k")
	require.NoError(t, err)
	assert.True(t, d.Deleted)
}

func TestQueueReceiptsAreDecimalStrings(t *testing.T) {
	const big = apitypes.Decimal(1<<62 + 1)
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/queue/dequeue":
			writeJSON(w, http.StatusOK, apitypes.DequeueReply{Queue: "q", ID: 9, Receipt: big, Body: []byte("hello"), Deliveries: 1})
		case "/queue/ack":
			assert.JSONEq(t, `{"queue":"q","receipt":"4611686018427387905"}`, string(raw))
			writeJSON(w, http.StatusOK, apitypes.AckReply{Acked: true, Queue: "q", Receipt: big})
		}
	})
	c := newClient(t, n.URL)
	d, err := c.Dequeue(context.Background(), apitypes.DequeueRequest{Queue: "q"})
	require.NoError(t, err)
	assert.Equal(t, big, d.Receipt)
	assert.Equal(t, "hello", string(d.Body))
	a, err := c.Ack(context.Background(), apitypes.ReceiptRequest{Queue: "q", Receipt: d.Receipt})
	require.NoError(t, err)
	assert.True(t, a.Acked)
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg  client.Config
		want string
	}{
		{client.Config{}, "endpoints: none given"},
		{client.Config{Endpoints: []string{"http://a:1", "localhost:7401"}}, `endpoints[1]: "localhost:7401" is not an http:// or https:// base URL`},
		{client.Config{Endpoints: []string{"http://a:1"}, Timeout: -time.Second}, "timeout: -1s is negative"},
		{client.Config{Endpoints: []string{"http://a:1"}, MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "max_backoff: 1ms below min_backoff 1s"},
	} {
		_, err := client.New(tc.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}
