package runtime

// The peer handshake. Every new peer connection starts with it, before any
// frame, inside TLS when TLS is configured:
//
//	dialer -> acceptor: hello
//	    magic      "distsync-peer/1" (15 bytes)
//	    from       1-byte length, then the dialer's node id
//	    to         1-byte length, then the id the dialer believes it dials
//	    nonce      32 random bytes (crypto/rand)
//	    time       the dialer's clock, unix nanoseconds, 8 bytes big-endian
//	    mac        HMAC-SHA256(token, every byte above)
//	acceptor -> dialer: ack
//	    mac        HMAC-SHA256(token, "distsync-peer/1 ack", to, from, nonce)
//	               (ids length-prefixed as in the hello)
//
// The acceptor reads the hello within DialTimeout and never more than
// helloMaxBytes of it, and refuses (closes without a word) unless the magic
// is right, "to" is its own id, "from" is another node of Peers, the MAC is
// right, the time is within HandshakeMaxSkew of its own clock, and the nonce
// was not seen in an accepted hello before. The ack, over the dialer's fresh
// nonce, proves to the dialer that the acceptor holds the token too; its
// label keeps a hello's MAC from ever passing for an ack.
//
// Without TLS, the handshake authenticates the connection, not the bytes
// that follow it: someone who can rewrite TCP segments in flight can still
// inject frames. TLS closes that gap.

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/distsync/distsync/nodes"
)

// HandshakeMaxSkew is how far a hello's timestamp may be from the
// acceptor's clock, either way. Nodes whose clocks differ by more cannot
// connect; hellos older than this cannot be replayed.
const HandshakeMaxSkew = 5 * time.Minute

const (
	// helloMagic opens every hello and names the handshake's version.
	helloMagic = "distsync-peer/1"
	// ackLabel separates the ack's MAC from the hello's.
	ackLabel = "distsync-peer/1 ack"
	// helloNonceBytes is the size of the dialer's random nonce.
	helloNonceBytes = 32
	// macBytes is the size of an HMAC-SHA256.
	macBytes = sha256.Size
	// maxIDBytes is the longest id nodes.NodeID.Validate accepts.
	maxIDBytes = 64
	// helloMaxBytes is the size of the largest hello: the acceptor never
	// reads more before it has authenticated the dialer.
	helloMaxBytes = len(helloMagic) + 2*(1+maxIDBytes) + helloNonceBytes + 8 + macBytes
	// maxRecentNonces bounds the acceptor's memory of accepted nonces.
	// Only hellos with a good MAC are remembered, each for at most
	// 2*HandshakeMaxSkew, so honest peers come nowhere near it.
	maxRecentNonces = 1 << 16
)

// hello is a decoded hello.
type hello struct {
	from, to  nodes.NodeID
	nonce     [helloNonceBytes]byte
	unixNanos int64
	mac       [macBytes]byte
}

// errBadMagic reports a connection that does not open with helloMagic.
var errBadMagic = errors.New("not a distsync peer hello (bad magic)")

// appendHelloBody appends the part of h its MAC covers. h's ids must be
// valid, hence at most maxIDBytes long.
func appendHelloBody(dst []byte, h *hello) []byte {
	dst = append(dst, helloMagic...)
	dst = appendID(dst, h.from)
	dst = appendID(dst, h.to)
	dst = append(dst, h.nonce[:]...)
	return binary.BigEndian.AppendUint64(dst, uint64(h.unixNanos))
}

// appendID appends id with its 1-byte length.
func appendID(dst []byte, id nodes.NodeID) []byte {
	return append(append(dst, byte(len(id))), id...)
}

// signHello returns the bytes of a hello from one node to another, signed
// with token.
func signHello(token []byte, from, to nodes.NodeID, nonce [helloNonceBytes]byte, now time.Time) []byte {
	h := hello{from: from, to: to, nonce: nonce, unixNanos: now.UnixNano()}
	body := appendHelloBody(make([]byte, 0, helloMaxBytes), &h)
	m := hmac.New(sha256.New, token)
	m.Write(body)
	return m.Sum(body)
}

