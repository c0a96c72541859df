//go:build integration

package deploy

// Checks with system tools, run in CI (go test -tags integration ./...),
// which installs shellcheck, systemd, udev and file: shellcheck on every
// script, systemd-analyze verify on the unit, the udev rules through udev's
// own parser, and `make release` with its binaries and packages.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed (apt-get install %s)", tool, pkg)
	}
	return path
}

func TestShellcheck(t *testing.T) {
	need(t, "shellcheck", "shellcheck")
	scripts := []string{"install.sh", "deb/postinst", "deb/prerm", "deb/postrm"}
	out, err := exec.Command("shellcheck", append([]string{"--severity=style"}, scripts...)...).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
	// The check can fail: a classic mistake is reported.
	bad := filepath.Join(t.TempDir(), "bad.sh")
	os.WriteFile(bad, []byte("#!/bin/sh\nrm -rf $1/*\n"), 0o755)
	if err := exec.Command("shellcheck", bad).Run(); err == nil {
		t.Error("shellcheck accepted an unquoted rm -rf $1/*")
	}
}

// verifyUnit runs systemd-analyze verify on unit text in a temporary root
// holding the system's units (for the targets it refers to) and the binary
// at /usr/bin/comandera. It returns everything systemd-analyze printed:
// verify exits 0 on unknown keys and bad values, so silence is the pass.
func verifyUnit(t *testing.T, text string) (string, error) {
	t.Helper()
	root := t.TempDir()
	var sysUnits string
	for _, d := range []string{"/lib/systemd/system", "/usr/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, "multi-user.target")); err == nil {
			sysUnits = d
			break
		}
	}
	if sysUnits == "" {
		t.Fatal("no systemd unit directory with multi-user.target (apt-get install systemd)")
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", sysUnits, filepath.Join(root, "usr/lib/systemd/system")).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", sysUnits, err, out)
	}
	for _, d := range []string{"usr/bin", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", filepath.Join(binDir, "comandera"), filepath.Join(root, "usr/bin/comandera")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	unitPath := filepath.Join(root, "etc/systemd/system/comandera.service")
	if err := os.WriteFile(unitPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, unitPath)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSystemdVerify(t *testing.T) {
	need(t, "systemd-analyze", "systemd")
	unit := read(t, "comandera.service")
	if out, err := verifyUnit(t, unit); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify comandera.service: %v\n%s", err, out)
	}
	// The check can fail: a bad value and an unknown key are reported.
	bad := strings.Replace(unit, "WatchdogSec=30s", "WatchdogSec=thirty\nWatchdogUsec=1", 1)
	out, _ := verifyUnit(t, bad)
	if !strings.Contains(out, "thirty") || !strings.Contains(out, "WatchdogUsec") {
		t.Errorf("systemd-analyze verify did not report a broken unit:\n%s", out)
	}
}

// TestUdevadm feeds the rules to udev's own parser: `udevadm test` on a
// device without a node, in a private mount namespace where the rules
// directories hold only these rules (udev 252 has no `udevadm verify`).
// Needs root for the namespace.
func TestUdevadm(t *testing.T) {
	need(t, "udevadm", "udev")
	need(t, "unshare", "util-linux")
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount the rules directories in a private namespace (CI runs as root)")
	}
	parse := func(rules string) string {
		dir := t.TempDir()
		for _, d := range []string{"rules", "empty"} {
			os.Mkdir(filepath.Join(dir, d), 0o755)
		}
		os.WriteFile(filepath.Join(dir, "rules", "99-comandera.rules"), []byte(rules), 0o644)
		script := `set -e
# A private /run: udevadm test writes its database there.
mount -t tmpfs tmpfs /run
mount --bind "$1/rules" /etc/udev/rules.d
for d in /lib/udev/rules.d /usr/lib/udev/rules.d; do
	if [ -d "$d" ]; then mount --bind "$1/empty" "$d"; fi
done
udevadm test --action=add /class/net/lo`
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("udevadm test: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "Reading rules file: /etc/udev/rules.d/99-comandera.rules") {
			t.Fatalf("udevadm did not read the rules:\n%s", out.String())
		}
		var problems []string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "/etc/udev/rules.d/99-comandera.rules:") {
				problems = append(problems, line)
			}
		}
		return strings.Join(problems, "\n")
	}
	rules := read(t, "99-comandera.rules")
	if p := parse(rules); p != "" {
		t.Errorf("udev reports:\n%s", p)
	}
	// The check can fail: udev reports a bad operator and a dangling GOTO.
	bad := rules + "KERNEL=\"lp*\", GROUP==\"lp\"\nKERNEL==\"x\", GOTO=\"nowhere\"\n"
	if p := parse(bad); !strings.Contains(p, "Invalid operator for KERNEL") || !strings.Contains(p, "nowhere") {
		t.Errorf("udev did not report broken rules:\n%s", p)
	}
}

