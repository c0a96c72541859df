package deploy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// binDir holds the comandera binary built for the tests and two stand-in
// plugins (the installer only copies and checksums plugins).
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "comandera-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := func() int {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "comandera"), "github.com/comandera/comandera/cmd/comandera")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building comandera:", err)
			return 1
		}
		if err := os.Mkdir(filepath.Join(dir, "plugins"), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, name := range []string{"comandera-clone", "comandera-star"} {
			body := "#!/bin/sh\n# stand-in for " + name + "\nexit 0\n"
			if err := os.WriteFile(filepath.Join(dir, "plugins", name), []byte(body), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of install.sh.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// install runs deploy/install.sh with args.
func install(t *testing.T, args ...string) result {
	t.Helper()
	return runScript(t, "install.sh", args...)
}

func runScript(t *testing.T, script string, args ...string) result {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	// A clean environment: nothing of the developer's leaks in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C.UTF-8", "HOME=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", script, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// prefixArgs are the arguments of an install into prefix with the test
// binary and stand-in plugins.
func prefixArgs(prefix string, more ...string) []string {
	return append([]string{"--binary", filepath.Join(binDir, "comandera"), "--prefix", prefix}, more...)
}

// entry is one file or directory of an installed tree.
type entry struct {
	mode    fs.FileMode
	sum     string // sha256 of a file's content
	modTime int64
}

// snapshot walks dir: every path (relative, "/" first) with its mode,
// content checksum and modification time.
func snapshot(t *testing.T, dir string) map[string]entry {
	t.Helper()
	tree := map[string]entry{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(path, dir), "/")
		e := entry{mode: info.Mode(), modTime: info.ModTime().UnixNano()}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			e.sum = hex.EncodeToString(s[:])
		}
		tree[rel] = e
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return tree
}

func sum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := read(t, path)
	if got != want {
		t.Errorf("%s differs from the golden file (go test ./deploy -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// validate runs `comandera validate` on a config as the service would see it.
func validate(t *testing.T, path string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "comandera"), "validate", path)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// needDrivers fails the test unless the comandera under test has the
// drivers a scan reports (drivers/all must import them): without them no
// config built from a scan can be valid.
func needDrivers(t *testing.T) {
	t.Helper()
	probe := filepath.Join(t.TempDir(), "probe.hcl")
	conf := "printer \"a\" {\n  usblp {\n    device = \"/dev/usb/lp0\"\n  }\n}\n" +
		"printer \"b\" {\n  serial {\n    port = \"/dev/ttyUSB0\"\n  }\n}\n"
	if err := os.WriteFile(probe, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := validate(t, probe); err != nil {
		t.Fatalf("comandera is built without the usblp and serial drivers (drivers/all must import them), so no config from a scan can be valid:\n%s", out)
	}
}

var envFile = regexp.MustCompile(`(?s)^# Environment of the comandera service.*\nPRINTER_SECRET=([0-9a-f]{64})\n.*\nRPI4_HTTP_HOST=127\.0\.0\.1\nRPI4_HTTP_PORT=3001\n$`)

// TestInstallPrefixTwice installs into an empty prefix and checks the tree
// file by file, then installs again and checks that nothing changed.
func TestInstallPrefixTwice(t *testing.T) {
	needDrivers(t)
	prefix := filepath.Join(t.TempDir(), "root")
	r := install(t, prefixArgs(prefix, "--scan-json", "testdata/scan.json")...)
	if r.code != 0 {
		t.Fatalf("first install: %v", r)
	}
	for _, want := range []string{
		"installed: /usr/bin/comandera",
		"scan found 4 printer(s) and 3 other device(s)",
		"the scan reported:\n  net 192.168.1.0/24: context deadline exceeded\n",
		"skipped (--prefix): useradd --system",
		"skipped (--prefix): udevadm control --reload-rules",
		"skipped (--prefix): systemctl enable comandera.service",
		"skipped (--prefix): comandera check",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("first install output lacks %q:\n%v", want, r)
		}
	}

	tree := snapshot(t, prefix)
	files := map[string]struct {
		mode fs.FileMode
		src  string // the file it must equal, if any
	}{
		"/usr/bin/comandera":                         {0o755, filepath.Join(binDir, "comandera")},
		"/usr/lib/comandera/plugins/comandera-clone": {0o755, filepath.Join(binDir, "plugins", "comandera-clone")},
		"/usr/lib/comandera/plugins/comandera-star":  {0o755, filepath.Join(binDir, "plugins", "comandera-star")},
		"/etc/systemd/system/comandera.service":      {0o644, "comandera.service"},
		"/etc/udev/rules.d/99-comandera.rules":       {0o644, "99-comandera.rules"},
		"/etc/comandera/printers.hcl":                {0o640, ""},
		"/etc/comandera/comandera.env":               {0o640, ""},
	}
	dirs := []string{"/", "/usr", "/usr/bin", "/usr/lib", "/usr/lib/comandera", "/usr/lib/comandera/plugins",
		"/etc", "/etc/systemd", "/etc/systemd/system", "/etc/udev", "/etc/udev/rules.d", "/etc/comandera"}
	for path, e := range tree {
		if e.mode.IsDir() {
			if !slices.Contains(dirs, path) {
				t.Errorf("unexpected directory %s", path)
			}
			continue
		}
		want, ok := files[path]
		switch {
		case !ok:
			t.Errorf("unexpected file %s", path)
		case e.mode != want.mode:
			t.Errorf("%s: mode %v, want %v", path, e.mode, want.mode)
		case want.src != "" && e.sum != sum(t, want.src):
			t.Errorf("%s differs from %s", path, want.src)
		}
	}
	for path := range files {
		if _, ok := tree[path]; !ok {
			t.Errorf("%s was not installed", path)
		}
	}
	for _, d := range dirs {
		if e, ok := tree[d]; !ok || !e.mode.IsDir() {
			t.Errorf("directory %s missing", d)
		}
	}

	// The config: the scan's printers, the plugins with their checksums,
	// and the serial ports that are not known printers commented out.
	conf := read(t, filepath.Join(prefix, "etc/comandera/printers.hcl"))
	golden(t, "printers-scan.hcl", conf)
	if out, err := validate(t, filepath.Join(prefix, "etc/comandera/printers.hcl"), "PRINTER_SECRET=s"); err != nil {
		t.Errorf("the installed config does not validate: %v\n%s", err, out)
	}
	env := read(t, filepath.Join(prefix, "etc/comandera/comandera.env"))
	if !envFile.MatchString(env) {
		t.Errorf("comandera.env is not as expected:\n%s", env)
	}

	// Second run: nothing changes, not even a modification time, and there
	// is no backup.
	r2 := install(t, prefixArgs(prefix, "--scan-json", "testdata/scan.json")...)
	if r2.code != 0 {
		t.Fatalf("second install: %v", r2)
	}
	if !strings.Contains(r2.stdout, "done: no changes (everything was already in place)") {
		t.Errorf("second run reports changes:\n%v", r2)
	}
	for _, line := range strings.Split(r2.stdout, "\n") {
		if strings.HasPrefix(line, "installed:") || strings.HasPrefix(line, "backup:") || strings.HasPrefix(line, "created:") {
			t.Errorf("second run: %q", line)
		}
	}
	tree2 := snapshot(t, prefix)
	if diff := diffTrees(tree, tree2); diff != "" {
		t.Errorf("second run changed the tree:\n%s", diff)
	}
	if read(t, filepath.Join(prefix, "etc/comandera/comandera.env")) != env {
		t.Error("second run changed the secret")
	}

	// A secret left readable by others is fixed, its content kept.
	envPath := filepath.Join(prefix, "etc/comandera/comandera.env")
	if err := os.Chmod(envPath, 0o644); err != nil {
		t.Fatal(err)
	}
	r3 := install(t, prefixArgs(prefix, "--scan-json", "testdata/scan.json")...)
	if r3.code != 0 || !strings.Contains(r3.stdout, "fixed:     /etc/comandera/comandera.env (chmod o-rwx: it holds the API token)") {
		t.Errorf("third run: %v", r3)
	}
	if fi, err := os.Stat(envPath); err != nil || fi.Mode().Perm() != 0o640 || read(t, envPath) != env {
		t.Errorf("comandera.env after the fix: %v %v", fi.Mode(), err)
	}
}

func diffTrees(a, b map[string]entry) string {
	var out []string
	for p, ea := range a {
		eb, ok := b[p]
		switch {
		case !ok:
			out = append(out, "removed "+p)
		case ea != eb:
			out = append(out, fmt.Sprintf("changed %s: %+v -> %+v", p, ea, eb))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, "added "+p)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestInstallReplaces: a changed file is replaced and backed up, a changed
// mode is fixed without a backup, an edited config is kept, and a replaced
// plugin's new checksum goes into the config that pinned the old one.
func TestInstallReplaces(t *testing.T) {
	needDrivers(t)
	prefix := filepath.Join(t.TempDir(), "root")
	if r := install(t, prefixArgs(prefix, "--scan-json", "testdata/scan.json")...); r.code != 0 {
		t.Fatalf("first install: %v", r)
	}
	unit := filepath.Join(prefix, "etc/systemd/system/comandera.service")
	edited := read(t, unit) + "# local edit\n"
	if err := os.WriteFile(unit, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(prefix, "etc/udev/rules.d/99-comandera.rules")
	if err := os.Chmod(rules, 0o600); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(prefix, "etc/comandera/printers.hcl")
	conf := read(t, confPath) + "# the operator's own line\n"
	if err := os.WriteFile(confPath, []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	oldStar := sum(t, filepath.Join(binDir, "plugins", "comandera-star"))
	if !strings.Contains(conf, oldStar) {
		t.Fatalf("the config does not pin comandera-star %s", oldStar)
	}
	// A new release of the star plugin.
	plugins := t.TempDir()
	for _, name := range []string{"comandera-clone", "comandera-star"} {
		body := read(t, filepath.Join(binDir, "plugins", name))
		if name == "comandera-star" {
			body += "# version 2\n"
		}
		if err := os.WriteFile(filepath.Join(plugins, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	newStar := sum(t, filepath.Join(plugins, "comandera-star"))

	r := install(t, prefixArgs(prefix, "--plugins", plugins, "--scan-json", "testdata/scan.json")...)
	if r.code != 0 {
		t.Fatalf("second install: %v", r)
	}
	if got := read(t, unit); got != read(t, "comandera.service") {
		t.Errorf("the edited unit was not replaced")
	}
	if fi, err := os.Stat(rules); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("rules mode not fixed: %v %v", fi.Mode(), err)
	}
	if !strings.Contains(r.stdout, "fixed:     /etc/udev/rules.d/99-comandera.rules (chmod 0644)") {
		t.Errorf("no mode fix reported:\n%v", r)
	}
	backups, _ := filepath.Glob(filepath.Join(prefix, "var/backups/comandera/*"))
	if len(backups) != 1 {
		t.Fatalf("want one backup directory, got %v\n%v", backups, r)
	}
	stamp := filepath.Base(backups[0])
	if !regexp.MustCompile(`^\d{8}-\d{6}$`).MatchString(stamp) {
		t.Errorf("backup directory %q is not a date-time", stamp)
	}
	var backedUp []string
	filepath.WalkDir(backups[0], func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			backedUp = append(backedUp, strings.TrimPrefix(path, backups[0]))
		}
		return nil
	})
	slices.Sort(backedUp)
	want := []string{"/etc/comandera/printers.hcl", "/etc/systemd/system/comandera.service", "/usr/lib/comandera/plugins/comandera-star"}
	if !slices.Equal(backedUp, want) {
		t.Errorf("backed up %v, want %v", backedUp, want)
	}
	if got := read(t, filepath.Join(backups[0], "etc/systemd/system/comandera.service")); got != edited {
		t.Error("the unit's backup is not the replaced file")
	}
	if got := read(t, filepath.Join(backups[0], "etc/comandera/printers.hcl")); got != conf {
		t.Error("the config's backup is not the replaced file")
	}
	newConf := read(t, confPath)
	if newConf != strings.ReplaceAll(conf, oldStar, newStar) {
		t.Errorf("the config should keep the operator's edit and only change the star plugin's sha256:\n%s", newConf)
	}
	if !strings.Contains(r.stdout, "backup:    /etc/systemd/system/comandera.service -> /var/backups/comandera/"+stamp+"/etc/systemd/system/comandera.service") {
		t.Errorf("backup not reported:\n%v", r)
	}
	if strings.Contains(r.stdout, "unchanged: /usr/lib/comandera/plugins/comandera-star") ||
		!strings.Contains(r.stdout, "unchanged: /usr/lib/comandera/plugins/comandera-clone") {
		t.Errorf("plugins:\n%v", r)
	}

	// And the run after that changes nothing again.
	before := snapshot(t, prefix)
	r3 := install(t, prefixArgs(prefix, "--plugins", plugins, "--scan-json", "testdata/scan.json")...)
	if r3.code != 0 || !strings.Contains(r3.stdout, "done: no changes") {
		t.Errorf("third run: %v", r3)
	}
	if diff := diffTrees(before, snapshot(t, prefix)); diff != "" {
		t.Errorf("third run changed:\n%s", diff)
	}
}

// TestDryRun: --dry-run prints the actions and changes nothing, on a fresh
// prefix and on an installed one with a file to replace.
func TestDryRun(t *testing.T) {
	needDrivers(t)
	prefix := filepath.Join(t.TempDir(), "root")
	r := install(t, prefixArgs(prefix, "--dry-run", "--scan-json", "testdata/scan.json")...)
	if r.code != 0 {
		t.Fatalf("dry run: %v", r)
	}
	if _, err := os.Stat(prefix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry run created the prefix: %v", err)
	}
	for _, want := range []string{
		"dry run: nothing is changed",
		"would install /usr/bin/comandera (mode 0755, owner root:root)",
		"would install /usr/lib/comandera/plugins/comandera-star (mode 0755, owner root:root)",
		"would install /etc/systemd/system/comandera.service (mode 0644, owner root:root)",
		"would install /etc/udev/rules.d/99-comandera.rules (mode 0644, owner root:root)",
		"would install /etc/comandera/printers.hcl (mode 0640, owner root:comandera)",
		"would install /etc/comandera/comandera.env (mode 0640, owner root:comandera)",
		"scan found 4 printer(s)",
		"dry run done:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%v", want, r)
		}
	}

	if r := install(t, prefixArgs(prefix, "--scan-json", "testdata/scan.json")...); r.code != 0 {
		t.Fatal(r)
	}
	unit := filepath.Join(prefix, "etc/systemd/system/comandera.service")
	if err := os.WriteFile(unit, []byte("[Unit]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, prefix)
	r = install(t, prefixArgs(prefix, "--dry-run", "--new-config", "--scan-json", "testdata/scan.json")...)
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		"would back up /etc/systemd/system/comandera.service to /var/backups/comandera/",
		"would install /etc/systemd/system/comandera.service",
		"unchanged: /usr/bin/comandera",
		"unchanged: /etc/comandera/printers.hcl", // --new-config rebuilds the same file
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%v", want, r)
		}
	}
	if diff := diffTrees(before, snapshot(t, prefix)); diff != "" {
		t.Errorf("dry run changed the tree:\n%s", diff)
	}
}

// exampleConfig is deploy/printers.hcl as the installer writes it when it
// has no printers: with the stand-in plugins' blocks commented at the end.
func exampleConfig(t *testing.T, listen string) string {
	t.Helper()
	ex := strings.Replace(read(t, "printers.hcl"), `listen = "0.0.0.0:3001"`, `listen = "`+listen+`"`, 1)
	ex += "\n# The plugins installed in /usr/lib/comandera/plugins, with their checksums:\n"
	for _, name := range []string{"clone", "star"} {
		ex += fmt.Sprintf("#\n# plugin %q {\n#   path   = \"/usr/lib/comandera/plugins/comandera-%s\"\n#   sha256 = \"%s\"\n# }\n",
			name, name, sum(t, filepath.Join(binDir, "plugins", "comandera-"+name)))
	}
	return ex
}

// TestConfigFromScan: what the installer writes for each kind of scan.
func TestConfigFromScan(t *testing.T) {
	needDrivers(t)
	serialOnly := "\n# Also found, but not used: serial ports not known to have a printer,\n" +
		"# and printers already declared above through another driver. To use\n" +
		"# one, uncomment its block; on a serial port, set the line settings the\n" +
		"# printer's self-test page shows (baud, flow_control).\n\n# serial /dev/ttyS0\n# Not known to be a printer.\n# printer \"ttys0\" {\n" +
		"#   serial {\n#     port         = \"/dev/ttyS0\"\n#     baud         = 9600\n" +
		"#     flow_control = \"none\"\n#   }\n# }\n"
	for _, tc := range []struct {
		name    string
		args    []string
		message string // in the output
		want    string // the whole config; "" to check with contains
		has     []string
		listen  string
	}{
		{name: "no scan", args: []string{"--no-scan"}, message: "no printer found: writing the example config", want: "example"},
		{name: "under prefix without --scan", message: "not scanning under --prefix", want: "example"},
		{name: "empty scan", args: []string{"--scan-json", "testdata/scan-empty.json"}, message: "scan found 0 printer(s)", want: "example"},
		{name: "only a serial port", args: []string{"--scan-json", "testdata/scan-serial-only.json"},
			message: "scan found 0 printer(s) and 1 other device(s)", want: "example+serial"},
		{name: "not JSON", args: []string{"--scan-json", "testdata/scan-broken.json"},
			message: "could not read the scan output (unterminated string)", want: "example"},
		{name: "invalid config", args: []string{"--scan-json", "testdata/scan-invalid-config.json"},
			message: "the config built from the scan is not valid:\n  printers.hcl:", want: "example"},
		{name: "devices in a bare array", args: []string{"--scan-json", "testdata/scan-array.json"}, message: "scan found 4 printer(s) and 2 other device(s)",
			has: []string{"\n# usblp /dev/usb/lp2: Printer POS-80\nprinter \"pos-80\" {\n  profile = \"generic-80mm\"\n  usblp {\n    device = \"/dev/usb/lp2\"\n  }\n}\n"}},
		{name: "listen", args: []string{"--no-scan", "--listen", "127.0.0.1:3002"}, listen: "127.0.0.1:3002", want: "example"},
		{name: "listen in a scanned config", args: []string{"--listen", "[::1]:3100", "--scan-json", "testdata/scan-array.json"},
			has: []string{"\n  listen = \"[::1]:3100\"\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "root")
			r := install(t, prefixArgs(prefix, tc.args...)...)
			if r.code != 0 {
				t.Fatal(r)
			}
			if !strings.Contains(r.stdout+r.stderr, tc.message) {
				t.Errorf("output lacks %q:\n%v", tc.message, r)
			}
			confPath := filepath.Join(prefix, "etc/comandera/printers.hcl")
			conf := read(t, confPath)
			listen := tc.listen
			if listen == "" {
				listen = "0.0.0.0:3001"
			}
			switch tc.want {
			case "example":
				if want := exampleConfig(t, listen); conf != want {
					t.Errorf("config:\n%s\nwant the example:\n%s", conf, want)
				}
			case "example+serial":
				if want := exampleConfig(t, listen) + serialOnly; conf != want {
					t.Errorf("config:\n%s\nwant:\n%s", conf, want)
				}
			}
			for _, h := range tc.has {
				if !strings.Contains(conf, h) {
					t.Errorf("config lacks %q:\n%s", h, conf)
				}
			}
			if out, err := validate(t, confPath, "PRINTER_SECRET=s"); err != nil {
				t.Errorf("config does not validate: %v\n%s", err, out)
			}
		})
	}
}

// TestListenInEnv: the env file tells `comandera check` where the server is.
func TestListenInEnv(t *testing.T) {
	for _, tc := range []struct{ listen, host, port string }{
		{"0.0.0.0:3001", "127.0.0.1", "3001"},
		{":8080", "127.0.0.1", "8080"},
		{"192.168.1.20:3001", "192.168.1.20", "3001"},
		{"[::]:3001", "::1", "3001"},
	} {
		prefix := filepath.Join(t.TempDir(), "root")
		r := install(t, prefixArgs(prefix, "--no-scan", "--listen", tc.listen)...)
		if r.code != 0 {
			t.Fatal(r)
		}
		env := read(t, filepath.Join(prefix, "etc/comandera/comandera.env"))
		if want := "\nRPI4_HTTP_HOST=" + tc.host + "\nRPI4_HTTP_PORT=" + tc.port + "\n"; !strings.HasSuffix(env, want) {
			t.Errorf("--listen %s: env ends\n%s\nwant\n%s", tc.listen, env, want)
		}
	}
}

// TestRealScan runs the binary's own `comandera scan -json` on this machine
// (--scan under --prefix) and checks the installer makes a valid config of
// whatever it reports, or falls back to the example when there is no scan.
func TestRealScan(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "root")
	r := install(t, prefixArgs(prefix, "--scan")...)
	if r.code != 0 {
		t.Fatal(r)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "scanning for printers: comandera scan -json") {
		t.Errorf("did not scan:\n%v", r)
	}
	known := []string{"scan found ", "has no scan command", "comandera scan failed"}
	if !slices.ContainsFunc(known, func(s string) bool { return strings.Contains(out, s) }) {
		t.Errorf("no scan outcome reported:\n%v", r)
	}
	if out, err := validate(t, filepath.Join(prefix, "etc/comandera/printers.hcl"), "PRINTER_SECRET=s"); err != nil {
		t.Errorf("config does not validate: %v\n%s", err, out)
	}
}

// TestStaticIPUnderPrefix: the NetworkManager commands are printed, with the
// validated values.
func TestStaticIPUnderPrefix(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "root")
	r := install(t, prefixArgs(prefix, "--no-scan", "--static-ip", "192.168.1.20/24", "--gateway", "192.168.1.1",
		"--dns", "1.1.1.1,9.9.9.9", "--interface", "eth0")...)
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		`skipped (--prefix): nmcli connection modify \<connection\ of\ eth0\> ipv4.method manual ipv4.addresses 192.168.1.20/24 ipv4.gateway 192.168.1.1 ipv4.dns 1.1.1.1\ 9.9.9.9`,
		`skipped (--prefix): nmcli connection up \<connection\ of\ eth0\>`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%v", want, r)
		}
	}
	// --dns defaults to the gateway.
	r = install(t, prefixArgs(prefix, "--no-scan", "--static-ip", "10.0.0.5/8", "--gateway", "10.255.0.1")...)
	if r.code != 0 || !strings.Contains(r.stdout, "ipv4.addresses 10.0.0.5/8 ipv4.gateway 10.255.0.1 ipv4.dns 10.255.0.1") {
		t.Errorf("default DNS:\n%v", r)
	}
}

// TestBadArguments: each mistake exits 2 (usage) or 1 (cannot install) with
// a message that says what is wrong, and touches nothing.
func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "comandera")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "root")
	bin := filepath.Join(binDir, "comandera")
	base := []string{"--binary", bin, "--prefix", prefix}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--bogus"}, 2, "unknown option: --bogus"},
		{[]string{"extra"}, 2, "unexpected argument: extra (options start with --)"},
		{[]string{"--prefix"}, 2, "option --prefix needs a value"},
		{[]string{"--prefix="}, 2, "option --prefix needs a non-empty value"},
		{[]string{"--dry-run=yes"}, 2, "option --dry-run takes no value"},
		{[]string{"--listen", "3001"}, 2, `--listen: "3001" is not HOST:PORT`},
		{[]string{"--listen", "0.0.0.0:70000"}, 2, "--listen: port 70000 is not between 1 and 65535"},
		{[]string{"--no-scan", "--scan-json", "testdata/scan.json"}, 2, "--no-scan and --scan-json contradict each other"},
		{[]string{"--scan-json", "testdata/nope.json"}, 2, "--scan-json: cannot read testdata/nope.json"},
		{[]string{"--static-ip", "192.168.1.300/24", "--gateway", "192.168.1.1"}, 2, `--static-ip: "192.168.1.300/24" is not an IPv4 address with a prefix length`},
		{[]string{"--static-ip", "192.168.1.20", "--gateway", "192.168.1.1"}, 2, `--static-ip: "192.168.1.20" is not an IPv4 address with a prefix length`},
		{[]string{"--static-ip", "192.168.1.20/33", "--gateway", "192.168.1.1"}, 2, "is not an IPv4 address with a prefix length"},
		{[]string{"--static-ip", "192.168.1.20/24"}, 2, "--static-ip needs --gateway"},
		{[]string{"--static-ip", "192.168.1.20/24", "--gateway", "192.168.2.1"}, 2, "--gateway: 192.168.2.1 is not in the subnet of 192.168.1.20/24"},
		{[]string{"--static-ip", "192.168.1.20/24", "--gateway", "192.168.1.20"}, 2, "--gateway: 192.168.1.20 is the static address itself"},
		{[]string{"--static-ip", "192.168.1.20/24", "--gateway", "gw"}, 2, `--gateway: "gw" is not an IPv4 address`},
		{[]string{"--static-ip", "192.168.1.20/24", "--gateway", "192.168.1.1", "--dns", "1.1.1.1,1.1.1"}, 2, `--dns: "1.1.1" is not an IPv4 address`},
		{[]string{"--static-ip", "192.168.1.20/24", "--gateway", "192.168.1.1", "--interface", "eth0;reboot"}, 2, `--interface: "eth0;reboot" is not an interface name`},
		{[]string{"--gateway", "192.168.1.1"}, 2, "--gateway is only used with --static-ip"},
		{[]string{"--dns", "1.1.1.1"}, 2, "--dns is only used with --static-ip"},
		{[]string{"--binary", filepath.Join(dir, "missing")}, 1, "--binary: " + filepath.Join(dir, "missing") + " is not a file"},
		{[]string{"--binary", notExec}, 1, "--binary: " + notExec + " is not executable"},
		{[]string{"--plugins", filepath.Join(dir, "none")}, 1, "--plugins: " + filepath.Join(dir, "none") + " is not a directory"},
		{[]string{"--prefix", notExec}, 2, "--prefix: " + notExec + " is not a directory"},
	} {
		r := install(t, append(slices.Clone(base), tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%q: want exit %d and %q on stderr, got %v", tc.args, tc.code, tc.msg, r)
		}
		if tc.code == 2 && !strings.Contains(r.stderr, "Run 'install.sh --help' for usage.") {
			t.Errorf("%q: no pointer to --help:\n%v", tc.args, r)
		}
		if _, err := os.Stat(prefix); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%q created the prefix", tc.args)
		}
	}

	// No binary next to the script.
	lone := t.TempDir()
	for _, f := range []string{"install.sh", "comandera.service", "99-comandera.rules", "printers.hcl"} {
		if err := os.WriteFile(filepath.Join(lone, f), []byte(read(t, f)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := runScript(t, filepath.Join(lone, "install.sh"), "--prefix", prefix)
	if r.code != 1 || !strings.Contains(r.stderr, "no comandera binary next to this script") {
		t.Errorf("without a binary: %v", r)
	}
	// A file the script needs is missing.
	os.Remove(filepath.Join(lone, "99-comandera.rules"))
	r = runScript(t, filepath.Join(lone, "install.sh"), "--binary", bin, "--prefix", prefix)
	if r.code != 1 || !strings.Contains(r.stderr, "99-comandera.rules is missing") {
		t.Errorf("without the rules: %v", r)
	}
}

// TestHelp: --help exits 0 and documents every option the script accepts,
// and the exit codes.
func TestHelp(t *testing.T) {
	r := install(t, "--help")
	if r.code != 0 || r.stderr != "" {
		t.Fatal(r)
	}
	script := read(t, "install.sh")
	var opts []string
	for _, m := range regexp.MustCompile(`(?m)^\t(-[-a-z|\t -]+)\)`).FindAllStringSubmatch(script, -1) {
		for _, o := range strings.Split(m[1], "|") {
			if o = strings.TrimSpace(o); strings.HasPrefix(o, "-") && o != "--" && o != "-*" {
				opts = append(opts, o)
			}
		}
	}
	if len(opts) < 17 {
		t.Fatalf("found only %d options in the script: %v", len(opts), opts)
	}
	for _, o := range opts {
		if !regexp.MustCompile(`(?m)^  (-h, )?` + regexp.QuoteMeta(o) + `\b`).MatchString(r.stdout) {
			t.Errorf("--help does not document %s", o)
		}
	}
	for _, code := range []string{"  0  installed", "  1  installation failed", "  2  bad arguments", "  3  installed, but `comandera check` failed"} {
		if !strings.Contains(r.stdout, code) {
			t.Errorf("--help lacks exit status %q", code)
		}
	}
}

// TestExampleConfig: the config of a fresh install (and of the .deb) is
// valid with the secret and refused without it (no open API by accident).
func TestExampleConfig(t *testing.T) {
	if out, err := validate(t, "printers.hcl", "PRINTER_SECRET=s"); err != nil {
		t.Errorf("with PRINTER_SECRET: %v\n%s", err, out)
	}
	out, err := validate(t, "printers.hcl")
	if err == nil || !strings.Contains(out, "PRINTER_SECRET") {
		t.Errorf("without PRINTER_SECRET it should fail naming it: %v\n%s", err, out)
	}
	conf := read(t, "printers.hcl")
	for _, want := range []string{`data_dir = "/var/lib/comandera"`, `output = "/var/lib/comandera/sim/kitchen"`, `token = env("PRINTER_SECRET")`} {
		if !strings.Contains(conf, want) {
			t.Errorf("printers.hcl lacks %s", want)
		}
	}
}

// unit parses a systemd unit: section -> key -> values (a key may repeat).
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// TestUnit checks the unit's settings that the server and the printers
// depend on (systemd-analyze verify runs in the integration tests).
func TestUnit(t *testing.T) {
	u := unit(t, "comandera.service")
	s := u["Service"]
	for key, want := range map[string]string{
		"Type":                    "notify",
		"NotifyAccess":            "main",
		"WatchdogSec":             "30s",
		"Restart":                 "always",
		"RestartSec":              "3s",
		"ExecStart":               "/usr/bin/comandera serve -config /etc/comandera/printers.hcl",
		"User":                    "comandera",
		"SupplementaryGroups":     "lp dialout",
		"StateDirectory":          "comandera",
		"ConfigurationDirectory":  "comandera",
		"EnvironmentFile":         "-/etc/comandera/comandera.env",
		"WorkingDirectory":        "/var/lib/comandera",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"DevicePolicy":            "closed",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
		"MemoryDenyWriteExecute":  "yes",
		"LockPersonality":         "yes",
		"SystemCallFilter":        "@system-service",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
	} {
		if got := s[key]; len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s = %q, want %q", key, got, want)
		}
	}
	for _, dev := range []string{"char-usb rw", "char-usb_device rw", "char-ttyUSB rw", "char-ttyACM rw", "char-ttyS rw", "char-ttyAMA rw"} {
		if !slices.Contains(s["DeviceAllow"], dev) {
			t.Errorf("DeviceAllow lacks %q", dev)
		}
	}
	// Options that would cut the service off from its printers.
	for _, key := range []string{"PrivateDevices", "PrivateUsers", "DynamicUser", "ProcSubset", "IPAddressDeny"} {
		if _, ok := s[key]; ok {
			t.Errorf("[Service] sets %s, which would keep it from its printers", key)
		}
	}
	if got := u["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("WantedBy = %q", got)
	}
	if got := u["Unit"]["StartLimitIntervalSec"]; !slices.Equal(got, []string{"0"}) {
		t.Errorf("StartLimitIntervalSec = %q, want 0 (never give up restarting)", got)
	}
}

// udevKeys: which operators each udev rule key takes (from udev(7)): "m"
// match (== !=), "a" assignment (= += -= :=).
var udevKeys = map[string]string{
	"ACTION": "m", "DEVPATH": "m", "KERNEL": "m", "KERNELS": "m", "SUBSYSTEM": "m", "SUBSYSTEMS": "m",
	"DRIVER": "m", "DRIVERS": "m", "ATTR": "ma", "ATTRS": "m", "SYSCTL": "ma", "ENV": "ma", "CONST": "m",
	"TAG": "ma", "TAGS": "m", "TEST": "m", "PROGRAM": "m", "RESULT": "m", "NAME": "ma", "SYMLINK": "ma",
	"OWNER": "a", "GROUP": "a", "MODE": "a", "SECLABEL": "a", "RUN": "a", "LABEL": "a", "GOTO": "a",
	"IMPORT": "a", "OPTIONS": "a",
}

var udevPair = regexp.MustCompile(`^([A-Z_]+)(\{[^}]*\})?(==|!=|\+=|-=|:=|=)"([^"]*)"$`)

// TestUdevRules parses the rules with udev's grammar (the integration test
// also feeds them to udevadm) and checks what they grant.
func TestUdevRules(t *testing.T) {
	text := read(t, "99-comandera.rules")
	labels, gotos := map[string]bool{}, map[string]int{}
	var rules [][]string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var rule []string
		for _, pair := range strings.Split(line, ", ") {
			m := udevPair.FindStringSubmatch(pair)
			if m == nil {
				t.Errorf("line %d: %q is not KEY{attr}OP\"value\" (pairs are separated by \", \")", n+1, pair)
				continue
			}
			key, attr, op, val := m[1], m[2], m[3], m[4]
			kinds, ok := udevKeys[key]
			if !ok {
				t.Errorf("line %d: unknown key %s", n+1, key)
				continue
			}
			match := op == "==" || op == "!="
			if match && !strings.Contains(kinds, "m") || !match && !strings.Contains(kinds, "a") {
				t.Errorf("line %d: %s does not take %s", n+1, key, op)
			}
			needsAttr := slices.Contains([]string{"ATTR", "ATTRS", "ENV", "SYSCTL", "CONST", "TEST", "IMPORT"}, key)
			if needsAttr != (attr != "") && key != "TEST" && key != "RUN" {
				t.Errorf("line %d: %s with attribute %q", n+1, key, attr)
			}
			switch key {
			case "LABEL":
				labels[val] = true
			case "GOTO":
				gotos[val] = n + 1
			case "MODE":
				if !regexp.MustCompile(`^0[0-7]{3}$`).MatchString(val) {
					t.Errorf("line %d: MODE %q", n+1, val)
				}
			}
			rule = append(rule, key+attr+op+val)
		}
		rules = append(rules, rule)
	}
	for label, line := range gotos {
		if !labels[label] {
			t.Errorf("line %d: GOTO %q has no LABEL", line, label)
		}
	}
	has := func(parts ...string) bool {
		return slices.ContainsFunc(rules, func(r []string) bool {
			for _, p := range parts {
				if !slices.Contains(r, p) {
					return false
				}
			}
			return true
		})
	}
	for _, want := range [][]string{
		{`SUBSYSTEM==usbmisc`, `KERNEL==lp[0-9]*`, `GROUP=lp`, `MODE=0660`},
		{`SUBSYSTEM==usbmisc`, `KERNEL==lp[0-9]*`, `IMPORT{builtin}=usb_id`},
		{`ENV{ID_SERIAL_SHORT}==?*`, `SYMLINK+=comandera/$env{ID_SERIAL_SHORT}`},
		{`ENV{ID_SERIAL_SHORT}!=?*`, `SYMLINK+=comandera/$env{ID_VENDOR_ID}-$env{ID_MODEL_ID}`},
		{`ENV{ID_USB_INTERFACES}==*:07????:*`, `GROUP=lp`, `MODE=0660`},
		{`ATTR{idVendor}==04b8`, `ATTR{idProduct}==0e??`, `GROUP=lp`, `MODE=0660`},
		{`ATTR{idVendor}==0519`, `GROUP=lp`, `MODE=0660`},
	} {
		if !has(want...) {
			t.Errorf("no rule with %q", want)
		}
	}
	// Vendors whose IDs are also on development boards get no blanket grant.
	for _, v := range []string{"0416", "0483", "1fc9", "28e9", "0fe6"} {
		if has(`ATTR{idVendor}==`+v, `GROUP=lp`) {
			t.Errorf("vendor %s gets lp access to every device", v)
		}
		if !strings.Contains(text, "#   "+v+" ") {
			t.Errorf("clone vendor %s is not explained", v)
		}
	}
	if strings.Contains(text, `MODE="0666"`) {
		t.Error("world-writable device mode")
	}
}

