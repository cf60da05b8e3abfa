package runtime

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// ioBufferBytes sizes the buffered reader and writer of each connection.
const ioBufferBytes = 64 << 10

// acceptRetry is how long the accept loop waits after a transient error
// (out of file descriptors, say) before accepting again.
const acceptRetry = 20 * time.Millisecond

// transport moves frames between this node and its peers over TCP: one
// listener for inbound connections, and one writer goroutine per peer that
// owns a persistent outbound connection and a bounded queue. Every
// connection, either way, starts with the peer handshake (handshake.go).
type transport struct {
	s       *settings
	c       *counters
	log     *slog.Logger
	ln      net.Listener
	peers   map[nodes.NodeID]bool // every node, this one included
	links   map[nodes.NodeID]*link
	deliver func(nodes.Envelope) bool // hands an envelope to the loop; false once it is gone
	faults  faultFilter               // network faults applied to outbound frames (faults.go)

	dialCtx    context.Context // cancelled when writers must stop dialing
	cancelDial context.CancelFunc
	stopping   chan struct{} // closed when writers must flush and exit

	mu      sync.Mutex
	inbound map[net.Conn]struct{} // raw connections, TLS or not
	closed  bool

	nonceMu sync.Mutex
	nonces  map[[helloNonceBytes]byte]time.Time // nonces of accepted hellos, and when to forget them

	wg sync.WaitGroup
}

// link is the outbound side of one peer.
type link struct {
	id    nodes.NodeID
	addr  string
	tls   *tls.Config // for dialing the peer; nil means plain TCP
	queue chan []byte // whole frames

	mu   sync.Mutex
	conn net.Conn // current connection, if any, for stop to set a deadline on
}

func newTransport(s *settings, c *counters, ln net.Listener, deliver func(nodes.Envelope) bool) *transport {
	ctx, cancel := context.WithCancel(context.Background())
	t := &transport{
		s: s, c: c, log: s.logger, ln: ln, deliver: deliver,
		peers:   make(map[nodes.NodeID]bool, len(s.ids)),
		links:   make(map[nodes.NodeID]*link, len(s.ids)),
		dialCtx: ctx, cancelDial: cancel,
		stopping: make(chan struct{}),
		inbound:  map[net.Conn]struct{}{},
		nonces:   map[[helloNonceBytes]byte]time.Time{},
	}
	t.faults.init(t)
	for _, id := range s.ids {
		t.peers[id] = true
		if id != s.ID {
			addr := s.Peers[id]
			t.links[id] = &link{id: id, addr: addr, tls: clientTLS(s.ClientTLS, addr), queue: make(chan []byte, s.SendQueue)}
		}
	}
	return t
}

// start launches the accept loop and one writer per peer.
func (t *transport) start() {
	t.wg.Add(1)
	go t.acceptLoop()
	for _, id := range t.s.ids {
		if l := t.links[id]; l != nil {
			t.wg.Add(1)
			go t.runLink(l)
		}
	}
}

// enqueue queues a frame for peer to without ever blocking: a full queue
// drops the frame and counts it. The network faults in force (faults.go)
// apply first: they may drop the frame, duplicate it, or hold it for a
// delay, after which a timer queues it. It reports whether to is a peer.
func (t *transport) enqueue(to nodes.NodeID, frame []byte) bool {
	l := t.links[to]
	if l == nil {
		return false
	}
	if t.faults.on.Load() {
		t.faults.apply(l, frame)
		return true
	}
	t.put(l, frame)
	return true
}

// put queues a frame on l without blocking; a full queue drops and counts.
// It is safe from any goroutine.
func (t *transport) put(l *link, frame []byte) {
	select {
	case l.queue <- frame:
		t.c.enqueued.Add(1)
	default:
		t.c.droppedQueueFull.Add(1)
	}
}

