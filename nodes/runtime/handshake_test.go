package runtime

import (
	"bytes"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// helloBytes returns a signed hello with a fresh nonce.
func helloBytes(token []byte, from, to nodes.NodeID, at time.Time) []byte {
	var nonce [helloNonceBytes]byte
	_, _ = crand.Read(nonce[:])
	return signHello(token, from, to, nonce, at)
}

// clientHandshake passes the dialer's side of the handshake on conn, as
// from dialing to, and checks the ack.
func clientHandshake(conn net.Conn, token []byte, from, to nodes.NodeID) error {
	b := helloBytes(token, from, to, time.Now())
	return sendHello(conn, token, b)
}

// sendHello writes the hello b on conn and checks the ack.
func sendHello(conn net.Conn, token, b []byte) error {
	h, _, err := readHello(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	defer func() { _ = conn.SetDeadline(time.Time{}) }()
	if _, err := conn.Write(b); err != nil {
		return err
	}
	var ack [macBytes]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return fmt.Errorf("reading ack: %w", err)
	}
	if !hmac.Equal(ack[:], ackMAC(token, h.to, h.from, h.nonce)) {
		return errors.New("bad ack")
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for the Host's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// warnLogger returns a logger of Warn and above into a buffer.
func warnLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn})), buf
}

// authHost starts n1 with peers n2 and n3 (neither running), token
// "s3cret" and a short DialTimeout, logging warnings into the buffer.
func authHost(t *testing.T) (*Host, *syncBuffer) {
	t.Helper()
	logger, buf := warnLogger()
	h := single(t, probeFactory(nil, nil), func(c *Config) {
		c.Peers = map[nodes.NodeID]string{"n1": "", "n2": "127.0.0.1:1", "n3": "127.0.0.1:1"}
		c.Token = []byte("s3cret")
		c.DialTimeout = 300 * time.Millisecond
		c.BackoffMax = 50 * time.Millisecond
		c.Logger = logger
	})
	return h, buf
}

// dialHost opens a raw TCP connection to h, closed when the test ends.
func dialHost(t *testing.T, h *Host) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", h.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// requireRefused waits until the host closes conn and checks that it sent
// nothing (no ack) first.
func requireRefused(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(conn)
	if err != nil { // a reset is a close too; a timeout is not
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection still open: %v", err)
	}
	require.Empty(t, got, "the host answered a refused hello")
}

// requireUnharmed checks that h still accepts a good peer and delivers its
// frames, and that it received nothing else.
func requireUnharmed(t *testing.T, h *Host) {
	t.Helper()
	conn := dialHost(t, h)
	require.NoError(t, clientHandshake(conn, []byte("s3cret"), "n2", "n1"))
	_, err := conn.Write(frameOf("n2", "n1", &note{N: 7}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.Stats().Received == 1 }, 5*time.Second, 2*time.Millisecond)
	inspect(t, h, func(p *probe) { require.Equal(t, []delivery{{from: "n2", n: 7}}, p.got) })
}