// readHello reads one hello from r: never more than helloMaxBytes, and no
// byte past the hello's end. It returns the hello and the bytes its MAC
// covers; it checks the magic and the ids' syntax, not the MAC.
func readHello(r io.Reader) (h hello, body []byte, err error) {
	var buf [helloMaxBytes]byte
	n := 0
	next := func(k int, what string) ([]byte, error) {
		if _, err := io.ReadFull(r, buf[n:n+k]); err != nil {
			return nil, fmt.Errorf("hello: reading %s: %w", what, err)
		}
		n += k
		return buf[n-k : n], nil
	}
	id := func(what string) (nodes.NodeID, error) {
		lb, err := next(1, what+" length")
		if err != nil {
			return "", err
		}
		if lb[0] == 0 || lb[0] > maxIDBytes {
			return "", fmt.Errorf("hello: %s length %d outside [1, %d]", what, lb[0], maxIDBytes)
		}
		b, err := next(int(lb[0]), what)
		if err != nil {
			return "", err
		}
		v := nodes.NodeID(b)
		if err := v.Validate(); err != nil {
			return "", fmt.Errorf("hello: %s: %w", what, err)
		}
		return v, nil
	}
	magic, err := next(len(helloMagic), "magic")
	if err != nil {
		return h, nil, err
	}
	if string(magic) != helloMagic {
		return h, nil, fmt.Errorf("hello: %w: %q", errBadMagic, magic)
	}
	if h.from, err = id("from"); err != nil {
		return h, nil, err
	}
	if h.to, err = id("to"); err != nil {
		return h, nil, err
	}
	rest, err := next(helloNonceBytes+8, "nonce and time")
	if err != nil {
		return h, nil, err
	}
	copy(h.nonce[:], rest)
	h.unixNanos = int64(binary.BigEndian.Uint64(rest[helloNonceBytes:]))
	bodyLen := n
	mac, err := next(macBytes, "mac")
	if err != nil {
		return h, nil, err
	}
	copy(h.mac[:], mac)
	return h, buf[:bodyLen], nil
}

// macOK reports whether h's MAC over body is right for token.
func (h *hello) macOK(token, body []byte) bool {
	m := hmac.New(sha256.New, token)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), h.mac[:])
}

// ackMAC is the acceptor's answer to a hello from dialer with nonce.
func ackMAC(token []byte, acceptor, dialer nodes.NodeID, nonce [helloNonceBytes]byte) []byte {
	b := make([]byte, 0, len(ackLabel)+2*(1+maxIDBytes)+helloNonceBytes)
	b = append(b, ackLabel...)
	b = appendID(b, acceptor)
	b = appendID(b, dialer)
	b = append(b, nonce[:]...)
	m := hmac.New(sha256.New, token)
	m.Write(b)
	return m.Sum(nil)
}

