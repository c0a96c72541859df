package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

// validatetest is a driver only these tests use.
type validateDriver struct{}

type validateConfig struct {
	Address string `hcl:"address"`
}

func (validateDriver) Config() any { return &validateConfig{} }
func (validateDriver) Open(context.Context, any) (core.Conn, error) {
	return nil, errors.New("test driver")
}

func init() { core.Register("validatetest", validateDriver{}) }

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	t.Setenv("PRINTER_SECRET", "")
	dir := t.TempDir()
	good := writeFile(t, dir, "good.hcl", `printer "kitchen" {
  profile = "epson-tm-t20iii"
  validatetest { address = "a" }
}
printer "bar" {
  validatetest { address = "b" }
}
`)
	code, out, errOut := runCmd(t, "validate", good)
	if code != 0 || errOut != "" {
		t.Fatalf("valid file: exit %d, stderr %q", code, errOut)
	}
	if want := good + ": valid: 2 printers (kitchen, bar); drivers: validatetest; profiles: epson-tm-t20iii, generic-80mm\n"; out != want {
		t.Errorf("summary = %q, want %q", out, want)
	}

	bad := writeFile(t, dir, "bad.hcl", `server {
  listen = "0.0.0.0:3001"
}
printer "kitchen" {
  profile  = "nope"
  fallback = "kitchen"
  validatetest { adress = "a" }
}
`)
	code, out, errOut = runCmd(t, "validate", bad)
	if code != 1 || out != "" {
		t.Errorf("broken file: exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	want := []string{
		bad + `:2:12: Listening on the network without a token; listening on 0.0.0.0:3001 (not loopback) without a token would let anyone who can reach it print; set token (token = env("PRINTER_SECRET")) or, on a trusted network, insecure = true.`,
		bad + `:5:14: Unknown profile; Printer "kitchen" uses profile "nope", which is neither built in nor defined by a profile block. Known profiles: ` + strings.Join(core.Builtin().Names(), ", ") + `.`,
		bad + `:6:14: Invalid fallback; Printer "kitchen" cannot fall back to itself.`,
		bad + `:7:18: Missing required argument; The argument "address" is required, but no definition was found.`,
		bad + `:7:18: Unsupported argument; An argument named "adress" is not expected here. Did you mean "address"?`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, strings.Join(want, "\n"))
	}

	if code, _, errOut := runCmd(t, "validate", filepath.Join(dir, "missing.hcl")); code != 1 || !strings.Contains(errOut, "missing.hcl: Cannot read configuration; open ") {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "validate", "a", "b"); code != 2 {
		t.Errorf("two files: exit %d, want 2", code)
	}

	// Without an argument it reads ./printers.hcl.
	writeFile(t, dir, "printers.hcl", `printer "only" {
  validatetest { address = "a" }
}
`)
	t.Chdir(dir)
	if code, out, _ := runCmd(t, "validate"); code != 0 || out != "printers.hcl: valid: 1 printer (only); drivers: validatetest; profiles: generic-80mm\n" {
		t.Errorf("default path: exit %d, stdout %q", code, out)
	}
}
