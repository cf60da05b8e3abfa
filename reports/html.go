package reports

import (
	"bytes"
	"fmt"
	"html/template"
)

// Figure is a plot as index.html shows it: its PNG inline, linked to its
// SVG.
type Figure struct {
	Title    string
	PNG, SVG string
}

// Link is a file the report links to.
type Link struct {
	Href, Text string
}

// runPage is the data of a run's index.html.
type runPage struct {
	Scenario, File, TraceHash string
	Seed                      uint64
	Headline                  string
	Passed                    bool
	Failure, Replay           string
	Notes                     []string
	Links                     []Link
	Figures                   []Figure
	Sections                  []Section
	// Up links back to the sweep's index when this run is one of its
	// seeds.
	Up string
}

// sweepScenario is one scenario of a sweep's index.html.
type sweepScenario struct {
	Name, File string
	Seeds      int
	Failed     int
	Histogram  *Figure
	Report     *Link
	Notes      []string
}

// sweepPage is the data of a sweep's index.html.
type sweepPage struct {
	Seeds, Failed int
	Metric        string
	Links         []Link
	Scenarios     []sweepScenario
	Sections      []Section
}

const style = `<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.ok { color: #1a7f37; font-weight: bold; } .fail { color: #cf222e; font-weight: bold; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
code, pre { background: #f6f8fa; padding: .1em .3em; } pre { padding: .6em; overflow-x: auto; }
.note { color: #666; font-style: italic; }
</style>`

const sectionsTmpl = `{{define "sections"}}{{range .}}
<h2>{{.Title}}</h2>
{{if .Rows}}<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .List}}<ul>{{range .List}}<li><pre>{{.}}</pre></li>{{end}}</ul>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
{{end}}{{end}}`

var runTmpl = template.Must(template.New("run").Parse(sectionsTmpl + `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>distsync: {{.Scenario}} seed {{.Seed}}</title>
` + style + `</head><body>
{{if .Up}}<p><a href="{{.Up}}">← the sweep</a></p>{{end}}
<h1>{{.Scenario}}, seed {{.Seed}}</h1>
<table>
<tr><th>scenario</th><td>{{.Scenario}}</td></tr>
{{if .File}}<tr><th>file</th><td><code>{{.File}}</code></td></tr>{{end}}
<tr><th>seed</th><td>{{.Seed}}</td></tr>
<tr><th>trace-hash</th><td><code>{{.TraceHash}}</code></td></tr>
<tr><th>verdict</th><td>{{if .Passed}}<span class="ok">every check passed</span>{{else}}<span class="fail">FAIL</span> {{.Failure}}{{end}}</td></tr>
</table>
<p>{{.Headline}}</p>
{{if .Replay}}<p>Replay it exactly:</p><pre>{{.Replay}}</pre>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
<p>{{range $i, $l := .Links}}{{if $i}} · {{end}}<a href="{{$l.Href}}">{{$l.Text}}</a>{{end}}</p>
{{range .Figures}}<figure><a href="{{.SVG}}"><img src="{{.PNG}}" alt="{{.Title}}"></a>
<figcaption>{{.Title}} (<a href="{{.PNG}}">PNG</a>, <a href="{{.SVG}}">SVG</a>)</figcaption></figure>
{{end}}
{{template "sections" .Sections}}
</body></html>
`))

var sweepTmpl = template.Must(template.New("sweep").Parse(sectionsTmpl + `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>distsync sweep: {{.Seeds}} seeds, {{.Failed}} failed</title>
` + style + `</head><body>
<h1>Sweep: {{.Seeds}} seeds, {{if .Failed}}<span class="fail">{{.Failed}} failed</span>{{else}}<span class="ok">every seed passed</span>{{end}}</h1>
<p>{{range $i, $l := .Links}}{{if $i}} · {{end}}<a href="{{$l.Href}}">{{$l.Text}}</a>{{end}}</p>
{{template "sections" .Sections}}
{{range .Scenarios}}
<h2>{{.Name}}: {{.Seeds}} seeds, {{if .Failed}}<span class="fail">{{.Failed}} failed</span>{{else}}<span class="ok">all passed</span>{{end}}</h2>
{{if .File}}<p>file <code>{{.File}}</code></p>{{end}}
{{if .Report}}<p>Full report of one seed: <a href="{{.Report.Href}}">{{.Report.Text}}</a></p>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{with .Histogram}}<figure><a href="{{.SVG}}"><img src="{{.PNG}}" alt="{{.Title}}"></a>
<figcaption>{{.Title}} (<a href="{{.PNG}}">PNG</a>, <a href="{{.SVG}}">SVG</a>)</figcaption></figure>{{end}}
{{end}}
</body></html>
`))

func renderHTML(t *template.Template, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("index.html: %w", err)
	}
	return buf.Bytes(), nil
}