// TestPackageFiles: the .deb definition names the files that exist, in the
// places the unit and installer use, and its scripts are valid sh.
func TestPackageFiles(t *testing.T) {
	y := read(t, "nfpm.yaml")
	for _, want := range []string{
		"arch: ${ARCH}", "version: ${VERSION}",
		"  - src: ${STAGE}/comandera\n    dst: /usr/bin/comandera\n    expand: true\n",
		"  - src: ${STAGE}/plugins\n    dst: /usr/lib/comandera/plugins\n    type: tree\n    expand: true\n",
		"  - src: deploy/comandera.service\n    dst: /lib/systemd/system/comandera.service\n",
		"  - src: deploy/99-comandera.rules\n    dst: /lib/udev/rules.d/99-comandera.rules\n",
		"  - src: deploy/printers.hcl\n    dst: /etc/comandera/printers.hcl\n    type: config|noreplace\n",
		"  postinstall: deploy/deb/postinst\n", "  preremove: deploy/deb/prerm\n", "  postremove: deploy/deb/postrm\n",
	} {
		if !strings.Contains(y, want) {
			t.Errorf("nfpm.yaml lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:- src|postinstall|preremove|postremove): (deploy/\S+)$`).FindAllStringSubmatch(y, -1) {
		if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
			t.Errorf("nfpm.yaml names %s: %v", m[1], err)
		}
	}
	for _, s := range []string{"deb/postinst", "deb/prerm", "deb/postrm"} {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
		if !strings.HasPrefix(read(t, s), "#!/bin/sh\n") {
			t.Errorf("%s: maintainer scripts run with /bin/sh", s)
		}
	}
	post := read(t, "deb/postinst")
	if regexp.MustCompile(`(?m)^\s*(systemctl|deb-systemd-invoke) (enable|start|restart)\b`).MatchString(post) {
		t.Error("postinst must not enable or start the service before the printers are configured")
	}
	if !strings.Contains(post, "systemctl try-restart comandera.service") {
		t.Error("postinst does not restart a running service on upgrade")
	}
	if out, err := exec.Command("bash", "-n", "install.sh").CombinedOutput(); err != nil {
		t.Errorf("bash -n install.sh: %v\n%s", err, out)
	}
}

// TestPluginPinWarning: a kept config that pins an installed plugin with a
// checksum the installer did not put there gets a warning (the server would
// refuse the plugin); commented-out plugin blocks do not.
func TestPluginPinWarning(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "root")
	if r := install(t, prefixArgs(prefix, "--no-scan")...); r.code != 0 {
		t.Fatal(r)
	}
	// The example config has the plugins' blocks, commented out.
	r := install(t, prefixArgs(prefix, "--no-scan")...)
	if r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("rerun on the example config: %v", r)
	}
	confPath := filepath.Join(prefix, "etc/comandera/printers.hcl")
	zeros := strings.Repeat("0", 64)
	conf := read(t, confPath) + "\nplugin \"star\" {\n  path   = \"/usr/lib/comandera/plugins/comandera-star\"\n  sha256 = \"" + zeros + "\"\n}\n"
	if err := os.WriteFile(confPath, []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	r = install(t, prefixArgs(prefix, "--no-scan")...)
	want := "warning: /etc/comandera/printers.hcl declares comandera-star with a sha256 other than the installed one (" +
		sum(t, filepath.Join(binDir, "plugins", "comandera-star")) + "): the server will refuse that plugin"
	if r.code != 0 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "comandera-clone") {
		t.Errorf("want the warning %q only:\n%v", want, r)
	}
	if read(t, confPath) != conf {
		t.Error("the installer changed a pin it had not written")
	}
}