// TestRelease runs `make release` into a temporary dist/ and checks the
// binaries' architectures and sizes, the tarballs, the .debs and the
// checksums.
func TestRelease(t *testing.T) {
	need(t, "make", "make")
	need(t, "file", "file")
	need(t, "dpkg-deb", "dpkg")
	dist := t.TempDir()
	const version = "v9.8.7"
	cmd := exec.Command("make", "-C", "..", "release", "DIST="+dist, "VERSION="+version)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}

	plugins := []string{}
	for _, p := range []string{"star", "clone"} {
		if b, err := exec.Command("go", "list", "-f", "{{.Name}}", "../plugins/"+p).Output(); err == nil && strings.TrimSpace(string(b)) == "main" {
			plugins = append(plugins, "comandera-"+p)
		}
	}
	if len(plugins) == 0 {
		t.Log("no plugin main packages: the release has no plugins")
	}

	for _, arch := range []struct{ goarch, file, deb string }{
		{"arm64", "ARM aarch64", "arm64"},
		{"amd64", "x86-64", "amd64"},
	} {
		stage := filepath.Join(dist, "comandera_"+version+"_linux_"+arch.goarch)
		bins := []string{filepath.Join(stage, "comandera")}
		for _, p := range plugins {
			bins = append(bins, filepath.Join(stage, "plugins", p))
		}
		for _, b := range bins {
			desc, err := exec.Command("file", "-b", b).Output()
			if err != nil {
				t.Fatalf("file %s: %v", b, err)
			}
			for _, want := range []string{"ELF 64-bit LSB executable", arch.file, "statically linked", "stripped"} {
				if !strings.Contains(string(desc), want) {
					t.Errorf("%s: file says %q, want %q", b, desc, want)
				}
			}
			if strings.Contains(string(desc), "not stripped") {
				t.Errorf("%s is not stripped", b)
			}
		}
		fi, err := os.Stat(bins[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("linux/%s comandera: %d bytes", arch.goarch, fi.Size())
		if arch.goarch == "arm64" && fi.Size() >= 25_000_000 {
			t.Errorf("the arm64 binary is %d bytes, want under 25 MB", fi.Size())
		}
		if arch.goarch == "amd64" {
			// The version is stamped in.
			v, err := exec.Command(bins[0], "version").Output()
			if err != nil || !strings.HasPrefix(string(v), "comandera "+version+" ") {
				t.Errorf("comandera version = %q, %v", v, err)
			}
		}

		// The tarball: the binaries and the installer with its files.
		tgz := stage + ".tar.gz"
		list, err := exec.Command("tar", "-tzf", tgz).Output()
		if err != nil {
			t.Fatalf("tar -tzf %s: %v", tgz, err)
		}
		top := filepath.Base(stage) + "/"
		for _, f := range append([]string{"comandera", "install.sh", "comandera.service", "99-comandera.rules", "printers.hcl"}, prefixed("plugins/", plugins)...) {
			if !slices.Contains(strings.Fields(string(list)), top+f) {
				t.Errorf("%s lacks %s:\n%s", tgz, top+f, list)
			}
		}

		// The .deb: fields, conffile, files with their modes, scripts.
		deb := filepath.Join(dist, "comandera_9.8.7_"+arch.deb+".deb")
		for field, want := range map[string]string{"Package": "comandera", "Version": "9.8.7", "Architecture": arch.deb} {
			got, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
			if err != nil || strings.TrimSpace(string(got)) != want {
				t.Errorf("%s %s = %q (%v), want %q", deb, field, got, err, want)
			}
		}
		ctrl := t.TempDir()
		if out, err := exec.Command("dpkg-deb", "-e", deb, ctrl).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
		}
		if got := read(t, filepath.Join(ctrl, "conffiles")); got != "/etc/comandera/printers.hcl\n" {
			t.Errorf("conffiles = %q", got)
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			if got, want := read(t, filepath.Join(ctrl, s)), read(t, "deb/"+s); got != want {
				t.Errorf("the .deb's %s is not deploy/deb/%s", s, s)
			}
		}
		contents, err := exec.Command("dpkg-deb", "-c", deb).Output()
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for _, line := range strings.Split(string(contents), "\n") {
			f := strings.Fields(line)
			if len(f) >= 6 {
				files[strings.TrimPrefix(f[len(f)-1], ".")] = f[0] + " " + f[1]
			}
		}
		want := map[string]string{
			"/usr/bin/comandera":                    "-rwxr-xr-x root/root",
			"/lib/systemd/system/comandera.service": "-rw-r--r-- root/root",
			"/lib/udev/rules.d/99-comandera.rules":  "-rw-r--r-- root/root",
			"/etc/comandera/printers.hcl":           "-rw-r----- root/root",
			"/usr/lib/comandera/plugins/":           "drwxr-xr-x root/root",
		}
		for _, p := range plugins {
			want["/usr/lib/comandera/plugins/"+p] = "-rwxr-xr-x root/root"
		}
		for path, mode := range want {
			if files[path] != mode {
				t.Errorf("%s: %s is %q, want %q", deb, path, files[path], mode)
			}
		}
		// The packaged files are the repository's.
		data := t.TempDir()
		if out, err := exec.Command("dpkg-deb", "-x", deb, data).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
		}
		for pkg, src := range map[string]string{
			"lib/systemd/system/comandera.service": "comandera.service",
			"lib/udev/rules.d/99-comandera.rules":  "99-comandera.rules",
			"etc/comandera/printers.hcl":           "printers.hcl",
			"usr/bin/comandera":                    bins[0],
		} {
			if sum(t, filepath.Join(data, pkg)) != sum(t, src) {
				t.Errorf("%s: %s differs from %s", deb, pkg, src)
			}
		}
	}

	// Checksums of every artifact.
	sums := read(t, filepath.Join(dist, "SHA256SUMS"))
	for _, want := range []string{"comandera_9.8.7_arm64.deb", "comandera_9.8.7_amd64.deb",
		"comandera_" + version + "_linux_arm64.tar.gz", "comandera_" + version + "_linux_amd64.tar.gz",
		"comandera_" + version + "_linux_arm64/comandera", "comandera_" + version + "_linux_amd64/comandera"} {
		if !regexp.MustCompile(`(?m)^[0-9a-f]{64}  ` + regexp.QuoteMeta(want) + `$`).MatchString(sums) {
			t.Errorf("SHA256SUMS lacks %s:\n%s", want, sums)
		}
	}
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
}

func prefixed(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}
