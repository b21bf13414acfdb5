package gatewaytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority made for one test: it signs the
// certificates of TLS origins, and its own certificate is in File (PEM), as
// a route's tls_ca_file.
type CA struct {
	// File is the path of the CA certificate, PEM, in a test directory.
	File string

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA valid for an hour and writes its certificate to File.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(tb),
		Subject:               pkix.Name{CommonName: "flowcache test CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("gatewaytest: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("gatewaytest: CA certificate: %v", err)
	}
	ca := &CA{File: filepath.Join(tb.TempDir(), "ca.pem"), cert: cert, key: key}
	if err := os.WriteFile(ca.File, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatalf("gatewaytest: write CA: %v", err)
	}
	return ca
}

// Certificate returns a server certificate signed by ca for names, each a
// DNS name or an IP literal.
func (ca *CA) Certificate(tb testing.TB, names ...string) tls.Certificate {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(tb),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatalf("gatewaytest: server certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("gatewaytest: key: %v", err)
	}
	return key
}

func newSerial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("gatewaytest: serial: %v", err)
	}
	return n
}

// TLSOrigin is an https upstream on a free loopback port serving cert. It
// counts the requests it receives and remembers the SNI server name and
// the Host of the last one. It is closed in t.Cleanup.
type TLSOrigin struct {
	// Port is the port it listens on, on 127.0.0.1.
	Port string

	requests atomic.Int64
	mu       sync.Mutex
	sni      string
	host     string
}

// StartTLSOrigin starts an https origin serving h with cert. h may be
// called concurrently.
func StartTLSOrigin(tb testing.TB, cert tls.Certificate, h http.HandlerFunc) *TLSOrigin {
	tb.Helper()
	o := &TLSOrigin{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		o.sni, o.host = r.TLS.ServerName, r.Host
		o.mu.Unlock()
		h(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// A client that refuses the certificate is what some tests are about:
	// the server's handshake error log is noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	_, o.Port, _ = net.SplitHostPort(srv.Listener.Addr().String()) // a TCP listener's address is host:port
	return o
}

// URL returns the origin's base URL with host in it ("https://host:PORT"),
// as a route's upstreams entry; host must resolve to 127.0.0.1.
func (o *TLSOrigin) URL(host string) string { return "https://" + net.JoinHostPort(host, o.Port) }

// Requests returns how many requests the origin has answered.
func (o *TLSOrigin) Requests() int64 { return o.requests.Load() }

// Last returns the SNI server name (empty if none was sent) and the Host
// header of the last request.
func (o *TLSOrigin) Last() (sni, host string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sni, o.host
}
