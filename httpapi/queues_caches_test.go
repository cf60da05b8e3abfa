package httpapi

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

func TestQueueEnqueueDequeueAckNack(t *testing.T) {
	c := newCluster(t, 3, queueFactory, func(c *Config, ids []nodes.NodeID) {
		c.Queues = &QueueConfig{Servers: ids}
	})
	n1 := c.nodes["n1"].url
	payload := []byte("hello\x00world") // any bytes: the body is base64

	// The first request creates the queue's group; retry through its
	// election, following redirects to the leader.
	r := callOK(t, follow, http.MethodPost, n1+"/queue/enqueue", map[string]any{"queue": "jobs", "body": payload})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	id := r.json(t)["id"].(string)
	require.NotEmpty(t, id)
	require.Equal(t, false, r.json(t)["duplicate"])

	// Exactly one node leads the group; the others redirect to it. (The
	// dedup id makes the three enqueues one message.)
	var leader string
	var locations []string
	for _, nid := range c.ids {
		url := c.nodes[nid].url
		r := call(t, noFollow, http.MethodPost, url+"/queue/enqueue", map[string]any{"queue": "jobs", "body": []byte("x"), "dedup_id": "same"})
		switch r.status {
		case http.StatusOK:
			require.Empty(t, leader, "two leaders")
			leader = url
		case http.StatusTemporaryRedirect:
			locations = append(locations, r.header.Get("Location"))
		default:
			t.Fatalf("enqueue at %s: %d %s", nid, r.status, r.body)
		}
	}
	require.NotEmpty(t, leader)
	require.Equal(t, []string{leader + "/queue/enqueue", leader + "/queue/enqueue"}, locations)

	r = call(t, follow, http.MethodPost, n1+"/queue/dequeue", map[string]any{"queue": "jobs", "visibility": "10s"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	first := r.json(t)
	require.Equal(t, false, first["empty"])
	require.Equal(t, id, first["id"])
	require.Equal(t, base64.StdEncoding.EncodeToString(payload), first["body"])
	require.Equal(t, float64(1), first["deliveries"])

	r = call(t, follow, http.MethodPost, n1+"/queue/nack", map[string]any{"queue": "jobs", "receipt": first["receipt"]})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["nacked"])

	r = call(t, follow, http.MethodPost, n1+"/queue/dequeue", map[string]any{"queue": "jobs"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	second := r.json(t)
	require.Equal(t, id, second["id"], "a nacked message is delivered again first")
	require.Equal(t, float64(2), second["deliveries"])
	require.NotEqual(t, first["receipt"], second["receipt"])

	r = call(t, follow, http.MethodPost, n1+"/queue/ack", map[string]any{"queue": "jobs", "receipt": first["receipt"]})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "unknown_receipt", r.json(t)["code"])
	r = call(t, follow, http.MethodPost, n1+"/queue/ack", map[string]any{"queue": "jobs", "receipt": second["receipt"]})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["acked"])

	// The dedup'd "x" is the one message left.
	r = call(t, follow, http.MethodPost, n1+"/queue/dequeue", map[string]any{"queue": "jobs"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("x")), r.json(t)["body"])
	r = call(t, follow, http.MethodPost, n1+"/queue/ack", map[string]any{"queue": "jobs", "receipt": r.json(t)["receipt"]})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, follow, http.MethodPost, n1+"/queue/dequeue", map[string]any{"queue": "jobs"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["empty"])
}

func TestCachePutGetDeleteAcrossNodes(t *testing.T) {
	c := newCluster(t, 3, cacheFactory, func(c *Config, ids []nodes.NodeID) {
		c.Caches = &CacheConfig{Servers: ids, MaxValueBytes: 64}
	})
	n1, n2, n3 := c.nodes["n1"].url, c.nodes["n2"].url, c.nodes["n3"].url

	r := call(t, noFollow, http.MethodGet, n1+"/cache/k1", nil)
	require.Equal(t, http.StatusNotFound, r.status, "never written: %s", r.body)

	r = call(t, noFollow, http.MethodPut, n1+"/cache/k1", "v1")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	v1 := num(t, r.json(t), "version")
	r = call(t, noFollow, http.MethodGet, n2+"/cache/k1", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "v1", string(r.body))
	require.Equal(t, "application/octet-stream", r.header.Get("Content-Type"))

	r = call(t, noFollow, http.MethodPut, n2+"/cache/k1", "v2")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Greater(t, num(t, r.json(t), "version"), v1)
	for _, url := range []string{n1, n2, n3} { // coherent: every node reads the last write
		r = call(t, noFollow, http.MethodGet, url+"/cache/k1", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "v2", string(r.body), "at %s", url)
	}

	r = call(t, noFollow, http.MethodDelete, n3+"/cache/k1", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["deleted"])
	for _, url := range []string{n1, n2, n3} {
		r = call(t, noFollow, http.MethodGet, url+"/cache/k1", nil)
		require.Equal(t, http.StatusNotFound, r.status, "deleted, at %s: %s", url, r.body)
	}

	// An empty value is a value, not a delete; a key may hold a slash.
	r = call(t, noFollow, http.MethodPut, n1+"/cache/dir/empty", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodGet, n3+"/cache/dir/empty", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Empty(t, r.body)

	// The value limit is MaxValueBytes minus the tag byte.
	r = call(t, noFollow, http.MethodPut, n1+"/cache/big", make([]byte, 63))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodPut, n1+"/cache/big", make([]byte, 64))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s", r.body)
}