func TestHandshakeRefusesBadHellos(t *testing.T) {
	token := []byte("s3cret")
	good := func() []byte { return helloBytes(token, "n2", "n1", time.Now()) }
	withMagic := func(rest ...byte) []byte { return append([]byte(helloMagic), rest...) }
	tests := []struct {
		name      string
		bytes     func() []byte
		closeSend bool   // half-close after writing, instead of falling silent
		reason    string // in the log line
	}{
		{"garbage", func() []byte { return []byte("GET / HTTP/1.1\r\nHost: n1\r\n\r\n") }, false, "bad magic"},
		{"short garbage then silence", func() []byte { return []byte("hi") }, false, "i/o timeout"},
		{"nothing then close", func() []byte { return nil }, true, "EOF"},
		{"truncated hello then close", func() []byte { return good()[:40] }, true, "unexpected EOF"},
		{"truncated hello then silence", func() []byte { b := good(); return b[:len(b)-1] }, false, "i/o timeout"},
		{"id length over the limit", func() []byte { return withMagic(200) }, true, "outside [1, 64]"},
		{"empty id", func() []byte { return withMagic(0) }, true, "outside [1, 64]"},
		{"invalid id bytes", func() []byte { return withMagic(3, 'n', '/', '2') }, true, "not allowed"},
		{"unknown peer", func() []byte { return helloBytes(token, "n7", "n1", time.Now()) }, false, "which is not in peers"},
		{"addressed to another node", func() []byte { return helloBytes(token, "n2", "n3", time.Now()) }, false, "not to this node"},
		{"from itself", func() []byte { return helloBytes(token, "n1", "n1", time.Now()) }, false, "this node itself"},
		{"wrong token", func() []byte { return helloBytes([]byte("guess"), "n2", "n1", time.Now()) }, false, "bad mac"},
		{"no token", func() []byte { return helloBytes(nil, "n2", "n1", time.Now()) }, false, "bad mac"},
		{"tampered nonce", func() []byte { b := good(); b[len(helloMagic)+6+3] ^= 1; return b }, false, "bad mac"},
		{"stale replayed hello", func() []byte { return helloBytes(token, "n2", "n1", time.Now().Add(-HandshakeMaxSkew-time.Minute)) }, false, "off this node's clock"},
		{"timestamp from the future", func() []byte { return helloBytes(token, "n2", "n1", time.Now().Add(HandshakeMaxSkew+time.Minute)) }, false, "off this node's clock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, logs := authHost(t)
			conn := dialHost(t, h)
			_, err := conn.Write(tc.bytes())
			require.NoError(t, err)
			if tc.closeSend {
				require.NoError(t, conn.(*net.TCPConn).CloseWrite())
			}
			requireRefused(t, conn)
			require.Eventually(t, func() bool { return h.Stats().RejectedConns == 1 }, 5*time.Second, 2*time.Millisecond)
			require.Contains(t, logs.String(), "rejected inbound connection")
			require.Contains(t, logs.String(), tc.reason)
			requireUnharmed(t, h)
			require.Equal(t, uint64(1), h.Stats().RejectedConns)
			require.Equal(t, uint64(2), h.Stats().Accepted)
		})
	}
}

func TestHandshakeRefusesReplayedHello(t *testing.T) {
	h, logs := authHost(t)
	b := helloBytes([]byte("s3cret"), "n2", "n1", time.Now())
	require.NoError(t, sendHello(dialHost(t, h), []byte("s3cret"), b))
	replay := dialHost(t, h)
	_, err := replay.Write(b)
	require.NoError(t, err)
	requireRefused(t, replay)
	require.Eventually(t, func() bool { return h.Stats().RejectedConns == 1 }, 5*time.Second, 2*time.Millisecond)
	require.Contains(t, logs.String(), "nonce replayed")
}

func TestFramesMustComeFromTheHandshakePeer(t *testing.T) {
	h, logs := authHost(t)
	conn := dialHost(t, h)
	require.NoError(t, clientHandshake(conn, []byte("s3cret"), "n2", "n1"))
	for _, b := range [][]byte{
		frameOf("n3", "n1", &note{N: 1}), // a peer, but not this connection's
		frameOf("n2", "n1", &note{N: 2}),
	} {
		_, err := conn.Write(b)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return h.Stats().Received == 1 }, 5*time.Second, 2*time.Millisecond)
	st := h.Stats()
	require.Equal(t, uint64(1), st.DroppedWrongSender)
	require.Zero(t, st.RejectedConns)
	inspect(t, h, func(p *probe) { require.Equal(t, []delivery{{from: "n2", n: 2}}, p.got) })
	require.Contains(t, logs.String(), "not the connection's peer")
}

