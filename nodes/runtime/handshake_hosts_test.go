package runtime

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// selfSigned returns a fresh self-signed ECDSA certificate for 127.0.0.1
// and localhost, and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "distsync test peer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestPeerHandshakeBetweenHosts(t *testing.T) {
	cert, pool := selfSigned(t)
	server := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	trusting := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	untrusting := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	token := func(s string) func(nodes.NodeID, *Config) {
		return func(_ nodes.NodeID, c *Config) { c.Token = []byte(s) }
	}
	tlsBoth := func(tok string) func(nodes.NodeID, *Config) {
		return func(_ nodes.NodeID, c *Config) {
			c.Token, c.ServerTLS, c.ClientTLS = []byte(tok), server, trusting
		}
	}
	tests := []struct {
		name string
		n1   func(nodes.NodeID, *Config) // the sender, dialing n2
		n2   func(nodes.NodeID, *Config)
		ok   bool
	}{
		{"same token", token("s3cret"), token("s3cret"), true},
		{"no token on either side", token(""), token(""), true},
		{"wrong token", token("guess"), token("s3cret"), false},
		{"token on the acceptor only", token(""), token("s3cret"), false},
		{"token on the dialer only", token("s3cret"), token(""), false},
		{"tls with a trusted certificate", tlsBoth("s3cret"), tlsBoth("s3cret"), true},
		{"tls with a wrong token", tlsBoth("guess"), tlsBoth("s3cret"), false},
		{"tls client that does not trust the certificate", func(_ nodes.NodeID, c *Config) {
			c.Token, c.ServerTLS, c.ClientTLS = []byte("s3cret"), server, untrusting
		}, tlsBoth("s3cret"), false},
		{"tls client with another server name", func(_ nodes.NodeID, c *Config) {
			cfg := trusting.Clone()
			cfg.ServerName = "n2.example"
			c.Token, c.ServerTLS, c.ClientTLS = []byte("s3cret"), server, cfg
		}, tlsBoth("s3cret"), false},
		{"plain client, tls server", token("s3cret"), tlsBoth("s3cret"), false},
		{"tls client, plain server", tlsBoth("s3cret"), token("s3cret"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hosts, _, _ := startCluster(t, ids(2), probeFactory(nil, nil), func(c *Config) {
				c.DialTimeout = time.Second
				c.BackoffMax = 50 * time.Millisecond
				map[nodes.NodeID]func(nodes.NodeID, *Config){"n1": tc.n1, "n2": tc.n2}[c.ID](c.ID, c)
			})
			n1, n2 := hosts["n1"], hosts["n2"]
			send := func(k uint64) { inspect(t, n1, func(p *probe) { p.env.Send("n2", &note{N: k}) }) }
			if tc.ok {
				end := time.Now().Add(5 * time.Second)
				for k := uint64(0); received(t, n2) == 0; k++ {
					require.True(t, time.Now().Before(end), "n2 received nothing; n1 %+v; n2 %+v", n1.Stats(), n2.Stats())
					send(k)
					time.Sleep(5 * time.Millisecond)
				}
				inspect(t, n2, func(p *probe) { require.Equal(t, nodes.NodeID("n1"), p.got[0].from) })
				for _, h := range hosts {
					st := h.Stats()
					require.Zero(t, st.RejectedConns, "%s: %+v", h.ID(), st)
					require.Zero(t, st.HandshakeFailures, "%s: %+v", h.ID(), st)
				}
				return
			}
			send(1)
			require.Eventually(t, func() bool {
				return n2.Stats().RejectedConns >= 2 && n1.Stats().HandshakeFailures >= 2
			}, 5*time.Second, 2*time.Millisecond, "n1 %+v; n2 %+v", n1.Stats(), n2.Stats())
			send(2)
			st1, st2 := n1.Stats(), n2.Stats()
			require.Zero(t, st1.Connects, "%+v", st1)
			require.Zero(t, st1.Sent, "%+v", st1)
			require.Zero(t, st2.Received, "%+v", st2)
			require.Zero(t, received(t, n2))
		})
	}
}
