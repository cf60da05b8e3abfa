package queue

import "cmp"

// client is the exactly-once entry of a client, linked into the eviction
// list.
type client struct {
	id        ClientID
	lastSeq   uint64
	lastIndex uint64 // log index of its last applied command, or of the Import that set the entry
	result    Result // without Payload, and Gone unset: see cachedResult
	prev      *client
	next      *client
}

// clientList is the intrusive list of the clients ordered by (lastIndex,
// id), oldest first. Entries are only ever appended with the index being
// applied, so appending keeps the order: commands have distinct indexes,
// and an Import sets its clients in id order.
type clientList struct {
	head, tail *client
	len        int
}

func (l *clientList) pushBack(c *client) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.len++
}

func (l *clientList) remove(c *client) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.len--
}

// compareClients orders clients by (lastIndex, id): the eviction order.
func compareClients(a, b *client) int {
	return cmp.Or(cmp.Compare(a.lastIndex, b.lastIndex), cmp.Compare(a.id, b.id))
}

// setClient records seq and its Result as the client's last command, at
// the index being applied, creating the entry; a new entry beyond
// Config.MaxClients evicts the oldest. The table keeps no payload: the
// Result is stored without its Payload and with Gone unset (cachedResult
// rebuilds both).
func (m *Manager) setClient(id ClientID, seq uint64, res Result) {
	res.Payload, res.Gone = nil, false
	c := m.clients[id]
	if c == nil {
		c = &client{id: id}
		m.clients[id] = c
	} else {
		m.lru.remove(c)
	}
	c.lastSeq, c.result, c.lastIndex = seq, res, m.index
	m.lru.pushBack(c)
	for m.lru.len > m.cfg.MaxClients {
		old := m.lru.head
		m.lru.remove(old)
		delete(m.clients, old.id)
	}
}

// isDelivery reports whether a Result is a Dequeue's delivery.
func isDelivery(r Result) bool { return r.Status == StatusOK && r.Receipt != 0 }

// cachedResult returns the Result a retry of the client's last command
// gets: the cached one, and for a delivery its payload if the delivery is
// still in flight under the same receipt, else Gone.
func (m *Manager) cachedResult(c *client) Result {
	r := c.result
	if isDelivery(r) {
		if msg := m.receipts[r.Receipt]; msg != nil {
			r.Payload = msg.payload
		} else {
			r.Gone = true
		}
	}
	return r
}

// Clients returns the number of clients in the exactly-once table.
func (m *Manager) Clients() int { return len(m.clients) }
