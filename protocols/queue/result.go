package queue

// EncodeResult returns the canonical encoding of r, for carrying a
// command's outcome to its client.
func EncodeResult(r Result) []byte {
	e := newEncoder(32 + len(r.Payload))
	encodeResult(e, r)
	return e.Bytes()
}

// DecodeResult reads a Result written by EncodeResult. It never panics;
// any other input is an error wrapping ErrMalformed.
func DecodeResult(b []byte) (Result, error) {
	d := newDecoder(b, 0)
	r := decodeResult(d)
	if err := d.Finish(); err != nil {
		return Result{}, err
	}
	return r, nil
}

// Has reports whether message id is held here: ready or in flight, in any
// queue (a dead-letter queue included). It walks the messages; checkers
// call it, not the serving path.
func (m *Manager) Has(id uint64) bool {
	for _, msg := range m.receipts { //det:ordered only a yes/no answer leaves
		if msg.id == id {
			return true
		}
	}
	for _, name := range m.Queues() {
		q := m.queues[name]
		for _, msg := range q.fresh[q.head:] {
			if msg.id == id {
				return true
			}
		}
		for _, msg := range q.retry.items {
			if msg.id == id {
				return true
			}
		}
	}
	return false
}
