package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrint(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "printers.hcl")
	src := `
printer "kitchen" {
  sim { output = "out/kitchen" }
}
printer "bar" {
  profile = "generic-58mm"
  sim {
    output = "out/bar"
    render = false
  }
}
`
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "ticket.bin")
	if err := os.WriteFile(in, []byte("\x1b@\x1bt\x13Ma\xa4ana 5\xd5\n\x1dVB\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"print"}, args...), strings.NewReader("\x1b@bar ticket\n"), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := run1("-config", cfg, in)
	if code != 0 || !strings.Contains(out, "sent 19 bytes to kitchen (sim, generic-80mm)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	txts, _ := filepath.Glob(filepath.Join(dir, "out", "kitchen", "*.txt"))
	pngs, _ := filepath.Glob(filepath.Join(dir, "out", "kitchen", "*.png"))
	if len(txts) != 1 || len(pngs) != 1 {
		t.Fatalf("kitchen output: %v %v", txts, pngs)
	}
	if b, _ := os.ReadFile(txts[0]); strings.TrimSpace(string(b)) != "Mañana 5€" {
		t.Errorf("transcript %q, want the PC858 bytes decoded", b)
	}

	// stdin, and a named printer
	if code, out, errs := run1("-config", cfg, "-printer", "bar", "-"); code != 0 || !strings.Contains(out, "to bar") {
		t.Fatalf("stdin to bar: exit %d, %q %q", code, out, errs)
	}
	if txts, _ := filepath.Glob(filepath.Join(dir, "out", "bar", "*.txt")); len(txts) != 1 {
		t.Errorf("bar transcripts %v", txts)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-config", cfg, "-printer", "patio", in}, 1, `no printer "patio"`},
		{[]string{"-config", cfg, filepath.Join(dir, "missing.bin")}, 1, "missing.bin"},
		{[]string{"-config", filepath.Join(dir, "nope.hcl"), in}, 1, "nope.hcl"},
		{[]string{"-config", cfg}, 2, "Usage: comandera print"},
	} {
		code, _, errs := run1(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}

	// A printer that cannot be reached is an error, not a silent success.
	if err := os.WriteFile(filepath.Join(dir, "out", "kitchen", "OFFLINE"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run1("-config", cfg, in); code != 1 || !strings.Contains(errs, "offline") {
		t.Errorf("offline printer: exit %d, stderr %q", code, errs)
	}
}