// TestKeptConfig: an existing config is never rewritten, but gets the
// owner and mode the service needs, and a warning when it is not valid.
func TestKeptConfig(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "root")
	confPath := filepath.Join(prefix, "etc/comandera/printers.hcl")
	if err := os.MkdirAll(filepath.Dir(confPath), 0o755); err != nil {
		t.Fatal(err)
	}
	broken := "printer \"kitchen\" {\n  profile = \"no-such-profile\"\n  sim {}\n}\n"
	if err := os.WriteFile(confPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := install(t, prefixArgs(prefix, "--scan-json", "testdata/scan.json")...)
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"kept:      /etc/comandera/printers.hcl", "fixed:     /etc/comandera/printers.hcl (chmod 0640)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%v", want, r)
		}
	}
	if !strings.Contains(r.stderr, "warning: /etc/comandera/printers.hcl is not valid; the service will not start until it is fixed:\n  printers.hcl:2:") {
		t.Errorf("no warning about the invalid config:\n%v", r)
	}
	if fi, err := os.Stat(confPath); err != nil || fi.Mode().Perm() != 0o640 || read(t, confPath) != broken {
		t.Errorf("kept config: %v %v\n%s", fi.Mode(), err, read(t, confPath))
	}
	if strings.Contains(r.stdout, "scan found") {
		t.Errorf("scanned although the config is kept:\n%v", r)
	}
}

