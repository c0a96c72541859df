package mqtt

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Python in the docs is the code in docs/examples/ that the
// integration tests run: every `<!-- snippet: examples/FILE#REGION -->`
// in a page is followed by a code block equal to the region between
// `# [START REGION]` and `# [END REGION]` in the file, and every region of
// every example file is shown somewhere.
func TestDocSnippetsAreTheExamples(t *testing.T) {
	docs := "../../docs"
	files, err := filepath.Glob(filepath.Join(docs, "examples", "*.py"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	regions := map[string]string{} // "examples/FILE#REGION" → code
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found, err := exampleRegions(string(src))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(found) == 0 {
			t.Errorf("%s has no [START …]/[END …] region to show in the docs", f)
		}
		for name, code := range found {
			regions["examples/"+filepath.Base(f)+"#"+name] = code
		}
	}
	shown := map[string]bool{}
	marker := regexp.MustCompile(`^<!-- snippet: (\S+) -->$`)
	for _, page := range []string{"backend.md", "mqtt.md", "deploy.md"} {
		src, err := os.ReadFile(filepath.Join(docs, page))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		for i := 0; i < len(lines); i++ {
			m := marker.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			want, ok := regions[m[1]]
			if !ok {
				t.Errorf("%s:%d: no region %s in docs/examples", page, i+1, m[1])
				continue
			}
			shown[m[1]] = true
			if i+1 >= len(lines) || lines[i+1] != "```python" {
				t.Errorf("%s:%d: the snippet marker is not followed by a ```python block", page, i+1)
				continue
			}
			var got []string
			j := i + 2
			for ; j < len(lines) && lines[j] != "```"; j++ {
				got = append(got, lines[j])
			}
			if strings.Join(got, "\n") != want {
				t.Errorf("%s:%d: the block differs from %s; copy the region again:\n%s", page, i+2, m[1], want)
			}
			i = j
		}
	}
	for name := range regions {
		if !shown[name] {
			t.Errorf("docs/%s is not shown in any page", name)
		}
	}
}

// exampleRegions returns the regions of a Python file.
func exampleRegions(src string) (map[string]string, error) {
	out := map[string]string{}
	start := regexp.MustCompile(`^# \[START (\w+)\]$`)
	end := regexp.MustCompile(`^# \[END (\w+)\]$`)
	var name string
	var body []string
	for i, line := range strings.Split(src, "\n") {
		if m := start.FindStringSubmatch(line); m != nil {
			if name != "" {
				return nil, fmt.Errorf("line %d: START %s inside %s", i+1, m[1], name)
			}
			name, body = m[1], nil
			continue
		}
		if m := end.FindStringSubmatch(line); m != nil {
			if m[1] != name {
				return nil, fmt.Errorf("line %d: END %s without its START", i+1, m[1])
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("region %s twice", name)
			}
			out[name] = strings.Join(body, "\n")
			name = ""
			continue
		}
		if name != "" {
			body = append(body, line)
		}
	}
	if name != "" {
		return nil, fmt.Errorf("region %s has no END", name)
	}
	return out, nil
}
