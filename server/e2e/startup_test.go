package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runServe runs `comandera serve` that is expected to exit on its own.
func runServe(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PRINTER_SECRET=")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("comandera serve did not exit:\n%s", out)
	}
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return code, string(out)
}

func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("network without a token", func(t *testing.T) {
		cfg := write("open.hcl", "server {\n  listen = \"0.0.0.0:0\"\n}\nprinter \"p\" {\n  sim {}\n}\n")
		code, out := runServe(t, dir, "-config", cfg)
		if code != 1 || !strings.Contains(out, "open.hcl:2:12: Listening on the network without a token") || !strings.Contains(out, "not starting") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("-listen on the network without a token", func(t *testing.T) {
		cfg := write("local.hcl", "server {\n  listen = \"127.0.0.1:0\"\n  data_dir = \"d1\"\n}\nprinter \"p\" {\n  sim {}\n}\n")
		code, out := runServe(t, dir, "-config", cfg, "-listen", "0.0.0.0:0")
		if code != 1 || !strings.Contains(out, "-listen 0.0.0.0:0: listening on 0.0.0.0:0 (not loopback) without a token") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("plugin checksum", func(t *testing.T) {
		cfg := write("plugin.hcl", `server {
  listen   = "127.0.0.1:0"
  data_dir = "d2"
}
printer "p" {
  quirks = "star"
  sim {}
}
plugin "star" {
  path   = "`+bin+`"
  sha256 = "`+strings.Repeat("ab", 32)+`"
}
`)
		code, out := runServe(t, dir, "-config", cfg)
		if code != 1 || !strings.Contains(out, "plugin.hcl:11:12: Plugin checksum mismatch") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("a second server on the same data", func(t *testing.T) {
		cfg := write("twice.hcl", "server {\n  listen = \"127.0.0.1:0\"\n  data_dir = \"d3\"\n}\nprinter \"p\" {\n  sim {}\n}\n")
		e := &env{t: t, dir: dir, cfg: cfg}
		p := e.start()
		code, out := runServe(t, dir, "-config", cfg)
		if code != 1 || !strings.Contains(out, "in use by another process") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		p.stop()
	})
}

// TestServeDefault runs with no configuration at all: the embedded default
// (two sim printers writing under ./comandera-out).
func TestServeDefault(t *testing.T) {
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	p := e.startArgs("serve", "-listen", "127.0.0.1:0")
	if !strings.Contains(p.logs(), `source="embedded default (no -config and no ./printers.hcl)"`) {
		t.Errorf("the log does not say which configuration:\n%s", p.logs())
	}
	var j job
	if st, body := p.do("POST", "/print?wait=10s", map[string]any{"content": "Por defecto: ñandú"}, &j); st != 200 || j.State != "printed" || j.Printer != "kitchen" {
		t.Fatalf("%d %s", st, body)
	}
	if txt := waitTicket(t, filepath.Join(dir, "comandera-out", "kitchen"), j.ID); !strings.Contains(txt, "Por defecto: ñandú") {
		t.Errorf("transcript %q", txt)
	}
	if _, err := os.Stat(filepath.Join(dir, "comandera-out", "kitchen", j.ID+".png")); err != nil {
		t.Errorf("no PNG: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "comandera-data", "queue.db")); err != nil {
		t.Errorf("no queue in ./comandera-data: %v", err)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestServeTLS serves HTTPS when server.tls is set.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600)
	// A fixed port, so `comandera check -config` finds the server from the file.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	e := newEnv(t, `
server {
  listen   = "`+addr+`"
  token    = "`+token+`"
  data_dir = "DATA"
  tls {
    cert = "tls.crt"
    key  = "tls.key"
  }
}
printer "p" {
  sim { render = false }
}
`)
	os.Rename(filepath.Join(dir, "tls.crt"), filepath.Join(e.dir, "tls.crt"))
	os.Rename(filepath.Join(dir, "tls.key"), filepath.Join(e.dir, "tls.key"))
	p := e.start()
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("url %s", p.url)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(p.url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &h); err != nil || h["status"] != "healthy" {
		t.Errorf("GET /health over TLS: %d %s", resp.StatusCode, b)
	}
	// comandera check finds the local server from its configuration and
	// trusts exactly the certificate configured there.
	check := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"check"}, args...)...)
		cmd.Env = append(os.Environ(), "PRINTER_SECRET=", "RPI4_HTTP_HOST=", "RPI4_HTTP_PORT=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := check("-config", e.cfg); code != 0 || !strings.Contains(out, "✅ reached https://"+addr) {
		t.Errorf("check -config: exit %d\n%s", code, out)
	}
	if code, out := check("-url", p.url, "-token", token, "-ca", filepath.Join(e.dir, "tls.crt")); code != 0 {
		t.Errorf("check -ca: exit %d\n%s", code, out)
	}
	if code, out := check("-url", p.url, "-token", token); code != 1 || !strings.Contains(out, "certificate") {
		t.Errorf("check without the CA: exit %d, want 1 and a certificate error\n%s", code, out)
	}
	// Plain HTTP on the TLS port is refused.
	plain := strings.Replace(p.url, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/health"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
		resp.Body.Close()
	}
	p.stop()
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestServeSystemd: under systemd the server reports READY=1 once it
// listens, feeds the watchdog at half its interval, and says STOPPING=1.
func TestServeSystemd(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	e := newEnv(t, "server {\n  listen = \"127.0.0.1:0\"\n  data_dir = \"DATA\"\n}\nprinter \"p\" {\n  sim { render = false }\n}\n")
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	p := e.start()
	want := func(msg string) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, msg) {
					return
				}
			case <-timeout:
				t.Fatalf("no %s from the server", msg)
			}
		}
	}
	want("READY=1")
	want("WATCHDOG=1")
	want("WATCHDOG=1")
	p.stop()
	want("STOPPING=1")
}
