package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/runtime"
)

// fakeHost is a FaultSetter that validates like a Host of nodes n1..n3
// (it is n1).
type fakeHost struct {
	mu   sync.Mutex
	f    runtime.Faults
	sets int
}

func (h *fakeHost) SetFaults(f runtime.Faults) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.Loss < 0 || f.Loss > 1 {
		return &runtime.FaultError{Field: "loss", Value: "bad", Reason: "outside [0, 1]"}
	}
	for _, id := range f.Drop {
		if id != "n2" && id != "n3" {
			return &runtime.FaultError{Field: "drop", Value: string(id), Reason: "not a peer"}
		}
	}
	h.f = f
	h.sets++
	return nil
}

func (h *fakeHost) Faults() runtime.Faults {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.f
}

// do sends one request to a fresh endpoint over h and returns the status,
// the headers and the body decoded as a JSON object.
func do(t *testing.T, h FaultSetter, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	Handler(h, nil).ServeHTTP(rec, req)
	res := rec.Result()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"), "%s", raw)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return res.StatusCode, res.Header, out
}

func TestGetPutDeleteFaults(t *testing.T) {
	h := &fakeHost{}
	code, _, body := do(t, h, http.MethodGet, "/faults", "")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, body)

	code, _, body = do(t, h, http.MethodPut, "/faults",
		`{"drop":["n2"],"loss":0.25,"delay":"50ms","jitter":"5ms","duplicate":0.5}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	want := runtime.Faults{Drop: []nodes.NodeID{"n2"}, Loss: 0.25, Delay: 50 * time.Millisecond,
		Jitter: 5 * time.Millisecond, Duplicate: 0.5}
	require.Equal(t, want, h.Faults())
	require.Equal(t, map[string]any{"drop": []any{"n2"}, "loss": 0.25, "delay": "50ms", "jitter": "5ms", "duplicate": 0.5}, body)

	code, _, body = do(t, h, http.MethodGet, "/faults", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "50ms", body["delay"])

	// PUT replaces: a field left out is cleared.
	code, _, _ = do(t, h, http.MethodPut, "/faults", `{"loss":1}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, runtime.Faults{Loss: 1}, h.Faults())

	code, _, body = do(t, h, http.MethodDelete, "/faults", "")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, body)
	require.Equal(t, runtime.Faults{}, h.Faults())
}

func TestPutFaultsBadRequests(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"value refused by the host", `{"loss":1.5}`, "loss"},
		{"unknown peer", `{"drop":["n9"]}`, "drop"},
		{"unknown field", `{"loss":0.1,"dealy":"5ms"}`, "dealy"},
		{"duration as a number", `{"delay":50}`, "delay"},
		{"bad duration", `{"jitter":"soon"}`, "jitter"},
		{"wrong type", `{"loss":"high"}`, "loss"},
		{"empty body", ``, ""},
		{"not an object", `[1]`, ""},
		{"null", `null`, ""},
		{"two values", `{} {}`, ""},
		{"bad syntax", `{"loss":`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{f: runtime.Faults{Loss: 0.5}}
			code, _, body := do(t, h, http.MethodPut, "/faults", tc.body)
			require.Equal(t, http.StatusBadRequest, code, "%v", body)
			require.NotEmpty(t, body["error"])
			if tc.field == "" {
				require.NotContains(t, body, "field")
			} else {
				require.Equal(t, tc.field, body["field"], "%v", body)
			}
			require.Equal(t, runtime.Faults{Loss: 0.5}, h.Faults(), "a refused request changes nothing")
		})
	}
}

func TestPutFaultsBodyTooLarge(t *testing.T) {
	h := &fakeHost{}
	big := `{"drop":["` + strings.Repeat("n", MaxBodyBytes) + `"]}`
	code, _, body := do(t, h, http.MethodPut, "/faults", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, "%v", body)
	require.Contains(t, body["error"], "1048576")
	require.Zero(t, h.sets)
}

func TestFaultsMethodNotAllowedAndNotFound(t *testing.T) {
	h := &fakeHost{}
	for _, m := range []string{http.MethodPost, http.MethodPatch} {
		code, hdr, body := do(t, h, m, "/faults", `{}`)
		require.Equal(t, http.StatusMethodNotAllowed, code)
		require.Equal(t, "GET, PUT, DELETE", hdr.Get("Allow"))
		require.Contains(t, body["error"], m)
	}
	code, _, _ := do(t, h, http.MethodGet, "/faults/x", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Zero(t, h.sets)
}

func TestHandlerOverRealHTTP(t *testing.T) {
	h := &fakeHost{}
	ln, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(Handler(h, nil))
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/faults", strings.NewReader(`{"drop":["n3"]}`))
	require.NoError(t, err)
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, []nodes.NodeID{"n3"}, h.Faults().Drop)
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		ln, err := Listen(addr)
		if addr == "[::1]:0" && err != nil {
			t.Logf("no IPv6 loopback here: %v", err)
			continue
		}
		require.NoError(t, err, addr)
		require.NoError(t, ln.Close())
	}
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "10.0.0.1:8080"} {
		ln, err := Listen(addr)
		require.Error(t, err, addr)
		require.Nil(t, ln)
		require.Contains(t, err.Error(), "loopback only", addr)
	}
	_, err := Listen("no-port")
	require.ErrorContains(t, err, "no-port")
}
