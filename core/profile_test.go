package core

import (
	"strings"
	"testing"
)

func TestBuiltinProfiles(t *testing.T) {
	ps := Builtin()
	for _, name := range []string{"generic-80mm", "generic-58mm", "epson-tm-t20iii", "epson-tm-t88v", "epson-tm-t88vi", "epson-tm-m30", "star-tsp100", "star-tsp650"} {
		p, err := ps.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Spanish and the euro sign must be printable on every built-in profile.
		_, has858 := p.CodePages["PC858"]
		_, has1252 := p.CodePages["WPC1252"]
		if !has858 && !has1252 {
			t.Errorf("%s has neither PC858 nor WPC1252", name)
		}
	}
	def, _ := ps.Lookup("")
	if def.Name != DefaultProfile || def.DotsPerLine != 576 || def.DefaultCodePage != "PC858" {
		t.Errorf("default profile = %+v", def)
	}
	vi, _ := ps.Lookup("epson-tm-t88vi")
	if vi.DotsPerLine != 512 || vi.DPI != 180 || !vi.Beep || vi.Base != "epson-tm-t88v" {
		t.Errorf("tm-t88vi did not inherit from its base: %+v", vi)
	}
	if m30, _ := ps.Lookup("epson-tm-m30"); !m30.HasCut("full") {
		t.Errorf("tm-m30 override of cuts lost")
	}
	if t20, _ := ps.Lookup("epson-tm-t20iii"); t20.HasCut("full") {
		t.Errorf("override leaked into base")
	}
}

func TestParseProfilesDiagnostics(t *testing.T) {
	src := `
profile "a" {
  base = "nope"
}
profile "b" {
  dots_per_line = 576
  code_pages = { KLINGON = 1 }
}
profile "c" {
  dots_per_line = "wide"
}
`
	_, diags := ParseProfiles([]byte(src), "x.hcl", Builtin())
	if len(diags) != 3 {
		t.Fatalf("want 3 diagnostics, got %d: %v", len(diags), diags)
	}
	for i, want := range []string{"x.hcl:3,10", "x.hcl:5,1", "x.hcl:10,20"} {
		if got := diags[i].Subject.String(); !strings.HasPrefix(got, want) {
			t.Errorf("diag %d at %s, want %s (%s)", i, got, want, diags[i].Error())
		}
	}
}
