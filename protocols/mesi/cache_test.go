package mesi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCacheLRU(t *testing.T) {
	_, err := NewCache(0)
	require.ErrorContains(t, err, "capacity 0")
	c, err := NewCache(2)
	require.NoError(t, err)
	require.Nil(t, c.Put(Line{Key: "a", State: Shared}))
	require.Nil(t, c.Put(Line{Key: "b", State: Modified}))
	_, full := c.Victim()
	require.True(t, full)
	l, ok := c.Get("a", 5)
	require.True(t, ok)
	require.Equal(t, int64(5), int64(l.Used))
	v, _ := c.Victim()
	require.Equal(t, "b", v.Key, "a was touched, b is least recently used")
	ev := c.Put(Line{Key: "c", State: Exclusive})
	require.Equal(t, "b", ev.Key)
	require.Equal(t, []string{"a", "c"}, c.Keys())
	require.Equal(t, [4]int{0, 1, 1, 0}, c.States())
	require.Nil(t, c.Put(Line{Key: "a", State: Modified, Version: 2}), "replacing does not evict")
	require.Equal(t, [4]int{0, 0, 1, 1}, c.States())
	c.Remove("a")
	c.Remove("zz")
	require.Equal(t, 1, c.Len())
	require.Equal(t, 2, c.Capacity())
	_, ok = c.Get("a", 0)
	require.False(t, ok)
	require.Panics(t, func() { c.Put(Line{Key: "x", State: Invalid}) })
}

func TestCheckSWMR(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines map[NodeID]State
		want  string
	}{
		{"empty", nil, ""},
		{"sharers", map[NodeID]State{"a": Shared, "b": Shared, "c": Invalid}, ""},
		{"one owner", map[NodeID]State{"a": Modified, "b": Invalid}, ""},
		{"two owners", map[NodeID]State{"b": Exclusive, "a": Modified}, "2 owners [a b]"},
		{"owner and sharer", map[NodeID]State{"a": Shared, "b": Exclusive}, "owner b (E) alongside sharers [a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSWMR("k", tc.lines)
			if tc.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.want)
			}
		})
	}
}

func TestCheckSWMRAll(t *testing.T) {
	ok := map[NodeID][]Line{"a": {{Key: "x", State: Shared}, {Key: "y", State: Modified}}, "b": {{Key: "x", State: Shared}}}
	require.NoError(t, CheckSWMRAll(ok))
	bad := map[NodeID][]Line{
		"a": {{Key: "z", State: Modified}, {Key: "y", State: Shared}},
		"b": {{Key: "z", State: Shared}, {Key: "y", State: Exclusive}},
	}
	require.ErrorContains(t, CheckSWMRAll(bad), `SWMR "y": owner b (E) alongside sharers [a]`, "keys in sorted order: y first")
}

func TestCheckData(t *testing.T) {
	last := Write{[]byte("x"), 5}
	for _, tc := range []struct {
		name    string
		lines   map[NodeID]Line
		mem     Write
		settled bool
		want    string
	}{
		{"current", map[NodeID]Line{"a": {State: Shared, Value: []byte("x"), Version: 5}}, last, true, ""},
		{"stale copy", map[NodeID]Line{"a": {State: Shared, Value: []byte("w"), Version: 4}}, last, true, "older than the last write"},
		{"wrong value", map[NodeID]Line{"a": {State: Exclusive, Value: []byte("y"), Version: 5}}, last, true, `holds "y" at version 0x5`},
		{"stale memory", nil, Write{[]byte("w"), 4}, true, "no M copy, memory holds"},
		{"memory in flight", nil, Write{[]byte("w"), 4}, false, ""},
		{"dirty owner", map[NodeID]Line{"a": {State: Modified, Value: []byte("x"), Version: 5}}, Write{}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckData("k", last, tc.lines, tc.mem, tc.settled)
			if tc.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.want)
			}
		})
	}
}
