package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// simJob is a two-ticket job with a status request and a drawer kick.
var simJob = []byte("\x1b@\x1bt\x13\x1ba\x01\x1d!\x11COCINA\n\x1d!\x00\x1ba\x00Mesa 12 \xfa Luc\xa1a\n2x Tortilla espa\xa4ola\n\x10\x04\x01\x1dVB\x00Segundo\n\x1bp\x00\x19\xfa")

// simCmd runs `comandera ARGS…` in the background and returns the first line
// it prints on stdout, a cancel function and a channel with its exit code.
func simCmd(t *testing.T, args ...string) (first string, cancel func(), code chan int, stderr *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr = &bytes.Buffer{}
	code = make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		code <- run(ctx, args, strings.NewReader(""), pw, &lockedWriter{w: stderr})
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, pr)
	}()
	select {
	case first = <-lines:
	case c := <-code:
		cancel()
		t.Fatalf("comandera %q exited with %d before printing: %s", args, c, stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("comandera %q printed nothing", args)
	}
	// Stop the sim and wait for it: it writes its last ticket's files as it
	// exits, which must happen before the test's temp dir is removed.
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("comandera %q did not stop", args)
		}
	})
	return first, cancel, code, stderr
}

type lockedWriter struct {
	w  io.Writer
	mu chan struct{}
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	if l.mu == nil {
		l.mu = make(chan struct{}, 1)
	}
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.w.Write(b)
}

// simFiles waits until dir holds at least n ticket files and returns them.
func simFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), "-") {
				names = append(names, e.Name())
			}
		}
		slices.Sort(names)
		if len(names) >= n {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %d ticket files", dir, names, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkTickets checks the two tickets of simJob were written.
func checkTickets(t *testing.T, dir string, names []string) {
	t.Helper()
	var pngs, txts, jsons []string
	for _, n := range names {
		switch filepath.Ext(n) {
		case ".png":
			pngs = append(pngs, n)
		case ".txt":
			txts = append(txts, n)
		case ".json":
			jsons = append(jsons, n)
		}
	}
	if len(pngs) != 2 || len(txts) != 2 || len(jsons) != 2 {
		t.Fatalf("files %q: want two tickets", names)
	}
	txt, _ := os.ReadFile(filepath.Join(dir, txts[0]))
	if string(txt) != "COCINA\nMesa 12 · Lucía\n2x Tortilla española\n" {
		t.Errorf("first transcript %q", txt)
	}
	f, _ := os.Open(filepath.Join(dir, pngs[0]))
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 576 {
		t.Errorf("PNG: %v %v", err, img)
	}
	var sc struct {
		Cut    string
		Drawer []struct{ Pin int }
	}
	b, _ := os.ReadFile(filepath.Join(dir, jsons[1]))
	json.Unmarshal(b, &sc)
	if sc.Cut != "none" || len(sc.Drawer) != 1 || sc.Drawer[0].Pin != 2 {
		t.Errorf("second sidecar %s", b)
	}
}

func TestSimListen(t *testing.T) {
	dir := t.TempDir()
	first, cancel, code, stderr := simCmd(t, "sim", "-listen", "127.0.0.1:0", "-out", dir, "-paper-out-after", "2")
	addr, ok := strings.CutPrefix(first, "listening on ")
	if !ok {
		t.Fatalf("first line %q", first)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(simJob); err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	reply := make([]byte, 1)
	if _, err := io.ReadFull(nc, reply); err != nil || reply[0] != 0x12 {
		t.Errorf("DLE EOT 1 answered % x, %v", reply, err)
	}
	nc.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, nc)
	nc.Close()
	checkTickets(t, dir, simFiles(t, dir, 6))

	// Two tickets printed: the paper is out. A status request says so, and
	// a job is refused (the connection is reset).
	nc, _ = net.Dial("tcp", addr)
	nc.Write([]byte("\x10\x04\x04"))
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, reply); err != nil || reply[0]&0x60 != 0x60 {
		t.Errorf("DLE EOT 4 with the paper out answered % x, %v", reply, err)
	}
	nc.Write([]byte("no paper\n"))
	_, err = io.ReadAll(nc)
	nc.Close()
	if err == nil {
		t.Errorf("a job with the paper out was not refused")
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d: %s", c, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop on cancel")
	}
}

