package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/protocols/mesi"
)

// Tags of stored cache values (see the package doc).
const (
	tagTombstone byte = 0x00 // the key was deleted: the stored value is this byte alone
	tagValue     byte = 0x01 // a live value follows the tag
)

// Response headers of GET /cache/{key} (see package apitypes).
const (
	HeaderVersion = apitypes.HeaderVersion // the value's version
	HeaderHit     = apitypes.HeaderHit     // "true" if served from this node's cache
)

// encodeValue tags a live value for storage.
func encodeValue(v []byte) []byte { return append([]byte{tagValue}, v...) }

// decodeValue reads a stored value: the value and whether it is live. A
// value without a tag (not written through this API) is returned as is.
func decodeValue(stored []byte) ([]byte, bool) {
	switch {
	case len(stored) == 1 && stored[0] == tagTombstone:
		return nil, false
	case len(stored) > 0 && stored[0] == tagValue:
		return stored[1:], true
	}
	return stored, true
}

// cacheKey returns the key of a /cache/{key} path, or a 400.
func cacheKey(r *http.Request) (string, *apiError) {
	key := strings.TrimPrefix(r.URL.Path, "/cache/")
	if key == "" || len(key) > mesi.DefaultMaxKeyBytes {
		return "", badField("key", "key: %d bytes, want 1..%d", len(key), mesi.DefaultMaxKeyBytes)
	}
	return key, nil
}

// cacheGet serves GET /cache/{key}: the value as the body
// (application/octet-stream), its version and whether it was a local hit
// in headers; 404 if the key was never written or was deleted.
func (srv *Server) cacheGet(w http.ResponseWriter, r *http.Request) *apiError {
	key, e := cacheKey(r)
	if e != nil {
		return e
	}
	rep, e := srv.cacheCall(r, caches.OpGet, key, nil)
	if e != nil {
		return e
	}
	value, live := decodeValue(rep.Value)
	if !rep.Found || !live {
		return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("key %q not found", key), code: "not_found",
			extra: map[string]any{"key": key, "version": rep.Version}}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HeaderVersion, strconv.FormatUint(rep.Version, 10))
	w.Header().Set(HeaderHit, strconv.FormatBool(rep.Hit))
	w.Header().Set("Content-Length", strconv.Itoa(len(value)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(value)
	return nil
}

// cachePut serves PUT /cache/{key}: the body is the value, at most
// CacheConfig.MaxValueBytes-1 bytes. Answers {"key", "version"}.
func (srv *Server) cachePut(w http.ResponseWriter, r *http.Request) *apiError {
	key, e := cacheKey(r)
	if e != nil {
		return e
	}
	limit := int64(srv.s.Caches.MaxValueBytes - 1)
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("value over %d bytes", limit), code: "too_large", field: "value"}
		}
		return badField("value", "reading the value: %v", err)
	}
	rep, e := srv.cacheCall(r, caches.OpPut, key, encodeValue(value))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, apitypes.CachePutReply{Key: key, Version: rep.Version})
	return nil
}

// cacheDelete serves DELETE /cache/{key}: a write of a tombstone through
// the coherence protocol. Answers {"key", "version", "deleted": true}.
func (srv *Server) cacheDelete(w http.ResponseWriter, r *http.Request) *apiError {
	key, e := cacheKey(r)
	if e != nil {
		return e
	}
	rep, e := srv.cacheCall(r, caches.OpPut, key, []byte{tagTombstone})
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, apitypes.CacheDeleteReply{Key: key, Version: rep.Version, Deleted: true})
	return nil
}

// cacheCall runs one get or put as a pool client, its turn held for the
// whole operation (a cache node answers a client's requests in order).
func (srv *Server) cacheCall(r *http.Request, op caches.OpKind, key string, value []byte) (*caches.Reply, *apiError) {
	ctx, cancel := srv.withTimeout(r.Context())
	defer cancel()
	mb, err := srv.clients.pooled(ctx)
	if err != nil {
		return nil, asAPIError(err)
	}
	defer srv.clients.done(mb, true)
	req := srv.clients.seq.next()
	m, err := mb.call(ctx, msgKey{kindCacheReply, req}, &caches.Request{Client: string(mb.id), Req: req, Op: op, Key: key, Value: value})
	if err != nil {
		return nil, asAPIError(err)
	}
	rep, ok := m.(*caches.Reply)
	if !ok {
		return nil, asAPIError(fmt.Errorf("unexpected answer %s", nodes.TypeName(m.Type())))
	}
	switch rep.Service {
	case nodes.ServiceOK:
		return rep, nil
	case nodes.ServiceBadRequest:
		return nil, badField("key", "%s", rep.Detail)
	}
	return nil, busy(rep.Detail)
}
