package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comandera/comandera/config"
)

// address parses a one-printer config whose fakenet address is expr, and
// returns the decoded address or the formatted diagnostics.
func address(t *testing.T, file, expr string) (string, string) {
	t.Helper()
	src := "printer \"a\" {\n  fakenet { address = " + expr + " }\n}\n"
	c, diags := config.Parse([]byte(src), file)
	if diags.HasErrors() {
		return "", config.Format(diags)
	}
	return c.Printers[0].DriverConfig.(*fakeNetConfig).Address, ""
}

func TestEnv(t *testing.T) {
	t.Setenv("COMANDERA_TEST_SET", "192.168.1.50:9100")
	t.Setenv("COMANDERA_TEST_EMPTY", "")
	unsetenv(t, "COMANDERA_TEST_UNSET")
	for _, tc := range []struct{ expr, want, diag string }{
		{expr: `env("COMANDERA_TEST_SET")`, want: "192.168.1.50:9100"},
		{expr: `env("COMANDERA_TEST_SET", "fallback")`, want: "192.168.1.50:9100"},
		{expr: `env("COMANDERA_TEST_EMPTY", "fallback")`, want: ""}, // set but empty is set
		{expr: `env("COMANDERA_TEST_UNSET", "fallback")`, want: "fallback"},
		{expr: `"${env("COMANDERA_TEST_UNSET", "10.0.0.1")}:9100"`, want: "10.0.0.1:9100"},
		{expr: `env("COMANDERA_TEST_UNSET")`, diag: `printers.hcl:2:23: Error in function call; Call to function "env" failed: environment variable COMANDERA_TEST_UNSET is not set; set it, or give a default: env("COMANDERA_TEST_UNSET", "").` + "\n"},
		{expr: `env("")`, diag: `printers.hcl:2:29: Invalid function argument; Invalid value for "name" parameter: "" is not an environment variable name.` + "\n"},
		{expr: `env("A=B")`, diag: `printers.hcl:2:28: Invalid function argument; Invalid value for "name" parameter: "A=B" is not an environment variable name.` + "\n"},
		{expr: `env(["A"])`, diag: `printers.hcl:2:27: Invalid function argument; Invalid value for "name" parameter: string required, but have tuple.` + "\n"},
	} {
		got, diag := address(t, "printers.hcl", tc.expr)
		if got != tc.want || diag != tc.diag {
			t.Errorf("%s = %q, diag %q; want %q, diag %q", tc.expr, got, diag, tc.want, tc.diag)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "addr.txt"), []byte("10.1.1.1:9100\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "bin"), []byte{0xff, 0xfe, 0x00}, 0o600))
	must(os.WriteFile(filepath.Join(dir, "huge"), make([]byte, config.MaxFileSize+1), 0o600))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	file := filepath.Join(dir, "printers.hcl")

	if got, diag := address(t, file, `file("addr.txt")`); got != "10.1.1.1:9100\n" || diag != "" {
		t.Errorf("relative file() = %q, %s", got, diag)
	}
	if got, diag := address(t, file, `trimspace(file("`+filepath.Join(dir, "addr.txt")+`"))`); got != "10.1.1.1:9100" || diag != "" {
		t.Errorf("absolute file() = %q, %s", got, diag)
	}
	// One parse reads at most 4 MiB through file(), whatever the calls.
	must(os.WriteFile(filepath.Join(dir, "mib"), bytes.Repeat([]byte("a"), config.MaxFileSize), 0o600))
	if _, diag := address(t, file, `"${file("mib")}${file("mib")}${file("mib")}${file("mib")}${file("mib")}"`); !strings.Contains(diag, "read more than 4194304 bytes in all") {
		t.Errorf("file() budget: %q", diag)
	}
	for expr, want := range map[string]string{
		`file("bin")`:            "bin is not valid UTF-8 text",
		`file("huge")`:           "is larger than",
		`file("sub")`:            "is not a regular file",
		`file("/dev/null")`:      "is not a regular file",
		`file("")`:               "the path is empty",
		`file("missing.txt")`:    "no such file or directory",
		`file(file("addr.txt"))`: "no such file or directory",
	} {
		_, diag := address(t, file, expr)
		if !strings.Contains(diag, want) || strings.Count(diag, "\n") != 1 {
			t.Errorf("%s: diag %q, want one containing %q", expr, diag, want)
		}
	}
}
