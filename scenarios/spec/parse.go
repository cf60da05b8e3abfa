package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest scenario file accepted, in bytes.
const MaxFileSize = 1 << 20

// positions maps a field path ("faults[2].crash") to its line.
type positions map[string]int

// Parse decodes and validates one scenario file; file names it in errors
// and becomes Scenario.File. Decoding is strict: an unknown field, a
// repeated key, a wrong type, a second document or an empty file is an
// error, as is anything Validate rejects. Every error is an *Error that
// matches ErrInvalid.
func Parse(file string, data []byte) (*Scenario, error) {
	s, _, err := parse(file, data)
	return s, err
}

func parse(file string, data []byte) (*Scenario, positions, error) {
	if len(data) > MaxFileSize {
		return nil, nil, &Error{File: file, Msg: fmt.Sprintf("file is over the size limit of %d bytes (1 MiB)", MaxFileSize)}
	}
	root, err := document(file, data)
	if err != nil {
		return nil, nil, err
	}
	w := &walker{file: file, pos: positions{}}
	if err := w.walk(root, scenarioType, ""); err != nil {
		return nil, nil, err
	}
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, nil, yamlError(file, data, err)
	}
	s.File = file
	for i := range s.Faults {
		s.Faults[i].Line = w.pos[fmt.Sprintf("faults[%d]", i)]
	}
	if err := s.validate(w.pos); err != nil {
		return nil, nil, err
	}
	return &s, w.pos, nil
}

// document returns the mapping at the root of the file's only document.
func document(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Line: 1, Msg: "empty file: no scenario in it"}
		}
		return nil, yamlError(file, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(file, data, err)
	default:
		return nil, &Error{File: file, Line: next.Line, Msg: "a second YAML document: a file holds exactly one scenario"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: file, Line: max(doc.Line, 1), Msg: "not a YAML document"}
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, &Error{File: file, Line: max(root.Line, 1), Msg: "empty document: no scenario in it"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: fmt.Sprintf("want a mapping of scenario fields (name, duration, ...), got %s", describeNode(root))}
	}
	return root, nil
}

// Load reads and parses the scenario file at path.
func Load(path string) (*Scenario, error) {
	s, _, err := load(path)
	return s, err
}

func load(path string) (*Scenario, positions, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &Error{File: path, Msg: "cannot open: " + reason(err), Err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, nil, &Error{File: path, Msg: "is a directory, not a scenario file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, &Error{File: path, Msg: "cannot read: " + reason(err), Err: err}
	}
	return parse(path, data)
}

// LoadDir loads every *.yaml and *.yml file of dir (not its
// subdirectories), sorted by file name. A directory without scenario
// files is an error naming it, and so are two files with the same
// scenario name. Errors of several files are joined.
func LoadDir(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{File: dir, Msg: "cannot read directory: " + reason(err), Err: err}
	}
	var (
		out    []*Scenario
		errs   []error
		byName = map[string]string{}
	)
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		s, pos, err := load(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := byName[s.Name]; dup {
			errs = append(errs, &Error{File: path, Line: pos["name"], Field: "name",
				Msg: fmt.Sprintf("scenario name %q is also the name of %s", s.Name, other)})
			continue
		}
		byName[s.Name] = path
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, &Error{File: dir, Msg: "no scenario files (*.yaml, *.yml) in this directory"}
	}
	return out, nil
}

// reason is an error's text without the path an *fs.PathError repeats.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

var (
	yamlLine      = regexp.MustCompile(`^line (\d+): `)
	unknownAnchor = regexp.MustCompile(`unknown anchor '(.*)' referenced`)
)

// yamlError turns an error of the YAML library into an *Error. A few of
// its messages carry no line: the line is then found in data.
func yamlError(file string, data []byte, err error) *Error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	e := &Error{File: file, Msg: msg, Err: err}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = msg[len(m[0]):]
	}
	if e.Msg == "" {
		e.Msg = "malformed YAML"
	}
	if e.Line == 0 {
		e.Line = guessLine(data, e.Msg)
	}
	return e
}

// guessLine finds the line a message without one is about: the first use
// of an unknown anchor, or the first byte that is not printable UTF-8.
func guessLine(data []byte, msg string) int {
	at := -1
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		at = bytes.Index(data, []byte("*"+m[1]))
	} else {
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if (r == utf8.RuneError && size <= 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
				at = i
				break
			}
			i += size
		}
	}
	if at < 0 {
		return 0
	}
	return 1 + bytes.Count(data[:at], []byte("\n"))
}

// UnmarshalYAML reads a duration written as Go does: "1.5s", "200ms",
// "2m", "0s". The sign is checked by Validate (only a clock skew may be
// negative).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "1.5s" (and microseconds as "us").
func (d Duration) MarshalYAML() (any, error) {
	return strings.ReplaceAll(time.Duration(d).String(), "µ", "u"), nil
}

// String returns the duration as "1.5s".
func (d Duration) String() string { return time.Duration(d).String() }

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want a duration such as 1.5s or 200ms, got %s", describeNode(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want a number and a unit, such as 1.5s, 200ms or 2m", n.Value)
	}
	return v, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describeNode names what a node is, for "want X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", v)
		case "!!null":
			return "nothing"
		}
		return strconv.Quote(v)
	}
	return "something else"
}
