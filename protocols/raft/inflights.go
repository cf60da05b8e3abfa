package raft

import "fmt"

// inflight is one unacknowledged append message: the last index it
// carried and its entry bytes.
type inflight struct {
	index uint64
	bytes uint64
}

// inflights is the pipelining window of one follower: a ring of the append
// messages sent and not yet acknowledged, bounded both in count and in
// bytes. Indexes in the ring are strictly increasing.
type inflights struct {
	start    int // position of the oldest message in buffer
	count    int // messages in the window
	bytes    uint64
	maxCount int
	maxBytes uint64
	buffer   []inflight // grown lazily up to maxCount
}

func newInflights(maxCount int, maxBytes uint64) inflights {
	if maxCount <= 0 {
		panic(fmt.Sprintf("raft: inflights capacity %d must be positive", maxCount))
	}
	return inflights{maxCount: maxCount, maxBytes: maxBytes}
}

// add records a message carrying entries up to index, of the given bytes.
// The caller checks full first.
func (in *inflights) add(index, bytes uint64) {
	if in.full() {
		panic(fmt.Sprintf("raft: inflights add %d while full (count %d/%d, bytes %d/%d)",
			index, in.count, in.maxCount, in.bytes, in.maxBytes))
	}
	if in.count > 0 {
		if last := in.buffer[in.pos(in.count-1)].index; index <= last {
			panic(fmt.Sprintf("raft: inflights add %d not above last %d", index, last))
		}
	}
	if in.count == len(in.buffer) {
		in.grow()
	}
	in.buffer[in.pos(in.count)] = inflight{index: index, bytes: bytes}
	in.count++
	in.bytes += bytes
}

// grow doubles the buffer (up to maxCount), unwinding the ring so that it
// starts at position 0.
func (in *inflights) grow() {
	size := max(2*len(in.buffer), 1)
	size = min(size, in.maxCount)
	buf := make([]inflight, size)
	for i := range in.count {
		buf[i] = in.buffer[in.pos(i)]
	}
	in.buffer = buf
	in.start = 0
}

// pos returns the buffer position of the i-th oldest message.
func (in *inflights) pos(i int) int {
	p := in.start + i
	if p >= len(in.buffer) {
		p -= len(in.buffer)
	}
	return p
}

// freeLE releases every message whose last index is at most to.
func (in *inflights) freeLE(to uint64) {
	for in.count > 0 {
		head := in.buffer[in.start]
		if head.index > to {
			break
		}
		in.popFront(head)
	}
}

// freeFirstOne releases the oldest message; a heartbeat response proves the
// follower is alive, so one slot may be reused even if the ack was lost.
func (in *inflights) freeFirstOne() {
	if in.count > 0 {
		in.popFront(in.buffer[in.start])
	}
}

func (in *inflights) popFront(head inflight) {
	in.count--
	in.bytes -= head.bytes
	in.start++
	if in.start >= len(in.buffer) {
		in.start = 0
	}
	if in.count == 0 {
		in.start = 0
	}
}

// full reports whether no more messages may be sent.
func (in *inflights) full() bool {
	return in.count >= in.maxCount || (in.maxBytes != 0 && in.bytes >= in.maxBytes)
}

// reset empties the window, keeping the buffer.
func (in *inflights) reset() {
	in.start, in.count, in.bytes = 0, 0, 0
}
