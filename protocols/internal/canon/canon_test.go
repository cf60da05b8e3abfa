package canon

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var errBad = errors.New("bad")

func TestRoundTrip(t *testing.T) {
	e := NewEncoder(0)
	e.Raw([]byte("MAGIC"))
	e.Byte(7)
	e.Bool(true)
	e.Uint(1 << 40)
	e.Int(-5)
	e.Duration(-time.Second)
	e.String("hello")
	e.Blob([]byte{1, 2, 3})
	e.Blob(nil)
	d := NewDecoder(e.Bytes(), 5, errBad, 16)
	require.Equal(t, uint8(7), d.Byte())
	require.True(t, d.Bool())
	require.Equal(t, uint64(1<<40), d.Uint())
	require.Equal(t, int64(-5), d.Int())
	require.Equal(t, -time.Second, d.Duration())
	require.Equal(t, "hello", d.String())
	require.Equal(t, []byte{1, 2, 3}, d.Blob(16))
	require.Nil(t, d.Blob(16))
	require.NoError(t, d.Finish())
}

func TestMalformedInputIsAnErrorWrappingTheSentinel(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		read func(d *Decoder)
	}{
		"truncated":        {nil, func(d *Decoder) { d.Byte() }},
		"non-canonical":    {[]byte{0x80, 0x00}, func(d *Decoder) { d.Uint() }},
		"bad bool":         {[]byte{2}, func(d *Decoder) { d.Bool() }},
		"string too long":  {[]byte{17}, func(d *Decoder) { _ = d.String() }},
		"string truncated": {[]byte{3, 'a'}, func(d *Decoder) { _ = d.String() }},
		"count too big":    {[]byte{5, 0}, func(d *Decoder) { d.Count(1) }},
		"trailing bytes":   {[]byte{1, 2}, func(d *Decoder) { d.Byte() }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(tc.in, 0, errBad, 16)
			tc.read(d)
			err := d.Finish()
			require.Error(t, err)
			require.ErrorIs(t, err, errBad)
			require.Zero(t, d.Uint(), "after an error every read is zero")
		})
	}
}

func TestFailAtReportsTheOffsetGiven(t *testing.T) {
	d := NewDecoder([]byte{9, 9, 9}, 0, errBad, 16)
	d.Byte()
	d.Byte()
	d.FailAt(1, "kind %d", 9)
	require.ErrorContains(t, d.Err(), "at byte 1: kind 9")
}
