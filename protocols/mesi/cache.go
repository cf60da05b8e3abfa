package mesi

import (
	"fmt"
	"slices"
	"time"
)

// Cache is one node's cache: at most Capacity lines in least-recently-used
// order. Get and Put are O(1): a map from key to an element of an
// intrusive doubly-linked list, most recently used at the front.
//
// A Cache only stores lines; it knows nothing of coherence. Lines in
// state Invalid are never stored. When the cache is full, Put pushes out
// the least recently used line and returns it; the directory protocol
// never relies on that: it calls Victim before inserting into a full
// cache, writes an M (or E) victim back with a PutM, Removes it, and only
// then Puts the new line, so Put never evicts behind its back.
type Cache struct {
	capacity int
	index    map[string]*element
	// root is the sentinel of the circular list: root.next is the most
	// recently used element, root.prev the least.
	root element
	len  int
}

// element is a list node holding one line.
type element struct {
	line       Line
	prev, next *element
}

// NewCache returns an empty cache holding at most capacity lines
// (capacity >= 1).
func NewCache(capacity int) (*Cache, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("mesi: cache capacity %d: must be at least 1", capacity)
	}
	c := &Cache{capacity: capacity, index: make(map[string]*element, capacity)}
	c.root.next, c.root.prev = &c.root, &c.root
	return c, nil
}

// Get returns the line of key, marks it most recently used and sets its
// Used time to now. The pointer stays valid until the line is removed or
// replaced; callers may change its Value, State and Version in place. A
// hit does not allocate.
func (c *Cache) Get(key string, now time.Duration) (*Line, bool) {
	e, ok := c.index[key]
	if !ok {
		return nil, false
	}
	c.moveToFront(e)
	e.line.Used = now
	return &e.line, true
}

// Peek returns the line of key without touching the LRU order.
func (c *Cache) Peek(key string) (*Line, bool) {
	e, ok := c.index[key]
	if !ok {
		return nil, false
	}
	return &e.line, true
}

// Put inserts line, or replaces the line of the same key, and makes it the
// most recently used. If the cache was full and line.Key was absent, the
// least recently used line is removed and returned. Put panics on a line
// in state Invalid or an unknown state.
func (c *Cache) Put(line Line) (evicted *Line) {
	if line.State == Invalid || !line.State.valid() {
		panic(fmt.Sprintf("mesi: Cache.Put of key %q in state %v: only S, E and M lines are stored", line.Key, line.State))
	}
	if e, ok := c.index[line.Key]; ok {
		e.line = line
		c.moveToFront(e)
		return nil
	}
	if c.len == c.capacity {
		v := c.root.prev
		c.unlink(v)
		out := v.line
		evicted = &out
	}
	e := &element{line: line}
	c.index[line.Key] = e
	c.pushFront(e)
	return evicted
}

// Victim returns the line the next inserting Put would push out, the least
// recently used one, if the cache is full.
func (c *Cache) Victim() (*Line, bool) {
	if c.len < c.capacity {
		return nil, false
	}
	return &c.root.prev.line, true
}

// Remove drops the line of key, if present.
func (c *Cache) Remove(key string) {
	if e, ok := c.index[key]; ok {
		c.unlink(e)
	}
}

// Len returns the number of lines held.
func (c *Cache) Len() int { return c.len }

// Capacity returns the maximum number of lines.
func (c *Cache) Capacity() int { return c.capacity }

// States returns the number of lines in each state, indexed by State
// (the Invalid count is always 0).
func (c *Cache) States() [4]int {
	var n [4]int
	for e := c.root.next; e != &c.root; e = e.next {
		n[e.line.State]++
	}
	return n
}

// Keys returns the keys held, sorted.
func (c *Cache) Keys() []string {
	keys := make([]string, 0, c.len)
	for e := c.root.next; e != &c.root; e = e.next {
		keys = append(keys, e.line.Key)
	}
	slices.Sort(keys)
	return keys
}

// lines returns copies of the lines held, sorted by key.
func (c *Cache) lines() []Line {
	out := make([]Line, 0, c.len)
	for e := c.root.next; e != &c.root; e = e.next {
		out = append(out, e.line)
	}
	slices.SortFunc(out, func(a, b Line) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

func (c *Cache) pushFront(e *element) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
	c.len++
}

func (c *Cache) unlink(e *element) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(c.index, e.line.Key)
	c.len--
	if c.len < 0 {
		panic(fmt.Sprintf("mesi: cache length %d after unlinking %q", c.len, e.line.Key))
	}
}

func (c *Cache) moveToFront(e *element) {
	if c.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}
