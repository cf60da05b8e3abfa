package queue

import "cmp"

// client is the exactly-once entry of a client, linked into the eviction
// list.
type client struct {
	id        ClientID
	lastSeq   uint64
	lastIndex uint64 // log index of its last applied command, or of the Import that set the entry
	result    Result
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
// Config.MaxClients evicts the oldest.
func (m *Manager) setClient(id ClientID, seq uint64, res Result) {
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

// Clients returns the number of clients in the exactly-once table.
func (m *Manager) Clients() int { return len(m.clients) }
