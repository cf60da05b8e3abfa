package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/distsync/distsync/httpapi/apitypes"
)

// Route keys: where a service's redirects led is remembered per key.
const routeLocks = "locks"

func routeQueue(name string) string { return "queue:" + name }

// acquireGrace is added to an acquire attempt's timeout beyond its wait:
// the server answers a queued acquire up to its wait grace (1s by
// default) after the wait.
const acquireGrace = 2 * time.Second

// Acquire asks for a lock: POST /locks/acquire. An empty Mode is
// exclusive. Without a Session the node opens one (see
// apitypes.AcquireRequest) and the reply names it. A lock not granted is
// an *Error: 408 wait_timeout, 409 would_block, deadlock_victim...
func (c *Client) Acquire(ctx context.Context, req apitypes.AcquireRequest) (*apitypes.AcquireReply, error) {
	if req.Mode == "" {
		req.Mode = apitypes.ModeExclusive
	}
	extra := time.Duration(0)
	if req.Wait != nil {
		if d, err := time.ParseDuration(*req.Wait); err == nil && d > 0 {
			extra = d + acquireGrace
		}
	}
	var out apitypes.AcquireReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: "/locks/acquire", route: routeLocks, extra: extra}, req, &out)
	return ret(&out, err)
}

// Release releases req.Resource held by req.Session: POST /locks/release.
func (c *Client) Release(ctx context.Context, req apitypes.SessionRequest) (*apitypes.SessionReply, error) {
	return c.sessionCall(ctx, "/locks/release", req)
}

// Renew keeps req.Session alive for another TTL: POST /locks/renew.
func (c *Client) Renew(ctx context.Context, req apitypes.SessionRequest) (*apitypes.SessionReply, error) {
	return c.sessionCall(ctx, "/locks/renew", req)
}

// CloseSession closes req.Session, releasing its locks: POST
// /locks/session/close.
func (c *Client) CloseSession(ctx context.Context, req apitypes.SessionRequest) (*apitypes.SessionReply, error) {
	return c.sessionCall(ctx, "/locks/session/close", req)
}

func (c *Client) sessionCall(ctx context.Context, path string, req apitypes.SessionRequest) (*apitypes.SessionReply, error) {
	var out apitypes.SessionReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: path, route: routeLocks}, req, &out)
	return ret(&out, err)
}

// OpenSession opens a lock session (TTL: req.TTL, or the server's
// default): POST /locks/session.
func (c *Client) OpenSession(ctx context.Context, req apitypes.SessionRequest) (*apitypes.OpenSessionReply, error) {
	var out apitypes.OpenSessionReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: "/locks/session", route: routeLocks}, req, &out)
	return ret(&out, err)
}

// Lock returns a lock's holders and waiters: GET /locks/{resource}.
func (c *Client) Lock(ctx context.Context, resource string) (*apitypes.LockState, error) {
	if resource == "" {
		return nil, fmt.Errorf("client: lock: resource: empty")
	}
	var out apitypes.LockState
	err := c.doJSON(ctx, call{method: http.MethodGet, path: "/locks/" + url.PathEscape(resource), route: routeLocks}, nil, &out)
	return ret(&out, err)
}

// Enqueue adds a message to req.Queue: POST /queue/enqueue. It answers
// once the message is committed on a majority of the queue's group.
func (c *Client) Enqueue(ctx context.Context, req apitypes.EnqueueRequest) (*apitypes.EnqueueReply, error) {
	if req.Body == nil {
		req.Body = []byte{} // "body" is required: an empty message is "".
	}
	var out apitypes.EnqueueReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: "/queue/enqueue", route: routeQueue(req.Queue)}, req, &out)
	return ret(&out, err)
}

// Dequeue takes the oldest ready message of req.Queue, in flight for the
// visibility timeout, or answers Empty: POST /queue/dequeue.
func (c *Client) Dequeue(ctx context.Context, req apitypes.DequeueRequest) (*apitypes.DequeueReply, error) {
	var out apitypes.DequeueReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: "/queue/dequeue", route: routeQueue(req.Queue)}, req, &out)
	return ret(&out, err)
}