// TestForeignBinary: a binary that does not run here (another architecture)
// can be installed into a prefix (an SD card image), without validation, but
// not onto this machine.
func TestForeignBinary(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "comandera")
	// An ELF header for aarch64 and nothing else: the kernel refuses it here.
	elf := []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00")
	if err := os.WriteFile(foreign, elf, 0o755); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "root")
	r := install(t, "--binary", foreign, "--prefix", prefix, "--no-scan")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: cannot run "+foreign+" here") {
		t.Fatalf("prefix install of a foreign binary: %v", r)
	}
	if sum(t, filepath.Join(prefix, "usr/bin/comandera")) != sum(t, foreign) {
		t.Error("the foreign binary was not installed")
	}
	if read(t, filepath.Join(prefix, "etc/comandera/printers.hcl")) != read(t, "printers.hcl") {
		t.Error("the config is not the example")
	}
	r = install(t, "--binary", foreign, "--dry-run", "--no-scan")
	if r.code != 1 || !strings.Contains(r.stderr, "error: cannot run "+foreign) || !strings.Contains(r.stderr, "architecture") {
		t.Errorf("live install of a foreign binary: %v", r)
	}
}

// fakeScan writes a comandera that answers `scan` with the given output and
// exit status, and passes every other command to the real binary.
func fakeScan(t *testing.T, stdoutFile, stderr string, code int) string {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "comandera")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = scan ]; then\n  [ -z %q ] || cat %q\n  echo %q >&2\n  exit %d\nfi\nexec %q \"$@\"\n",
		stdoutFile, stdoutFile, stderr, code, filepath.Join(binDir, "comandera"))
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return fake
}

