package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"

	"encoding/pem"
	"github.com/eclipse/paho.golang/paho"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	path string // the CA certificate, PEM
}

func newTestCA(t testing.TB, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		path: filepath.Join(dir, name+"-ca.pem")}
	if err := os.WriteFile(ca.path, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue makes a certificate and key signed by the CA, for a server on
// 127.0.0.1 or a client, and writes them as name.pem and name.key in dir.
func (ca *testCA) issue(t testing.TB, dir, name string, server bool) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// pool is a cert pool with the CA.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// mtlsFixture is a CA, a broker certificate, a client certificate the
// broker trusts, and one from another CA that it does not.
type mtlsFixture struct {
	dir                   string
	ca, rogue             *testCA
	serverCert, serverKey string
	clientCert, clientKey string
	rogueCert, rogueKey   string
}

func newMTLS(t testing.TB) *mtlsFixture {
	t.Helper()
	dir := t.TempDir()
	f := &mtlsFixture{dir: dir}
	f.ca = newTestCA(t, dir, "fleet")
	f.rogue = newTestCA(t, dir, "rogue")
	f.serverCert, f.serverKey = f.ca.issue(t, dir, "broker", true)
	f.clientCert, f.clientKey = f.ca.issue(t, dir, "box", false)
	f.rogueCert, f.rogueKey = f.rogue.issue(t, dir, "intruder", false)
	return f
}

// serverTLS is the broker side: its certificate, and client certificates
// required and checked against the CA.
func (f *mtlsFixture) serverTLS(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.serverCert, f.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: f.ca.pool(), MinVersion: tls.VersionTLS12}
}

// clientTLS is a backend's side, with the good client certificate.
func (f *mtlsFixture) clientTLS(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: f.ca.pool(), MinVersion: tls.VersionTLS12}
}

func tlsBlock(ca, cert, key string) string {
	s := "  tls {\n    ca = \"" + ca + "\"\n"
	if cert != "" {
		s += "    cert = \"" + cert + "\"\n    key = \"" + key + "\"\n"
	}
	return s + "  }"
}

// Mutual TLS: a box with a certificate from the fleet's CA connects and
// prints; one with another CA's certificate, or none, is refused; a box
// that does not trust the broker's certificate does not connect.
func TestMutualTLS(t *testing.T) {
	for _, proto := range []string{"auto", "3.1.1"} {
		t.Run("protocol "+proto, func(t *testing.T) { mutualTLS(t, `  protocol = "`+proto+`"`+"\n") })
	}
}

func mutualTLS(t *testing.T, protocol string) {
	f := newMTLS(t)
	br := startBroker(t, "", f.serverTLS(t))
	good := newBox(t, br.url(), "box-mtls", withMQTT(protocol+tlsBlock(f.ca.path, f.clientCert, f.clientKey))).start().connected()
	tp := good.conn.Topics()
	be := newBackend(t, br.url(), f.clientTLS(t), tp.Events)
	be.publish(tp.Jobs, jobJSON("TLS1"), nil)
	checkOnce(t, waitTickets(t, good.out, []string{"TLS1"}, 10*time.Second), []string{"TLS1"})
	be.waitFor(10*time.Second, "printed event over TLS", func(m *paho.Publish) bool { return m.Topic == tp.Events })

	for _, c := range []struct{ name, tls string }{
		{"certificate from another CA", tlsBlock(f.ca.path, f.rogueCert, f.rogueKey)},
		{"no client certificate", tlsBlock(f.ca.path, "", "")},
		{"broker not trusted", tlsBlock(f.rogue.path, f.clientCert, f.clientKey)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBox(t, br.url(), "box-refused", withMQTT(protocol+c.tls)).start()
			deadline := time.Now().Add(5 * time.Second)
			for b.conn.Stats().ConnectErrors < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			st := b.conn.Stats()
			if st.ConnectErrors < 2 || st.Connects != 0 || b.conn.Connected() {
				t.Errorf("stats = %+v: want refused connections", st)
			}
		})
	}
}