// Ack deletes the message delivered under req.Receipt: POST /queue/ack.
func (c *Client) Ack(ctx context.Context, req apitypes.ReceiptRequest) (*apitypes.AckReply, error) {
	var out apitypes.AckReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: "/queue/ack", route: routeQueue(req.Queue)}, req, &out)
	return ret(&out, err)
}

// Nack makes the message delivered under req.Receipt ready again at once:
// POST /queue/nack.
func (c *Client) Nack(ctx context.Context, req apitypes.ReceiptRequest) (*apitypes.NackReply, error) {
	var out apitypes.NackReply
	err := c.doJSON(ctx, call{method: http.MethodPost, path: "/queue/nack", route: routeQueue(req.Queue)}, req, &out)
	return ret(&out, err)
}

// CacheGet reads a key: GET /cache/{key}. A key never written, or
// deleted, is an *Error with Status 404 and Code apitypes.CodeNotFound.
func (c *Client) CacheGet(ctx context.Context, key string) (*apitypes.CacheValue, error) {
	if key == "" {
		return nil, fmt.Errorf("client: cache get: key: empty")
	}
	ans, err := c.do(ctx, call{method: http.MethodGet, path: cachePath(key)})
	if err != nil {
		return nil, err
	}
	out := &apitypes.CacheValue{Key: key, Value: ans.body}
	if v := ans.header.Get(apitypes.HeaderVersion); v != "" {
		if out.Version, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, &Error{Method: http.MethodGet, URL: cachePath(key), Status: ans.status, Code: CodeBadAnswer,
				Message: fmt.Sprintf("header %s: %q is not a version", apitypes.HeaderVersion, v), Err: err}
		}
	}
	out.Hit = ans.header.Get(apitypes.HeaderHit) == "true"
	return out, nil
}

// CachePut writes value under key: PUT /cache/{key}.
func (c *Client) CachePut(ctx context.Context, key string, value []byte) (*apitypes.CachePutReply, error) {
	if key == "" {
		return nil, fmt.Errorf("client: cache put: key: empty")
	}
	if value == nil {
		value = []byte{}
	}
	var out apitypes.CachePutReply
	ans, err := c.do(ctx, call{method: http.MethodPut, path: cachePath(key), body: value, contentType: "application/octet-stream"})
	if err == nil {
		err = decodeAnswer(http.MethodPut, cachePath(key), ans, &out)
	}
	return ret(&out, err)
}

// CacheDelete deletes key (a tombstone written through the coherence
// protocol): DELETE /cache/{key}.
func (c *Client) CacheDelete(ctx context.Context, key string) (*apitypes.CacheDeleteReply, error) {
	if key == "" {
		return nil, fmt.Errorf("client: cache delete: key: empty")
	}
	var out apitypes.CacheDeleteReply
	err := c.doJSON(ctx, call{method: http.MethodDelete, path: cachePath(key)}, nil, &out)
	return ret(&out, err)
}

// Status returns a node's status (GET /status): the first endpoint's that
// answers. Use At for a given node.
func (c *Client) Status(ctx context.Context) (*apitypes.Status, error) {
	var out apitypes.Status
	err := c.doJSON(ctx, call{method: http.MethodGet, path: "/status"}, nil, &out)
	return ret(&out, err)
}

// Health returns a node's health (GET /health): the first endpoint's that
// answers 200. An unhealthy node answers 503 (code unhealthy), retried on
// the next endpoint; use At for a given node.
func (c *Client) Health(ctx context.Context) (*apitypes.Health, error) {
	var out apitypes.Health
	err := c.doJSON(ctx, call{method: http.MethodGet, path: "/health"}, nil, &out)
	return ret(&out, err)
}

// cachePath is the path of a key, escaped (a "/" in a key is %2F).
func cachePath(key string) string { return "/cache/" + url.PathEscape(key) }

// ret returns out, or nil and err.
func ret[T any](out *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}