// fakeAcceptor listens where n2 should, reads each hello and answers with
// reply(hello) (nil: close at once; an empty slice: say nothing). It hands
// each accepted connection, past the hello, to got.
func fakeAcceptor(t *testing.T, reply func(hello) []byte) (addr string, got chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got = make(chan net.Conn, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				h, _, err := readHello(conn)
				r := reply(h)
				if err != nil || r == nil {
					_ = conn.Close()
					return
				}
				_, _ = conn.Write(r)
				select {
				case got <- conn:
				default:
					_ = conn.Close()
				}
			})
		}
	})
	t.Cleanup(func() {
		for {
			select {
			case c := <-got:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String(), got
}

func TestDialerChecksTheAck(t *testing.T) {
	token := []byte("s3cret")
	tests := []struct {
		name  string
		reply func(hello) []byte
		ok    bool
	}{
		{"right ack", func(h hello) []byte { return ackMAC(token, "n2", "n1", h.nonce) }, true},
		{"ack with another token", func(h hello) []byte { return ackMAC([]byte("guess"), "n2", "n1", h.nonce) }, false},
		{"ack naming another acceptor", func(h hello) []byte { return ackMAC(token, "n3", "n1", h.nonce) }, false},
		{"echoed hello mac", func(h hello) []byte { return h.mac[:] }, false},
		{"closes without an ack", func(hello) []byte { return nil }, false},
		{"silent", func(hello) []byte { return []byte{} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, got := fakeAcceptor(t, tc.reply)
			h := single(t, probeFactory(nil, nil), func(c *Config) {
				c.Peers = map[nodes.NodeID]string{"n1": "", "n2": addr}
				c.Token = token
				c.DialTimeout = 200 * time.Millisecond
				c.BackoffMax = 50 * time.Millisecond
			})
			inspect(t, h, func(p *probe) { p.env.Send("n2", &note{N: 5}) })
			if !tc.ok {
				require.Eventually(t, func() bool { return h.Stats().HandshakeFailures >= 2 }, 5*time.Second, 2*time.Millisecond)
				st := h.Stats()
				require.Zero(t, st.Connects)
				require.Zero(t, st.Sent)
				require.GreaterOrEqual(t, st.DialFailures, st.HandshakeFailures)
				return
			}
			var conn net.Conn
			select {
			case conn = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("n1 never passed the handshake")
			}
			want := frameOf("n1", "n2", &note{N: 5})
			b := make([]byte, len(want))
			_, err := io.ReadFull(conn, b)
			require.NoError(t, err)
			require.Equal(t, want, b)
			st := h.Stats()
			require.Equal(t, uint64(1), st.Connects)
			require.Zero(t, st.HandshakeFailures)
		})
	}
}

func TestHelloRoundTrip(t *testing.T) {
	token := []byte("s3cret")
	long := nodes.NodeID(strings.Repeat("x", maxIDBytes))
	at := time.Unix(1700000000, 123)
	b := helloBytes(token, long, "n1", at)
	require.Len(t, b, helloMaxBytes-maxIDBytes+2)
	b = helloBytes(token, long, long, at)
	require.Len(t, b, helloMaxBytes)
	h, body, err := readHello(bytes.NewReader(append(b, "frames follow"...)))
	require.NoError(t, err)
	require.Equal(t, long, h.from)
	require.Equal(t, long, h.to)
	require.Equal(t, at.UnixNano(), h.unixNanos)
	require.True(t, h.macOK(token, body))
	require.False(t, h.macOK([]byte("s3cres"), body))
	require.False(t, h.macOK(nil, body))
}

func TestConfigTokenAndTLSErrors(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Config)
		want  []string // empty: no error
	}{
		{"token at the limit", func(c *Config) { c.Token = make([]byte, MaxTokenBytes) }, nil},
		{"token over the limit", func(c *Config) { c.Token = make([]byte, MaxTokenBytes+1) }, []string{"token", "1025", "1024"}},
		{"server tls without certificate", func(c *Config) { c.ServerTLS = &tls.Config{} }, []string{"server_tls", "no certificate"}},
		{"client tls alone", func(c *Config) { c.ClientTLS = &tls.Config{} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{ID: "n1", Peers: map[nodes.NodeID]string{"n1": "", "n2": "127.0.0.1:1"},
				Dir: t.TempDir(), Factory: probeFactory(nil, nil), Seed: 1}
			tc.tweak(&cfg)
			h, err := Start(cfg)
			if tc.want == nil {
				require.NoError(t, err)
				require.NoError(t, h.Stop())
				return
			}
			require.Nil(t, h)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func FuzzReadHello(f *testing.F) {
	good := helloBytes([]byte("k"), "n2", "n1", time.Unix(1700000000, 0))
	f.Add(good)
	f.Add(append(good, 1, 2, 3))
	f.Add(good[:len(good)-1])
	f.Add(good[:len(helloMagic)+1])
	f.Add([]byte(helloMagic))
	f.Add(append([]byte(helloMagic), 200))
	f.Add(append([]byte(helloMagic), 0))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add(bytes.Repeat([]byte{0xff}, 2*helloMaxBytes))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReader{r: bytes.NewReader(b)}
		h, body, err := readHello(r)
		if r.n > helloMaxBytes {
			t.Fatalf("read %d bytes, limit %d", r.n, helloMaxBytes)
		}
		_ = h.macOK([]byte("k"), body)
		if err != nil {
			return
		}
		if h.from.Validate() != nil || h.to.Validate() != nil {
			t.Fatalf("accepted invalid ids %q, %q", h.from, h.to)
		}
		// A decoded hello is exactly the bytes read, and re-encodes to them.
		if got := append(appendHelloBody(nil, &h), h.mac[:]...); !bytes.Equal(got, b[:r.n]) {
			t.Fatalf("re-encoded %x, read %x", got, b[:r.n])
		}
		if !bytes.Equal(body, b[:r.n-macBytes]) {
			t.Fatalf("body %x, want %x", body, b[:r.n-macBytes])
		}
	})
}
