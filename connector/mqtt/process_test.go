package mqtt

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// The comandera binary, built once per test run by comanderaBin.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// comanderaBin builds ./cmd/comandera (once) and returns its path.
func comanderaBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "comandera-mqtt-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "comandera")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goBin, "build", "-o", binPath, "github.com/comandera/comandera/cmd/comandera")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// serveProc is a running `comandera serve`.
type serveProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	log  syncBuffer
	done chan struct{}
}

var listenLine = regexp.MustCompile(`^comandera: listening on (https?://\S+)$`)

// startServe runs `comandera serve -config cfg` in dir and waits until it
// listens.
func startServe(t testing.TB, dir, cfg string, env ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(comanderaBin(t), "serve", "-config", cfg, "-log-level", "debug")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &serveProc{t: t, cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.log.Write([]byte(sc.Text() + "\n"))
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.url = <-addr:
	case <-p.done:
		t.Fatalf("comandera serve exited:\n%s", p.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("comandera serve did not start:\n%s", p.log.String())
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits.
func (p *serveProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("comandera serve did not stop on SIGTERM:\n%s", p.log.String())
		p.kill()
	}
}

// serveConfig writes a printers.hcl for `comandera serve` with one sim
// printer and a connector to brokerURL, and returns its path and the
// printer's output directory.
func serveConfig(t testing.TB, dir, brokerURL, clientID, extra string) (cfg, out string) {
	t.Helper()
	out = filepath.Join(dir, "out")
	src := strings.NewReplacer("DIR", dir, "BROKER", brokerURL, "CLIENT", clientID, "EXTRA", extra).Replace(`
server {
  listen          = "127.0.0.1:0"
  token           = "` + testToken + `"
  callback_secret = "` + testSecret + `"
  data_dir        = "DIR/data"
}
printer "kitchen" {
  profile = "generic-80mm"
  sim {
    output = "DIR/out/kitchen"
    render = false
  }
}
connector "mqtt" {
  broker         = "BROKER"
  client_id      = "CLIENT"
  keepalive      = "5s"
  session_expiry = "1h"
EXTRA
}
`)
	cfg = filepath.Join(dir, "printers.hcl")
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, out
}

// killAndWill runs the kill -9 scenario against a broker: a real `comandera
// serve` comes online and prints; kill -9 makes the broker publish the
// will (offline); a job published while it is dead prints once it is
// restarted; SIGTERM publishes "shutdown".
func killAndWill(t *testing.T, brokerURL string, clientTLS *tls.Config, extra string) {
	dir := t.TempDir()
	cfg, out := serveConfig(t, dir, brokerURL, "box-kill", extra)
	tp := TopicsFor("comandera/box-kill")
	be := newBackend(t, brokerURL, clientTLS, tp.Status, tp.Events)

	p := startServe(t, dir, cfg)
	be.waitStatus(tp, true, 15*time.Second)
	be.publish(tp.Jobs, jobJSON("K1"), nil)
	waitTickets(t, out, []string{"K1"}, 15*time.Second)
	// Killed once K1 is recorded printed (its event is out); killed between
	// the ticket and that record, K1 would be printed again, marked REPRINT,
	// as it must be.
	be.waitFor(15*time.Second, "K1's printed event", func(m *paho.Publish) bool {
		return m.Topic == tp.Events && (bytes.Contains(m.Payload, []byte(`"state":"printed"`)) ||
			bytes.Contains(m.Payload, []byte(`\"state\":\"printed\"`))) // in an envelope
	})

	n := len(be.messages(tp.Status))
	p.kill()
	s := be.waitStatusAfter(tp, n, false, 15*time.Second)
	if s.Reason != "connection lost" || s.ClientID != "box-kill" {
		t.Errorf("will = %+v", s)
	}
	for _, m := range be.messages(tp.Status)[n:] {
		checkSigned(t, m)
	}

	// Published while the box is dead: printed after the restart, once.
	be.publish(tp.Jobs, jobJSON("K2"), nil)
	n = len(be.messages(tp.Status))
	p = startServe(t, dir, cfg)
	be.waitStatusAfter(tp, n, true, 15*time.Second)
	checkOnce(t, waitTickets(t, out, []string{"K1", "K2"}, 15*time.Second), []string{"K1", "K2"})

	n = len(be.messages(tp.Status))
	p.stop()
	if s := be.waitStatusAfter(tp, n, false, 15*time.Second); s.Reason != "shutdown" {
		t.Errorf("offline status after SIGTERM = %+v", s)
	}
	if !strings.Contains(p.log.String(), "mqtt: disconnected") {
		t.Errorf("no disconnect in the log:\n%s", p.log.String())
	}
}

// Kill -9 of a real `comandera serve`: the broker publishes its will.
func TestKill9LastWill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the comandera binary")
	}
	br := startBroker(t, "", nil)
	killAndWill(t, br.url(), nil, "")
}
