package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
)

// The walker checks the YAML tree against the Go types before the YAML
// library decodes it, so that an unknown field, a repeated key or a wrong
// type is reported with the path of the field and its line. It also
// records the line of every field for Validate's messages.

var (
	scenarioType = reflect.TypeFor[Scenario]()
	durationType = reflect.TypeFor[Duration]()
)

// field is one YAML field of a struct.
type field struct {
	name  string
	index int
}

var fieldCache sync.Map // reflect.Type -> []field

// fieldsOf returns the YAML fields of struct type t, in declaration order.
func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{name: name, index: i})
	}
	fieldCache.Store(t, out)
	return out
}

type walker struct {
	file string
	pos  positions
}

func (w *walker) errf(n *yaml.Node, path, format string, args ...any) *Error {
	return &Error{File: w.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

// walk checks node n against type t; path names it.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) *Error {
	if n.Kind == yaml.AliasNode {
		return w.errf(n, path, "aliases (*%s) are not supported in scenario files; write the value out", n.Value)
	}
	w.pos[path] = n.Line
	if isNull(n) {
		return nil // the zero value
	}
	if t == durationType {
		if _, err := parseDuration(n); err != nil {
			return w.errf(n, path, "%v", err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.walk(n, t.Elem(), path)
	case reflect.Struct:
		return w.mapping(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return w.errf(n, path, "want a list, got %s", describeNode(n))
		}
		for i, c := range n.Content {
			if err := w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return w.errf(n, path, "want a string, got %s", describeNode(n))
		}
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp", "!!binary":
			return nil
		}
		return w.errf(n, path, "unsupported tag %s", n.Tag)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return w.errf(n, path, "want a whole number, got %s", describeNode(n))
		}
		return nil
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			return w.errf(n, path, "want a number, got %s", describeNode(n))
		}
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return w.errf(n, path, "want true or false, got %s", describeNode(n))
		}
		return nil
	}
	return w.errf(n, path, "unsupported field type %s", t)
}

// mapping checks a mapping against struct type t: every key a known field,
// none repeated.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) *Error {
	if n.Kind != yaml.MappingNode {
		return w.errf(n, path, "want a mapping of %s, got %s", fieldList(t), describeNode(n))
	}
	fields := fieldsOf(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return w.errf(k, path, "a key must be a field name, got %s", describeNode(k))
		}
		name := k.Value
		sub := name
		if path != "" {
			sub = path + "." + name
		}
		if first, dup := seen[name]; dup {
			return w.errf(k, sub, "repeated key (first at line %d)", first)
		}
		seen[name] = k.Line
		j := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		if j < 0 {
			return w.errf(k, sub, "unknown field%s", suggest(name, fields, t))
		}
		if err := w.walk(v, t.Field(fields[j].index).Type, sub); err != nil {
			return err
		}
	}
	return nil
}

// fieldList names the fields of struct type t, for messages.
func fieldList(t reflect.Type) string {
	var names []string
	for _, f := range fieldsOf(t) {
		names = append(names, f.name)
	}
	if len(names) > 6 {
		names = append(names[:6], "...")
	}
	return strings.Join(names, ", ")
}

// suggest proposes the closest known field, or lists them.
func suggest(name string, fields []field, t reflect.Type) string {
	best, bestD := "", 3
	for _, f := range fields {
		if d := editDistance(strings.ToLower(name), f.name); d < bestD {
			best, bestD = f.name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	var names []string
	for _, f := range fields {
		names = append(names, f.name)
	}
	return fmt.Sprintf(" (known: %s)", strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance of short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// eachDuration calls fn with the path and value of every Duration in v
// (a Scenario or part of one), in field order, until fn returns false.
func eachDuration(v reflect.Value, path string, fn func(path string, d Duration) bool) bool {
	if v.Type() == durationType {
		return fn(path, Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return true
		}
		return eachDuration(v.Elem(), path, fn)
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			sub := f.name
			if path != "" {
				sub = path + "." + f.name
			}
			if !eachDuration(v.Field(f.index), sub, fn) {
				return false
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if !eachDuration(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn) {
				return false
			}
		}
	}
	return true
}