// acceptHandshake runs the acceptor's side on a new inbound connection,
// within DialTimeout: the TLS handshake if configured, then the hello and
// the ack. It returns the connection to read frames from (raw itself, or
// TLS over it) and the authenticated peer. On error the caller closes raw.
func (t *transport) acceptHandshake(raw net.Conn) (net.Conn, nodes.NodeID, error) {
	if err := raw.SetDeadline(time.Now().Add(t.s.DialTimeout)); err != nil {
		return nil, "", fmt.Errorf("set handshake deadline: %w", err)
	}
	conn := raw
	if t.s.ServerTLS != nil {
		tc := tls.Server(raw, t.s.ServerTLS)
		if err := tc.HandshakeContext(t.dialCtx); err != nil {
			return nil, "", fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	h, body, err := readHello(conn)
	if err != nil {
		return nil, "", err
	}
	switch {
	case h.to != t.s.ID:
		return nil, "", fmt.Errorf("hello from %q is addressed to %q, not to this node", h.from, h.to)
	case h.from == t.s.ID:
		return nil, "", fmt.Errorf("hello claims to come from this node itself")
	case !t.peers[h.from]:
		return nil, "", fmt.Errorf("hello from %q, which is not in peers", h.from)
	case !h.macOK(t.s.Token, body):
		return nil, "", fmt.Errorf("hello from %q: bad mac (wrong token?)", h.from)
	}
	now := time.Now()
	sent := time.Unix(0, h.unixNanos)
	if off := now.Sub(sent); off > HandshakeMaxSkew || off < -HandshakeMaxSkew {
		return nil, "", fmt.Errorf("hello from %q: timestamp %s is %v off this node's clock (limit %v)",
			h.from, sent.UTC().Format(time.RFC3339Nano), off, HandshakeMaxSkew)
	}
	if err := t.rememberNonce(h.nonce, sent, now); err != nil {
		return nil, "", fmt.Errorf("hello from %q: %w", h.from, err)
	}
	if _, err := conn.Write(ackMAC(t.s.Token, t.s.ID, h.from, h.nonce)); err != nil {
		return nil, "", fmt.Errorf("hello from %q: writing ack: %w", h.from, err)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, "", fmt.Errorf("hello from %q: clear deadline: %w", h.from, err)
	}
	return conn, h.from, nil
}

// rememberNonce records the nonce of an authentic hello sent at sent, and
// fails if it was seen before: a replay within HandshakeMaxSkew. A nonce is
// forgotten once a hello sent when it was would be stale anyway.
func (t *transport) rememberNonce(nonce [helloNonceBytes]byte, sent, now time.Time) error {
	t.nonceMu.Lock()
	defer t.nonceMu.Unlock()
	if _, seen := t.nonces[nonce]; seen {
		return errors.New("nonce replayed")
	}
	for n, forget := range t.nonces {
		if now.After(forget) {
			delete(t.nonces, n)
		}
	}
	if len(t.nonces) >= maxRecentNonces {
		return fmt.Errorf("%d handshakes within %v, refusing more", len(t.nonces), HandshakeMaxSkew)
	}
	t.nonces[nonce] = sent.Add(HandshakeMaxSkew)
	return nil
}

// dialHandshake runs the dialer's side on a new outbound connection to l's
// peer, by deadline: the TLS handshake if configured, the hello, and the
// check of the peer's ack. It returns the connection to write frames to
// (raw itself, or TLS over it). On error the caller closes raw.
func (t *transport) dialHandshake(l *link, raw net.Conn, deadline time.Time) (net.Conn, error) {
	if err := raw.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set handshake deadline: %w", err)
	}
	// Stop must not wait for a handshake with a peer that does not answer.
	unhook := context.AfterFunc(t.dialCtx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer unhook()
	conn := raw
	if l.tls != nil {
		tc := tls.Client(raw, l.tls)
		if err := tc.HandshakeContext(t.dialCtx); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	var nonce [helloNonceBytes]byte
	_, _ = crand.Read(nonce[:]) // never fails (crypto/rand.Read crashes the program rather than return an error)
	if _, err := conn.Write(signHello(t.s.Token, t.s.ID, l.id, nonce, time.Now())); err != nil {
		return nil, fmt.Errorf("writing hello: %w", err)
	}
	var ack [macBytes]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("peer closed the connection instead of answering the hello (wrong token? this node unknown to it? clocks apart?): %w", err)
		}
		return nil, fmt.Errorf("reading ack: %w", err)
	}
	if !hmac.Equal(ack[:], ackMAC(t.s.Token, l.id, t.s.ID, nonce)) {
		return nil, errors.New("bad ack: the peer did not prove it holds the token")
	}
	if !unhook() {
		return nil, fmt.Errorf("handshake: %w", context.Cause(t.dialCtx))
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clear handshake deadline: %w", err)
	}
	return conn, nil
}

// clientTLS returns the TLS configuration for dialing addr: a clone of
// base with ServerName set to addr's host unless base sets one. Nil base
// means plain TCP.
func clientTLS(base *tls.Config, addr string) *tls.Config {
	if base == nil {
		return nil
	}
	cfg := base.Clone()
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// closeRaw closes conn's underlying connection. Closing a TLS connection
// itself would first send a close_notify alert, which can block (up to five
// seconds) on a peer that does not read; the peer sees an end of stream
// either way.
func closeRaw(conn net.Conn) error {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return conn.Close()
}

// connError marks an error of the connection itself, as opposed to one of
// the bytes read from it: readConn closes quietly on the former and counts
// the latter as a frame error.
type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// connReader wraps the errors of r (except io.EOF, which io.ReadFull and
// friends compare by identity) in connError.
type connReader struct{ r io.Reader }

func (c connReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = &connError{err}
	}
	return n, err
}
