package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// writeCerts writes a CA and a certificate it signs for 127.0.0.1 into
// dir: ca.pem, node.pem, node-key.pem.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "distsync test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	for name, block := range map[string]*pem.Block{ //det:ordered independent files
		"ca.pem":       {Type: "CERTIFICATE", Bytes: caDER},
		"node.pem":     {Type: "CERTIFICATE", Bytes: leafDER},
		"node-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600))
	}
}

// TestTLSCluster runs three nodes in this process with TLS on the HTTP API
// and between peers: a lock is acquired over HTTPS through a follower's
// redirect, and a plain-HTTP client is refused.
func TestTLSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("real listeners: skipped with -short")
	}
	dir := t.TempDir()
	writeCerts(t, dir)
	base, err := FreeBasePort(3)
	require.NoError(t, err)
	path, err := WriteLocal(LocalSpec{Nodes: 3, Dir: dir, BasePort: base, Services: []string{ServiceLocks}})
	require.NoError(t, err)
	f, err := Load(path)
	require.NoError(t, err)
	f.TLS = &TLS{Cert: "node.pem", Key: "node-key.pem", CA: "ca.pem"}
	data, err := yaml.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	f, err = Load(path)
	require.NoError(t, err)

	for i := range f.Nodes {
		p, err := StartProcess(f, f.Nodes[i].ID, Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
	}
	tlsCfg, err := f.ClientTLS()
	require.NoError(t, err)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, WaitHealthy(ctx, f, client))

	require.Eventually(t, func() bool {
		resp, err := client.Post(f.URL(&f.Nodes[0])+"/locks/acquire", "application/json",
			bytes.NewReader([]byte(`{"resource":"r","mode":"shared","wait":"0s"}`)))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "acquire over HTTPS (following the redirect to the leader)")

	_, err = http.Get("http://" + f.Nodes[0].HTTP + "/health")
	if err == nil {
		resp, err2 := http.Get("http://" + f.Nodes[0].HTTP + "/health")
		require.NoError(t, err2)
		resp.Body.Close()
		require.NotEqual(t, http.StatusOK, resp.StatusCode, "plain HTTP must not reach the API")
	}
}