// stop discards the frames held back by a fault delay, closes the listener
// and inbound connections, lets each writer flush what is queued (bounded
// by FlushTimeout), and waits for every goroutine of the transport.
func (t *transport) stop() error {
	t.faults.stop() // first: a delay timer firing now still queues before the writers flush
	t.mu.Lock()
	t.closed = true
	conns := make([]net.Conn, 0, len(t.inbound))
	for c := range t.inbound {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	var errs []error
	if err := t.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("runtime: close listener %s: %w", t.ln.Addr(), err))
	}
	for _, c := range conns {
		_ = c.Close() // the reader goroutine reports nothing once we are closed
	}
	t.cancelDial()
	close(t.stopping)
	deadline := time.Now().Add(t.s.FlushTimeout)
	for _, l := range t.links {
		l.mu.Lock()
		if l.conn != nil {
			_ = l.conn.SetWriteDeadline(deadline) // unblocks a writer stuck on a peer that does not read
		}
		l.mu.Unlock()
	}
	t.wg.Wait()
	return errors.Join(errs...)
}

func (t *transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("accept failed", "addr", t.ln.Addr().String(), "err", err)
			select {
			case <-t.stopping:
				return
			case <-time.After(acceptRetry):
			}
			continue
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = conn.Close()
			return
		}
		t.inbound[conn] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		t.c.accepted.Add(1)
		go t.readConn(conn)
	}
}

// readConn runs the handshake on one inbound connection, then reads
// frames from it until it ends. A failed handshake closes the connection
// before any frame and counts it as rejected. A frame over the size limit,
// of another version or with a malformed header closes the connection (its
// stream cannot be trusted any more); an envelope that does not decode, or
// that does not come from the peer the handshake authenticated, is counted
// and skipped, since its frame boundary is sound.
func (t *transport) readConn(raw net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.inbound, raw)
		t.mu.Unlock()
		_ = raw.Close()
	}()
	remote := raw.RemoteAddr().String()
	conn, peer, err := t.acceptHandshake(raw)
	if err != nil {
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if !closed { // a handshake cut short by Stop is no rejection
			t.c.rejectedConns.Add(1)
			t.log.Warn("rejected inbound connection", "remote", remote, "reason", err)
		}
		return
	}
	t.log.Debug("peer connected", "remote", remote, "peer", string(peer))
	br := bufio.NewReaderSize(connReader{conn}, ioBufferBytes)
	var buf []byte
	for {
		payload, nb, err := wire.ReadFrame(br, buf, t.s.MaxFrameBytes)
		buf = nb
		if err != nil {
			var ce *connError
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ce) {
				return // the peer went away, or we are stopping
			}
			t.c.frameErrors.Add(1)
			t.log.Warn("closing inbound connection on bad frame", "remote", remote, "err", err)
			return
		}
		env, err := nodes.DecodeEnvelope(payload)
		if err != nil {
			t.c.decodeErrors.Add(1)
			t.log.Warn("dropping undecodable frame", "remote", remote, "bytes", len(payload), "err", err)
			continue
		}
		if env.To != t.s.ID {
			t.c.droppedWrongDest.Add(1)
			t.log.Debug("dropping frame for another node", "remote", remote, "from", string(env.From), "to", string(env.To))
			continue
		}
		if !t.peers[env.From] {
			t.c.droppedUnknownSnd.Add(1)
			t.log.Debug("dropping frame from unknown node", "remote", remote, "from", string(env.From))
			continue
		}
		if env.From != peer {
			t.c.droppedWrongSender.Add(1)
			t.log.Warn("dropping frame whose sender is not the connection's peer", "remote", remote,
				"peer", string(peer), "from", string(env.From))
			continue
		}
		if !t.deliver(env) {
			return
		}
		t.c.received.Add(1)
	}
}

// runLink owns the outbound connection to one peer: it dials with backoff,
// writes queued frames, and dials again when the connection fails.
func (t *transport) runLink(l *link) {
	defer t.wg.Done()
	backoff := t.s.BackoffMin
	connected := false // some earlier connection to this peer existed
	for {
		conn := t.dial(l, &backoff)
		if conn == nil {
			return
		}
		t.c.connects.Add(1)
		if connected {
			t.c.reconnects.Add(1)
		}
		connected = true
		opened := time.Now()
		l.mu.Lock()
		l.conn = conn
		l.mu.Unlock()
		stop := t.pump(l, conn)
		l.mu.Lock()
		l.conn = nil
		l.mu.Unlock()
		_ = closeRaw(conn)
		if stop {
			return
		}
		// A connection that lived long was healthy: start over from the
		// shortest delay. One that died at once keeps backing off, so a
		// peer that accepts and closes cannot make us spin.
		if time.Since(opened) >= t.s.BackoffMax {
			backoff = t.s.BackoffMin
		}
		if !t.sleep(&backoff) {
			return
		}
	}
}

