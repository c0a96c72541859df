package server

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPI keeps docs/openapi.yaml true: its paths and methods are
// exactly the routes the server registers, and every $ref resolves.
func TestOpenAPI(t *testing.T) {
	src, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var documented []string
	for path, item := range doc.Paths {
		for k, op := range item {
			if !slices.Contains(methods, k) {
				continue
			}
			documented = append(documented, strings.ToUpper(k)+" "+path)
			if m, ok := op.(map[string]any); !ok || m["responses"] == nil {
				t.Errorf("%s %s has no responses", k, path)
			}
		}
	}
	var served []string
	for _, r := range Routes() {
		served = append(served, r.Method+" "+r.Pattern)
	}
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("route %s is served but not in docs/openapi.yaml", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("docs/openapi.yaml describes %s, which the server does not serve", d)
		}
	}

	// Every $ref points at something.
	var all map[string]any
	if err := yaml.Unmarshal(src, &all); err != nil {
		t.Fatal(err)
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "$ref" {
					ref, _ := c.(string)
					if !resolves(all, ref) {
						t.Errorf("%s: $ref %q does not resolve", at, ref)
					}
					continue
				}
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	walk(all, "")
}

func resolves(doc map[string]any, ref string) bool {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestRoutesServed: every route in the table answers something other than
// the mux's 404/405 fallbacks (with and without its trailing parts).
func TestRoutesServed(t *testing.T) {
	ts := newTestServer(t, testHCL)
	for _, r := range Routes() {
		path := strings.ReplaceAll(r.Pattern, "{id}", "01M8CYMG709TJ6SZNNBSVK5XNR")
		if r.Pattern == "/events" {
			continue // a stream: covered end to end
		}
		st, body := ts.call(r.Method, path, "", nil)
		if st == 405 || strings.Contains(body, `"code":"method_not_allowed"`) || strings.Contains(body, "no route") {
			t.Errorf("%s %s: %d %s", r.Method, path, st, body)
		}
	}
}