// TestScanCommand: the installer's use of `comandera scan -json` itself
// (with --scan under --prefix): a scan in which one driver failed (exit 1)
// still gives its devices; a scan that fails with no output gives the
// example config.
func TestScanCommand(t *testing.T) {
	needDrivers(t)
	abs, err := filepath.Abs("testdata/scan.json")
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(t.TempDir(), "root")
	r := install(t, "--binary", fakeScan(t, abs, "comandera scan: net: boom", 1), "--plugins", filepath.Join(binDir, "plugins"),
		"--prefix", prefix, "--scan", "--no-check")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"scanning for printers: comandera scan -json", "comandera scan exited 1; using the devices it listed:\n  comandera scan: net: boom"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%v", want, r)
		}
	}
	if !strings.Contains(r.stdout, "scan found 4 printer(s) and 3 other device(s)") {
		t.Errorf("devices not used:\n%v", r)
	}
	// The same config as from the saved scan.
	if conf := read(t, filepath.Join(prefix, "etc/comandera/printers.hcl")); conf != read(t, "testdata/printers-scan.hcl") {
		t.Errorf("config differs from testdata/printers-scan.hcl:\n%s", conf)
	}

	prefix = filepath.Join(t.TempDir(), "root")
	r = install(t, "--binary", fakeScan(t, "", "comandera scan: usblp: permission denied", 1), "--prefix", prefix, "--scan")
	if r.code != 0 || !strings.Contains(r.stderr, "comandera scan exited 1:\n  comandera scan: usblp: permission denied") ||
		!strings.Contains(r.stdout, "no printer found: writing the example config") {
		t.Errorf("failed scan: %v", r)
	}
}