func TestSimPTY(t *testing.T) {
	dir := t.TempDir()
	path, cancel, code, stderr := simCmd(t, "sim", "-pty", "-out", dir)
	if !strings.HasPrefix(path, "/dev/") {
		t.Fatalf("pty path %q", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(simJob); err != nil {
		t.Fatal(err)
	}
	f.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply := make([]byte, 1)
	if _, err := io.ReadFull(f, reply); err != nil || reply[0] != 0x12 {
		t.Errorf("DLE EOT 1 over the pty answered % x, %v", reply, err)
	}
	f.Close()
	// The job ends after a second of silence.
	checkTickets(t, dir, simFiles(t, dir, 6))
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit code %d: %s", c, stderr)
	}
}

// TestSimPTYXOff runs a slow printer on a pty: it sends XOFF when too much
// is waiting and XON once it has printed it.
func TestSimPTYXOff(t *testing.T) {
	dir := t.TempDir()
	path, _, _, _ := simCmd(t, "sim", "-pty", "-out", dir, "-speed", "200", "-xoff-at", "256", "-no-render")
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// 600 bytes that feed 15 mm of paper: 75 ms at 200 mm/s.
	job := append(bytes.Repeat([]byte("linea\n"), 100), "\x1bJ\x00"...)
	go f.Write(job)
	got := make([]byte, 0, 2)
	buf := make([]byte, 1)
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < 2 {
		if _, err := f.Read(buf); err != nil {
			t.Fatalf("read %q so far: %v", got, err)
		}
		got = append(got, buf[0])
	}
	if got[0] != 0x13 || got[1] != 0x11 {
		t.Errorf("flow control % x, want XOFF (13) then XON (11)", got)
	}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "job.bin")
	os.WriteFile(in, simJob, 0o644)
	out := filepath.Join(dir, "roll.png")
	var stdout, stderr bytes.Buffer
	if c := run(context.Background(), []string{"render", "-o", out, "-text", in}, nil, &stdout, &stderr); c != 0 {
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
	want := "COCINA\nMesa 12 · Lucía\n2x Tortilla española\n--- partial cut ---\nSegundo\n"
	if stdout.String() != want {
		t.Errorf("transcript %q, want %q", stdout.String(), want)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 576 || img.Bounds().Dy() < 100 {
		t.Errorf("roll PNG: %v %v", err, img.Bounds())
	}
	// Stdin, another profile, warnings on stderr.
	stdout.Reset()
	stderr.Reset()
	c := run(context.Background(), []string{"render", "-profile", "generic-58mm", "-o", out, "-"},
		bytes.NewReader([]byte("x\x1byz\n\x1dV\x00")), &stdout, &stderr)
	if c != 0 || !strings.Contains(stderr.String(), "warning: unknown command ESC y") || !strings.Contains(stderr.String(), "no cutter") {
		t.Errorf("exit %d, stderr %q", c, stderr.String())
	}
	f, _ = os.Open(out)
	img, _ = png.Decode(f)
	f.Close()
	if img == nil || img.Bounds().Dx() != 384 {
		t.Errorf("58 mm roll: %v", img)
	}
	// A profile block of a configuration file.
	cfg := filepath.Join(dir, "profiles.hcl")
	if err := os.WriteFile(cfg, []byte(`profile "narrow-48" {
  base           = "generic-58mm"
  dots_per_line  = 288
  font_a_columns = 24
  font_b_columns = 32
}
printer "labels" {
  profile = "narrow-48"
  sim { output = "out" }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.hcl")
	if err := os.WriteFile(broken, []byte("profile \"x\" {\n  dots_per_line = \"wide\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if c := run(context.Background(), []string{"render", "-config", cfg, "-profile", "narrow-48", "-o", out, in}, nil, &stdout, &stderr); c != 0 {
		t.Fatalf("render -config: exit %d: %s", c, stderr.String())
	}
	f, _ = os.Open(out)
	img, _ = png.Decode(f)
	f.Close()
	if img == nil || img.Bounds().Dx() != 288 {
		t.Errorf("narrow-48 roll: %v", img)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"render", "-config", broken, "-profile", "x", "-text", in}, 1, "broken.hcl:2:"},
		{[]string{"sim", "-config", broken, "-listen", "127.0.0.1:0", "-out", dir}, 1, "broken.hcl has errors"},
		{[]string{"render", "-profile", "nope", "-text", in}, 1, "unknown profile"},
		{[]string{"render", "-profile", "star-tsp650", "-text", in}, 0, "warning: "}, // ESC/POS bytes on a Star Line Mode printer
		{[]string{"render", "-text", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"render", in}, 2, "Usage"},
		{[]string{"sim", "-out", dir}, 2, "Usage"},
		{[]string{"sim", "-listen", "127.0.0.1:0"}, 2, "Usage"},
		{[]string{"sim", "-listen", "127.0.0.1:0", "-out", dir, "-xoff-at", "5"}, 1, "xoff_at needs a speed"},
	} {
		stdout.Reset()
		stderr.Reset()
		if c := run(context.Background(), tc.args, nil, &stdout, &stderr); c != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tc.args, c, stderr.String(), tc.code, tc.msg)
		}
	}
}
