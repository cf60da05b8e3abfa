package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkHTTPCeiling measures what the TCP-mode throughput targets are
// up against on this machine: HTTP/1.1 requests per second with a handler
// that does nothing but answer a small JSON body, server and 64 keep-alive
// clients in one process, no Raft, no disk. One op is one request and its
// answer; req/s is the rate over the run. A lock acquire+release is two
// such requests, an enqueue or a cache get one.
func BenchmarkHTTPCeiling(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	answer := []byte(`{"ok":true,"session":12,"client":"c","seq":7}`)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/locks/release"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	body := []byte(`{"session":12,"resource":"r1","client":"c","seq":7}`)
	b.ReportAllocs()
	b.SetParallelism(32) // 64 clients on 2 cores
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
