package queue

// msgHeap is a binary min-heap of messages that keeps each message's hidx.
// Its order is total (ids and receipts are unique), so its behaviour does
// not depend on insertion history beyond the set of its elements.
type msgHeap struct {
	items []*message
	less  func(a, b *message) bool
}

// byID orders ready messages: FIFO by original enqueue.
func byID(a, b *message) bool { return a.id < b.id }

// byDeadline orders in-flight messages by (deadline, receipt).
func byDeadline(a, b *message) bool {
	if a.deadline != b.deadline {
		return a.deadline < b.deadline
	}
	return a.receipt < b.receipt
}

// Len returns the number of messages.
func (h *msgHeap) Len() int { return len(h.items) }

func (h *msgHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].hidx, h.items[j].hidx = int32(i), int32(j)
}

func (h *msgHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.items[i], h.items[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *msgHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			c = r
		}
		if !h.less(h.items[c], h.items[i]) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

func (h *msgHeap) push(m *message) {
	m.hidx = int32(len(h.items))
	h.items = append(h.items, m)
	h.up(len(h.items) - 1)
}

// remove removes and returns the message at heap index i.
func (h *msgHeap) remove(i int) *message {
	last := len(h.items) - 1
	m := h.items[i]
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = nil
	h.items = h.items[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	m.hidx = -1
	return m
}

// dedupItem is a dedup entry in the expiry heap.
type dedupItem struct {
	key dedupKey
	dedupEntry
}

// dedupHeap is a min-heap of dedup entries by (at, id). An entry replaced
// in the dedup map stays here until popped, and popping it is a no-op.
type dedupHeap struct {
	items []dedupItem
}

func (h *dedupHeap) Len() int { return len(h.items) }

func (h *dedupHeap) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

func (h *dedupHeap) push(it dedupItem) {
	h.items = append(h.items, it)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *dedupHeap) pop() dedupItem {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for i := 0; ; {
		l, c := 2*i+1, i
		if l < last && h.less(l, c) {
			c = l
		}
		if l+1 < last && h.less(l+1, c) {
			c = l + 1
		}
		if c == i {
			break
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
	return top
}
