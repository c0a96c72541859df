package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
	"github.com/comandera/comandera/plugins/star/stargraphic"
	"github.com/comandera/comandera/plugins/star/starline"
)

// The plugin binaries are built once per test run, by `go build`, and each
// test copies the ones it needs into its own t.TempDir().
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// pluginPackages maps a binary's name to its package, relative to this one.
var pluginPackages = map[string]string{
	"testplugin": "./internal/testplugin",
	"example":    "./example",
	"star":       "./star",
	"clone":      "./clone",
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// install builds (once) the plugin binaries and copies the named one into a
// fresh temporary directory, returning its path and SHA-256.
func install(t testing.TB, name string) (path, sum string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "comandera-plugins-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", buildDir + string(filepath.Separator)}
		for _, pkg := range pluginPackages {
			args = append(args, pkg)
		}
		cmd := exec.Command(goTool(), args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	src := filepath.Join(buildDir, filepath.Base(pluginPackages[name]))
	if runtime.GOOS == "windows" {
		src += ".exe"
	}
	path = filepath.Join(t.TempDir(), "comandera-"+name)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return path, hex.EncodeToString(s[:])
}

func newTestHost(t *testing.T, opts ...Option) (*Host, *records) {
	t.Helper()
	rs := &records{level: slog.LevelDebug}
	h := NewHost(slog.New(rs), opts...)
	t.Cleanup(func() { h.Close() })
	return h, rs
}

func load(t *testing.T, h *Host, name string) *Plugin {
	t.Helper()
	path, sum := install(t, name)
	p, err := h.Load(context.Background(), Config{Name: name, Path: path, SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func textDoc(s string) core.Document { return core.Document{{Kind: core.KindText, Text: s}} }

func alive(pid int) bool {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return proc.Signal(syscall.Signal(0)) == nil
}

func kill(t *testing.T, pid int) {
	t.Helper()
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
}

// eventually polls cond for up to 30 s (the machine may be busy).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func markers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "started-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestChecksumMismatchRefusedBeforeStart(t *testing.T) {
	h, _ := newTestHost(t)
	path, sum := install(t, "testplugin")
	wrong := strings.Repeat("ab", 32)
	_, err := h.Load(context.Background(), Config{Name: "t", Path: path, SHA256: wrong})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Load: %v, want ErrChecksum", err)
	}
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Expected != wrong || ce.Actual != sum {
		t.Fatalf("ChecksumError %+v", ce)
	}
	for _, s := range []string{wrong, sum, `plugin "t"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if m := markers(t, filepath.Dir(path)); len(m) != 0 {
		t.Errorf("the plugin ran: %v", m)
	}
	if _, ok := h.Get("t"); ok {
		t.Error("a refused plugin is loaded")
	}
	// The same check, as `comandera validate` calls it.
	if err := VerifySHA256(path, strings.ToUpper(sum)+"\n"); err != nil {
		t.Errorf("VerifySHA256 with the right sum: %v", err)
	}
	if err := VerifySHA256(path, wrong); !errors.Is(err, ErrChecksum) {
		t.Errorf("VerifySHA256 with a wrong sum: %v", err)
	}
	for _, bad := range []string{"", "xyz", sum[:10]} {
		err := VerifySHA256(path, bad)
		if err == nil || !strings.Contains(err.Error(), "sha256sum "+path) {
			t.Errorf("VerifySHA256(%q) = %v", bad, err)
		}
		if _, err := h.Load(context.Background(), Config{Name: "t", Path: path, SHA256: bad}); err == nil {
			t.Errorf("Load with sha256 %q succeeded", bad)
		}
	}
	if m := markers(t, filepath.Dir(path)); len(m) != 0 {
		t.Errorf("the plugin ran: %v", m)
	}
	if _, err := FileSHA256(filepath.Dir(path)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FileSHA256 of a directory: %v", err)
	}
}

func TestReplacedBinaryRefusedAtRestart(t *testing.T) {
	h, _ := newTestHost(t)
	path, sum := install(t, "testplugin")
	p, err := h.Load(context.Background(), Config{Name: "t", Path: path, SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := install(t, "example")
	data, _ := os.ReadFile(other)
	pid := p.Pid()
	if err := os.Remove(path); err != nil { // the running file stays busy; replace it
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	kill(t, pid)
	eventually(t, "the plugin to die", func() bool { return !alive(pid) })
	_, err = p.Encode(context.Background(), textDoc("pid"), builtin(t, "generic-80mm"))
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Encode after the binary changed: %v, want ErrChecksum", err)
	}
	if m := markers(t, filepath.Dir(path)); len(m) != 1 {
		t.Errorf("markers %v: the replaced binary ran, or the first start left none", m)
	}
}

func TestRealPlugins(t *testing.T) {
	h, _ := newTestHost(t)
	ctx := context.Background()
	doc := designDoc(t)

	star := load(t, h, "star")
	in, err := star.Info(ctx)
	if err != nil || in.Name != "star" || in.APIVersion != APIVersion {
		t.Fatalf("Info = %+v, %v", in, err)
	}
	if li := star.LoadedInfo(); li.Name != "star" || len(li.CommandSets) != 2 {
		t.Errorf("LoadedInfo = %+v", li)
	}
	tsp := builtin(t, "star-tsp650")
	got, err := star.Encode(ctx, doc, tsp)
	if err != nil {
		t.Fatal(err)
	}
	want, err := starline.Encode(doc, tsp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("star plugin and starline.Encode disagree (%d and %d bytes)", len(got), len(want))
	}
	st, err := star.ParseStatus(ctx, []byte{0x23, 0x86, 0x28, 0, 0, 0, 0, 0, 0}, tsp)
	if err != nil || !st.CoverOpen || st.Online {
		t.Errorf("ParseStatus = %+v, %v", st, err)
	}
	tsp100 := builtin(t, "star-tsp100")
	got100, err := star.Encode(ctx, doc, tsp100)
	if err != nil {
		t.Fatal(err)
	}
	want100, err := stargraphic.Encode(doc, tsp100)
	if err != nil || !bytes.Equal(got100, want100) {
		t.Errorf("star plugin and stargraphic.Encode disagree (%d and %d bytes, %v)", len(got100), len(want100), err)
	}
	if _, err := star.Encode(ctx, doc, builtin(t, "epson-tm-t20iii")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("star Encode for an Epson: %v, want ErrUnsupported", err)
	}

	clone := load(t, h, "clone")
	xp := builtin(t, "xprinter-xp80")
	out, err := clone.Transform(ctx, []byte("\x1b@Año"), xp)
	if err != nil || string(out) != "\x1b@\x1c.Año" {
		t.Errorf("clone Transform = %q, %v", out, err)
	}
	out, err = Encode(ctx, clone, doc, xp, escpos.Encode)
	if err != nil || !bytes.HasPrefix(out, []byte("\x1b@\x1c.")) {
		t.Errorf("Encode through clone = % x…, %v", out[:min(len(out), 8)], err)
	}

	example := load(t, h, "example")
	out, err = example.Transform(ctx, []byte("hola\n"), builtin(t, "generic-80mm"))
	if err != nil || string(out) != "\x1b@hola\n" {
		t.Errorf("example Transform = %q, %v", out, err)
	}

	// Killed between calls: the next call restarts it and succeeds.
	pid := star.Pid()
	kill(t, pid)
	eventually(t, "the plugin to die", func() bool { return !alive(pid) })
	got, err = star.Encode(ctx, doc, tsp)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the kill: %v", err)
	}
	if star.Pid() == pid || star.Pid() == 0 {
		t.Errorf("pid %d after restart, was %d", star.Pid(), pid)
	}
	if d := h.Names(); strings.Join(d, ",") != "clone,example,star" {
		t.Errorf("Names = %v", d)
	}
}

func TestRunByHand(t *testing.T) {
	for _, name := range []string{"star", "example"} {
		path, _ := install(t, name)
		cmd := exec.Command(path)
		cmd.Env = []string{}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s: %v, want exit status 1", name, err)
		}
		for _, s := range []string{"Comandera quirks plugin", "sha256sum comandera-" + name, `plugin "NAME"`, `quirks = "NAME"`} {
			if !strings.Contains(stderr.String(), s) {
				t.Errorf("%s by hand says %q, without %q", name, stderr.String(), s)
			}
		}
	}
}

func TestKillMidCall(t *testing.T) {
	h, rs := newTestHost(t)
	p := load(t, h, "testplugin")
	prof := builtin(t, "generic-80mm")
	ctx := context.Background()
	pid := p.Pid()

	done := make(chan error, 1)
	go func() {
		_, err := p.Encode(ctx, textDoc("sleep:30s"), prof)
		done <- err
	}()
	eventually(t, "the plugin to start sleeping", func() bool { _, ok := rs.find("sleeping"); return ok })
	kill(t, pid)
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not fail when the plugin died")
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call during the kill: %v, want ErrUnavailable", err)
	}
	out, err := p.Encode(ctx, textDoc("pid"), prof)
	if err != nil {
		t.Fatalf("call after the kill: %v", err)
	}
	if newPid, _ := strconv.Atoi(string(out)); newPid == pid || newPid == 0 {
		t.Errorf("plugin pid %s after restart, was %d", out, pid)
	}
	if _, ok := rs.find("plugin will be restarted on the next call"); !ok {
		t.Error("the restart was not logged")
	}
}

func TestCallTimeout(t *testing.T) {
	h, rs := newTestHost(t, WithCallTimeout(2*time.Second))
	defer func() {
		if t.Failed() {
			rs.mu.Lock()
			for _, r := range rs.recs {
				t.Logf("%v %s %v", r.level, r.msg, r.attrs)
			}
			rs.mu.Unlock()
		}
	}()
	p := load(t, h, "testplugin")
	prof := builtin(t, "generic-80mm")
	ctx := context.Background()
	pid := p.Pid()
	start := time.Now()
	_, err := p.Encode(ctx, textDoc("sleep:60s"), prof)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Encode: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("the call took %s", d)
	}
	// The wedged process is stopped and a fresh one answers.
	eventually(t, "the wedged plugin to be stopped", func() bool { return !alive(pid) })
	out, err := p.Encode(ctx, textDoc("pid"), prof)
	if err != nil {
		t.Fatal(err)
	}
	if newPid, _ := strconv.Atoi(string(out)); newPid == pid {
		t.Error("the wedged process answered")
	}
	// A plugin's own timeout overrides the host's.
	path, sum := install(t, "testplugin")
	q, err := h.Load(ctx, Config{Name: "patient", Path: path, SHA256: sum, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := q.Encode(ctx, textDoc("sleep:500ms"), prof); err != nil || string(out) != "slept" {
		t.Errorf("a 500 ms call with a 5 s timeout: %q, %v", out, err)
	}
	// A caller that gives up does not get the plugin restarted.
	pid = p.Pid()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := p.Encode(cctx, textDoc("sleep:200ms"), prof); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller deadline: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if p.Pid() != pid {
		t.Error("the plugin was restarted because a caller gave up")
	}
}

func TestPluginLogsReachSlog(t *testing.T) {
	h, rs := newTestHost(t)
	p := load(t, h, "testplugin")
	if _, err := p.Encode(context.Background(), textDoc("log:hello from the plugin"), builtin(t, "generic-80mm")); err != nil {
		t.Fatal(err)
	}
	var rec record
	eventually(t, "the plugin's log line", func() (ok bool) { rec, ok = rs.find("hello from the plugin"); return ok })
	if rec.level != slog.LevelInfo || rec.attrs["plugin"] != "testplugin" || rec.attrs["profile"] != "generic-80mm" {
		t.Errorf("record %+v", rec)
	}
	if rec, ok := rs.find("plugin ready"); !ok || rec.attrs["name"] != "testplugin" {
		t.Errorf("start record %+v", rec)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	h, _ := newTestHost(t, WithMaxMessageSize(1<<20))
	p := load(t, h, "testplugin")
	prof := builtin(t, "generic-80mm")
	pid := p.Pid()
	_, err := p.Encode(context.Background(), textDoc("big:2000000"), prof)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a 2 MB answer with a 1 MiB limit: %v", err)
	}
	out, err := p.Encode(context.Background(), textDoc("big:1000"), prof)
	if err != nil || len(out) != 1000 {
		t.Fatalf("a small answer after: %d bytes, %v", len(out), err)
	}
	if p.Pid() != pid {
		t.Error("an oversized answer restarted the plugin")
	}
}

func TestStartFailureBackoff(t *testing.T) {
	h, _ := newTestHost(t)
	p := load(t, h, "testplugin")
	prof := builtin(t, "generic-80mm")
	path := p.cfg.Path
	if err := os.Chmod(path, 0o644); err != nil { // not executable: starting fails
		t.Fatal(err)
	}
	pid := p.Pid()
	kill(t, pid)
	eventually(t, "the plugin to die", func() bool { return !alive(pid) })
	_, err := p.Encode(context.Background(), textDoc("pid"), prof)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("restart of a non-executable file: %v", err)
	}
	_, err = p.Encode(context.Background(), textDoc("pid"), prof)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "next try in") {
		t.Fatalf("second call during the backoff: %v", err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a successful restart", func() bool {
		_, err := p.Encode(context.Background(), textDoc("pid"), prof)
		return err == nil
	})
}

func TestConcurrentCalls(t *testing.T) {
	h, _ := newTestHost(t)
	p := load(t, h, "testplugin")
	prof := builtin(t, "generic-80mm")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Encode(context.Background(), textDoc(fmt.Sprint("n", i)), prof)
			if err == nil && string(out) != fmt.Sprint("n", i) {
				err = fmt.Errorf("call %d got %q", i, out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestCloseStopsEveryPlugin(t *testing.T) {
	h := NewHost(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a := load(t, h, "testplugin")
	b := load(t, h, "example")
	pids := []int{a.Pid(), b.Pid()}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if pid == 0 {
			t.Fatal("no pid")
		}
		eventually(t, fmt.Sprintf("plugin %d to exit", pid), func() bool { return !alive(pid) })
	}
	if _, err := a.Encode(context.Background(), textDoc("pid"), builtin(t, "generic-80mm")); err == nil {
		t.Error("a call after Close succeeded")
	}
	if _, err := h.Load(context.Background(), Config{Name: "x", Path: "/bin/true", SHA256: strings.Repeat("0", 64)}); err == nil {
		t.Error("Load after Close succeeded")
	}
}
