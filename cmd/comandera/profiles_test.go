package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

func runProfilesCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"profiles"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestProfiles(t *testing.T) {
	empty := t.TempDir()
	code, out, errs := runProfilesCmd(t, empty)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, n := range core.Builtin().Names() {
		if !strings.Contains(out, "\n"+n+" ") {
			t.Errorf("built-in %s not listed:\n%s", n, out)
		}
	}
	if !strings.Contains(out, "built-in") || !strings.Contains(out, "(built-in)\n") {
		t.Errorf("sources:\n%s", out)
	}

	dir := t.TempDir()
	cfg := writeProfilesFile(t, dir, `
printer "p" {
  profile = "my-clone"
  sim {}
}
profile "my-clone" {
  base        = "generic-58mm"
  description = "POS-5890 from the cash-and-carry"
  vendor      = "NoName"
}
profile "generic-80mm" {
  base        = "generic-80mm"
  description = "our 80 mm clones"
}
`)
	code, out, errs = runProfilesCmd(t, dir, "-config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	if l := lines["my-clone"]; !strings.Contains(l, "NoName") || !strings.Contains(l, cfg) || strings.Contains(l, "overrides") || !strings.Contains(l, "384 dots, 203 dpi") {
		t.Errorf("my-clone: %q", l)
	}
	if l := lines["generic-80mm"]; !strings.Contains(l, cfg+" (overrides built-in)") || !strings.Contains(l, "our 80 mm clones") {
		t.Errorf("generic-80mm: %q", l)
	}
	if l := lines["generic-58mm"]; !strings.Contains(l, "built-in") || strings.Contains(l, cfg) {
		t.Errorf("generic-58mm: %q", l)
	}

	// ./printers.hcl is read without -config; -json and names.
	writeProfilesFile(t, dir, "", "printers.hcl", cfg)
	code, out, errs = runProfilesCmd(t, dir, "-json", "my-clone")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var list []struct {
		Source      string `json:"source"`
		Name        string `json:"name"`
		DotsPerLine int    `json:"dots_per_line"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Name != "my-clone" || list[0].DotsPerLine != 384 || list[0].Source != "printers.hcl" {
		t.Errorf("%v %+v\n%s", err, list, out)
	}

	if code, _, errs := runProfilesCmd(t, dir, "nope"); code != 1 || !strings.Contains(errs, `unknown profile "nope"`) {
		t.Errorf("unknown name: %d %s", code, errs)
	}
}

// writeProfilesFile writes src to dir/printers-test.hcl, or, given a name
// and a file, copies that file to dir/name.
func writeProfilesFile(t *testing.T, dir, src string, nameFrom ...string) string {
	t.Helper()
	name := "printers-test.hcl"
	if len(nameFrom) == 2 {
		name = nameFrom[0]
		b, err := os.ReadFile(nameFrom[1])
		if err != nil {
			t.Fatal(err)
		}
		src = string(b)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