// dial connects to l's peer and runs the handshake, within DialTimeout per
// attempt, retrying with backoff. It returns nil when the transport stops.
func (t *transport) dial(l *link, backoff *time.Duration) net.Conn {
	for {
		deadline := time.Now().Add(t.s.DialTimeout)
		d := net.Dialer{Deadline: deadline}
		raw, err := d.DialContext(t.dialCtx, "tcp", l.addr)
		if err == nil {
			if tc, ok := raw.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			conn, herr := t.dialHandshake(l, raw, deadline)
			if herr == nil {
				*backoff = t.s.BackoffMin
				t.wg.Add(1)
				go t.drainConn(conn)
				return conn
			}
			_ = raw.Close()
			if t.dialCtx.Err() != nil {
				return nil
			}
			t.c.dialFailures.Add(1)
			t.c.handshakeFailures.Add(1)
			t.log.Warn("handshake with peer failed", "peer", string(l.id), "addr", l.addr, "err", herr, "retry_in", *backoff)
		} else {
			if t.dialCtx.Err() != nil {
				return nil
			}
			t.c.dialFailures.Add(1)
			t.log.Debug("dial failed", "peer", string(l.id), "addr", l.addr, "err", err, "retry_in", *backoff)
		}
		if !t.sleep(backoff) {
			return nil
		}
	}
}

// sleep waits a jittered *backoff (between half and all of it), then
// doubles *backoff up to BackoffMax. It returns false if the transport stops
// meanwhile.
func (t *transport) sleep(backoff *time.Duration) bool {
	b := *backoff
	wait := b/2 + rand.N(b/2+1)
	*backoff = min(2*b, t.s.BackoffMax)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-t.stopping:
		return false
	case <-t.dialCtx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// drainConn reads and discards whatever arrives on an outbound connection
// (peers send nothing on it), so that the peer closing it is noticed at
// once: the connection is closed and the writer's next write fails.
func (t *transport) drainConn(conn net.Conn) {
	defer t.wg.Done()
	_, _ = io.Copy(io.Discard, conn)
	_ = closeRaw(conn)
}

// pump writes l's queued frames to conn, batching what is already queued
// into one flush. It returns true when the transport is stopping (after a
// bounded final flush) and false when the connection failed.
func (t *transport) pump(l *link, conn net.Conn) (stop bool) {
	bw := bufio.NewWriterSize(conn, ioBufferBytes)
	for {
		var frame []byte
		select {
		case frame = <-l.queue:
		case <-t.stopping:
			t.flushOnStop(l, conn, bw)
			return true
		}
		batch := 1
		_, err := bw.Write(frame)
		for err == nil && bw.Buffered() < ioBufferBytes && len(l.queue) > 0 {
			_, err = bw.Write(<-l.queue)
			batch++
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			t.c.droppedWriteError.Add(uint64(batch))
			t.log.Debug("write failed", "peer", string(l.id), "addr", l.addr, "frames", batch, "err", err)
			return false
		}
		t.c.sent.Add(uint64(batch))
	}
}

// flushOnStop writes what is still queued, within FlushTimeout, so that a
// clean Stop does not lose the node's last words.
func (t *transport) flushOnStop(l *link, conn net.Conn, bw *bufio.Writer) {
	_ = conn.SetWriteDeadline(time.Now().Add(t.s.FlushTimeout))
	batch := 0
	for len(l.queue) > 0 {
		if _, err := bw.Write(<-l.queue); err != nil {
			t.c.droppedWriteError.Add(uint64(batch + 1))
			return
		}
		batch++
	}
	if err := bw.Flush(); err != nil {
		t.c.droppedWriteError.Add(uint64(batch))
		return
	}
	t.c.sent.Add(uint64(batch))
}
