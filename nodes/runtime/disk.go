package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/distsync/distsync/nodes"
)

// ErrDiskClosed is returned by a DirDisk, or a file of it, after Close.
var ErrDiskClosed = errors.New("dir disk: closed")

// DirDisk is a nodes.Disk backed by one directory of the real file system:
// a node's files are plain files in it, so a node restarted on the same
// directory recovers what it synced. Names are validated with
// nodes.ValidateFileName, so a node cannot reach outside its directory.
//
// Durability follows the contract: File.Sync is fsync of the file (and, the
// first time, of the directory, so that a new file's name survives too);
// Rename and Remove fsync the directory before returning.
//
// It is safe for concurrent use, though a Host only uses it from its event
// loop (and from Stop, to close what the node left open).
type DirDisk struct {
	dir string

	mu     sync.Mutex
	open   map[*dirFile]struct{}
	closed bool
}

var _ nodes.Disk = (*DirDisk)(nil)

// OpenDirDisk returns a DirDisk over dir, creating the directory if needed.
func OpenDirDisk(dir string) (*DirDisk, error) {
	if dir == "" {
		return nil, fmt.Errorf("dir disk: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dir disk: create %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dir disk: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dir disk: %s is not a directory", dir)
	}
	return &DirDisk{dir: dir, open: map[*dirFile]struct{}{}}, nil
}

// Dir returns the directory behind the disk.
func (d *DirDisk) Dir() string { return d.dir }

func (d *DirDisk) path(name string) string { return filepath.Join(d.dir, name) }

func (d *DirDisk) checkOpen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: %s", ErrDiskClosed, d.dir)
	}
	return nil
}

// syncDir fsyncs the directory, making creations, renames and removals in
// it durable.
func (d *DirDisk) syncDir() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return fmt.Errorf("dir disk: open %s for sync: %w", d.dir, err)
	}
	serr := f.Sync()
	cerr := f.Close()
	if serr != nil {
		return fmt.Errorf("dir disk: sync %s: %w", d.dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("dir disk: close %s: %w", d.dir, cerr)
	}
	return nil
}

// Open implements nodes.Disk: the file is opened for reading and appending,
// and created empty if missing.
func (d *DirDisk) Open(name string) (nodes.File, error) {
	if err := nodes.ValidateFileName(name); err != nil {
		return nil, err
	}
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	p := d.path(name)
	created := true
	f, err := os.OpenFile(p, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		created = false
		f, err = os.OpenFile(p, os.O_RDWR|os.O_APPEND, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("dir disk: open %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("dir disk: stat %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("dir disk: open %s: not a regular file", name)
	}
	h := &dirFile{d: d, f: f, name: name, size: st.Size(), dirDirty: created}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s", ErrDiskClosed, d.dir)
	}
	d.open[h] = struct{}{}
	return h, nil
}

// Remove implements nodes.Disk: the removal is durable when it returns, and
// removing a missing file is not an error.
func (d *DirDisk) Remove(name string) error {
	if err := nodes.ValidateFileName(name); err != nil {
		return err
	}
	if err := d.checkOpen(); err != nil {
		return err
	}
	if err := os.Remove(d.path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("dir disk: remove %s: %w", name, err)
	}
	return d.syncDir()
}

// Rename implements nodes.Disk: os.Rename, then fsync of the directory, so
// the new name is durable when it returns.
func (d *DirDisk) Rename(oldName, newName string) error {
	if err := nodes.ValidateFileName(oldName); err != nil {
		return err
	}
	if err := nodes.ValidateFileName(newName); err != nil {
		return err
	}
	if err := d.checkOpen(); err != nil {
		return err
	}
	if err := os.Rename(d.path(oldName), d.path(newName)); err != nil {
		return fmt.Errorf("dir disk: rename %s to %s: %w", oldName, newName, err)
	}
	return d.syncDir()
}

// List implements nodes.Disk: the regular files of the directory whose
// names are valid Disk names, sorted. Anything else in the directory (a
// subdirectory, an editor's backup with a '~') is not the node's and is
// skipped.
func (d *DirDisk) List() ([]string, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("dir disk: list %s: %w", d.dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() || nodes.ValidateFileName(e.Name()) != nil {
			continue
		}
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// Close closes every file the node left open and makes the disk refuse
// further use. Unsynced writes are not synced, as a crash would not sync
// them either (though the kernel may still keep them). Calling Close twice
// is harmless.
func (d *DirDisk) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	files := make([]*dirFile, 0, len(d.open))
	for h := range d.open {
		files = append(files, h)
	}
	d.open = nil
	d.mu.Unlock()
	var errs []error
	for _, h := range files {
		if err := h.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dirFile is an open file of a DirDisk.
type dirFile struct {
	d    *DirDisk
	name string

	mu       sync.Mutex
	f        *os.File
	size     int64 // last known size, the answer of Size if Stat fails
	dirDirty bool  // the file was created and the directory not yet synced
	closed   bool
}

var _ nodes.File = (*dirFile)(nil)

func (h *dirFile) file() (*os.File, error) {
	if h.closed {
		return nil, fmt.Errorf("dir disk: %s: %w", h.name, os.ErrClosed)
	}
	return h.f, nil
}

// Name implements nodes.File.
func (h *dirFile) Name() string { return h.name }

// Size implements nodes.File: the size the file system reports, unsynced
// writes included.
func (h *dirFile) Size() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, err := h.file(); err == nil {
		if st, err := f.Stat(); err == nil {
			h.size = st.Size()
		}
	}
	return h.size
}

// ReadAt implements nodes.File with io.ReaderAt semantics.
func (h *dirFile) ReadAt(p []byte, off int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := h.file()
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("dir disk: %s: negative offset %d", h.name, off)
	}
	return f.ReadAt(p, off) // io.EOF is returned bare, as io.ReaderAt requires
}

// Append implements nodes.File. The file is opened O_APPEND, so the write
// lands at the end even after a Truncate.
func (h *dirFile) Append(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := h.file()
	if err != nil {
		return 0, err
	}
	n, err := f.Write(p)
	h.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("dir disk: append %d bytes to %s: %w", len(p), h.name, err)
	}
	return n, nil
}

// Truncate implements nodes.File: it shortens the file to size bytes, which
// must lie within [0, Size()].
func (h *dirFile) Truncate(size int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := h.file()
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("dir disk: stat %s: %w", h.name, err)
	}
	if size < 0 || size > st.Size() {
		return fmt.Errorf("dir disk: %s: truncate to %d outside [0, %d]", h.name, size, st.Size())
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("dir disk: truncate %s to %d: %w", h.name, size, err)
	}
	h.size = size
	return nil
}

// Sync implements nodes.File: fsync of the file, and of the directory the
// first time after the file was created, so the file's name is durable too.
func (h *dirFile) Sync() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := h.file()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dir disk: sync %s: %w", h.name, err)
	}
	if h.dirDirty {
		if err := h.d.syncDir(); err != nil {
			return err
		}
		h.dirDirty = false
	}
	return nil
}

// Close implements nodes.File. Closing twice is harmless.
func (h *dirFile) Close() error {
	h.d.mu.Lock()
	if h.d.open != nil {
		delete(h.d.open, h)
	}
	h.d.mu.Unlock()
	return h.close()
}

func (h *dirFile) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	if err := h.f.Close(); err != nil {
		return fmt.Errorf("dir disk: close %s: %w", h.name, err)
	}
	return nil
}
