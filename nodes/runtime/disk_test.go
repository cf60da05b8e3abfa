package runtime

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

func openDisk(t *testing.T) *DirDisk {
	t.Helper()
	d, err := OpenDirDisk(filepath.Join(t.TempDir(), "node"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

func appendAll(t *testing.T, f nodes.File, parts ...string) {
	t.Helper()
	for _, p := range parts {
		n, err := f.Append([]byte(p))
		require.NoError(t, err)
		require.Equal(t, len(p), n)
	}
}

func readAll(t *testing.T, f nodes.File) string {
	t.Helper()
	buf := make([]byte, f.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil {
		require.ErrorIs(t, err, io.EOF)
	}
	return string(buf[:n])
}

func TestDirDiskFileLifecycle(t *testing.T) {
	d := openDisk(t)
	f, err := d.Open("log")
	require.NoError(t, err)
	require.Equal(t, "log", f.Name())
	require.Zero(t, f.Size())

	appendAll(t, f, "hello ", "world")
	require.Equal(t, int64(11), f.Size())
	require.NoError(t, f.Sync())
	require.Equal(t, "hello world", readAll(t, f))

	// ReadAt follows io.ReaderAt: a short read at the end says io.EOF.
	readTests := []struct {
		name string
		off  int64
		size int
		want string
		eof  bool
	}{
		{"middle", 6, 5, "world", false},
		{"across the end", 8, 10, "rld", true},
		{"at the end", 11, 1, "", true},
		{"past the end", 100, 1, "", true},
	}
	for _, tc := range readTests {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.size)
			n, err := f.ReadAt(buf, tc.off)
			require.Equal(t, tc.want, string(buf[:n]))
			if tc.eof {
				require.ErrorIs(t, err, io.EOF)
			} else {
				require.NoError(t, err)
			}
		})
	}
	_, err = f.ReadAt(make([]byte, 1), -1)
	require.ErrorContains(t, err, "negative offset")

	// Truncate shortens; appends then land at the new end.
	require.NoError(t, f.Truncate(5))
	require.Equal(t, int64(5), f.Size())
	appendAll(t, f, "!")
	require.Equal(t, "hello!", readAll(t, f))
	require.ErrorContains(t, f.Truncate(7), "outside [0, 6]")
	require.ErrorContains(t, f.Truncate(-1), "outside [0, 6]")
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "second close is harmless")
	_, err = f.Append([]byte("x"))
	require.ErrorIs(t, err, os.ErrClosed)

	// Reopening sees the content, as a restarted node would.
	g, err := d.Open("log")
	require.NoError(t, err)
	require.Equal(t, "hello!", readAll(t, g))
	appendAll(t, g, "?")
	require.Equal(t, "hello!?", readAll(t, g))
}

func TestDirDiskRenameRemoveList(t *testing.T) {
	d := openDisk(t)
	for _, name := range []string{"b", "a", "c.tmp"} {
		f, err := d.Open(name)
		require.NoError(t, err)
		appendAll(t, f, "content of "+name)
		require.NoError(t, f.Sync())
		require.NoError(t, f.Close())
	}
	// Things in the directory that are not the node's files are skipped.
	require.NoError(t, os.Mkdir(filepath.Join(d.Dir(), "subdir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.Dir(), "backup~"), nil, 0o644))

	names, err := d.List()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c.tmp"}, names)

	// Rename replaces an existing target atomically.
	require.NoError(t, d.Rename("c.tmp", "a"))
	names, err = d.List()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, names)
	a, err := d.Open("a")
	require.NoError(t, err)
	require.Equal(t, "content of c.tmp", readAll(t, a))
	require.NoError(t, a.Close())
	require.ErrorContains(t, d.Rename("missing", "z"), "rename missing to z")

	require.NoError(t, d.Remove("b"))
	require.NoError(t, d.Remove("b"), "removing a missing file is not an error")
	names, err = d.List()
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, names)
}

func TestDirDiskRejectsBadNames(t *testing.T) {
	d := openDisk(t)
	bad := []string{"", ".", "..", "../escape", "a/b", "sp ace", strings.Repeat("x", nodes.MaxFileNameBytes+1)}
	for _, name := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := d.Open(name)
			require.ErrorIs(t, err, nodes.ErrBadFileName)
			require.ErrorIs(t, d.Remove(name), nodes.ErrBadFileName)
			require.ErrorIs(t, d.Rename(name, "ok"), nodes.ErrBadFileName)
			require.ErrorIs(t, d.Rename("ok", name), nodes.ErrBadFileName)
		})
	}
	names, err := d.List()
	require.NoError(t, err)
	require.Empty(t, names)
}

func TestDirDiskCloseClosesOpenFiles(t *testing.T) {
	d, err := OpenDirDisk(t.TempDir())
	require.NoError(t, err)
	f, err := d.Open("open")
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "second close is harmless")
	_, err = f.Append([]byte("x"))
	require.ErrorIs(t, err, os.ErrClosed)
	_, err = d.Open("other")
	require.ErrorIs(t, err, ErrDiskClosed)
	_, err = d.List()
	require.ErrorIs(t, err, ErrDiskClosed)
}

func TestOpenDirDiskErrors(t *testing.T) {
	_, err := OpenDirDisk("")
	require.ErrorContains(t, err, "empty directory name")
	file := filepath.Join(t.TempDir(), "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = OpenDirDisk(file)
	require.ErrorContains(t, err, "plain")
}
