package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
)

// adminClientFlags are the flags of commands that talk to a running
// server's admin API: where it is and how to trust it (and be trusted by
// it) over HTTPS.
type adminClientFlags struct {
	server     string
	caFile     string
	clientCert string
	clientKey  string
}

// add registers --server, --ca-file, --client-cert and
// --client-key on cmd.
func (f *adminClientFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.server, "server", "", "admin API base URL, http:// or https:// (default admin.listen, https when admin.tls_cert is set)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM CA bundle to trust for an https:// admin API signed by a private CA; env SENTRAL_CA_FILE")
	fs.StringVar(&f.clientCert, "client-cert", "", "PEM client certificate for an admin API with admin.client_ca (mutual TLS); env SENTRAL_CLIENT_CERT")
	fs.StringVar(&f.clientKey, "client-key", "", "PEM private key of --client-cert; env SENTRAL_CLIENT_KEY")
}

// adminBase is the admin API base URL: --server, else admin.listen (with
// https when this configuration serves it over TLS).
func (a *app) adminBase(f adminClientFlags) string {
	if f.server != "" {
		return strings.TrimRight(f.server, "/")
	}
	scheme := "http://"
	if a.cfg.Admin.TLSCert != "" {
		scheme = "https://"
	}
	addr := a.cfg.Admin.Listen
	if host, port, err := net.SplitHostPort(addr); err == nil {
		switch host { // bound to all addresses: reach it on loopback
		case "", "0.0.0.0":
			addr = net.JoinHostPort("127.0.0.1", port)
		case "::":
			addr = net.JoinHostPort("::1", port)
		}
	}
	return scheme + addr
}

// adminClient is the HTTP client for the admin API: the system's CAs plus
// --ca-file, and the client certificate of --client-cert/--client-key.
// Flags beat the environment.
func (a *app) adminClient(f adminClientFlags) (*http.Client, error) {
	env := envMap(a.environ)
	pick := func(flag, name string) string {
		if flag != "" {
			return flag
		}
		return env[name]
	}
	caFile := pick(f.caFile, "SENTRAL_CA_FILE")
	certFile := pick(f.clientCert, "SENTRAL_CLIENT_CERT")
	keyFile := pick(f.clientKey, "SENTRAL_CLIENT_KEY")
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--ca-file %s: %w (give the PEM file of the CA that signed the admin certificate)", caFile, err)}
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Errorf("--ca-file %s: no PEM certificate in it (give the PEM file of the CA that signed the admin certificate)", caFile)}
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, usageError{fmt.Errorf("--client-cert and --client-key (SENTRAL_CLIENT_CERT, SENTRAL_CLIENT_KEY): give both (mutual TLS) or neither")}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--client-cert %s and --client-key %s: %w (give a PEM certificate signed by the server's admin.client_ca and its private key)", certFile, keyFile, err)}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	rt := &certAskedTransport{}
	if certFile == "" {
		// Note that the server asked for a certificate: with TLS 1.3 its
		// refusal may reach us as a mere reset of the connection.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			rt.asked.Store(true)
			return &tls.Certificate{}, nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	rt.next = tr
	return &http.Client{Transport: rt}, nil
}

// errClientCertRequired marks a request that failed after the server asked
// for a client certificate the CLI did not have.
var errClientCertRequired = errors.New("the admin API asks for a client certificate (admin.client_ca)")

// certAskedTransport adds errClientCertRequired to the error of a request
// whose server asked for a client certificate we had none for.
type certAskedTransport struct {
	next  http.RoundTripper
	asked atomic.Bool
}

func (t *certAskedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(r)
	if err != nil && t.asked.Load() {
		err = fmt.Errorf("%w: %w", errClientCertRequired, err)
	}
	return res, err
}

// adminClientError explains a failed request to the admin API: which flag
// fixes a TLS failure (those are usage errors, exit code 1).
func adminClientError(url string, err error) error {
	var uerr *neturl.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its "Get URL:" would repeat ours
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return usageError{fmt.Errorf("GET %s: %w: pass --ca-file (or SENTRAL_CA_FILE) with the CA that signed the admin certificate", url, err)}
	case errors.As(err, &hostname):
		return usageError{fmt.Errorf("GET %s: %w: give --server the host name or address the admin certificate was issued for", url, err)}
	case errors.As(err, &invalid):
		return fmt.Errorf("GET %s: %w: renew the admin certificate (admin.tls_cert)", url, err)
	case errors.Is(err, errClientCertRequired), strings.Contains(msg, "tls: certificate required"), strings.Contains(msg, "tls: bad certificate"),
		strings.Contains(msg, "tls: unknown certificate authority"), strings.Contains(msg, "tls: expired certificate"):
		return usageError{fmt.Errorf("GET %s: %w: the admin API wants a client certificate signed by its admin.client_ca: pass --client-cert and --client-key (or SENTRAL_CLIENT_CERT, SENTRAL_CLIENT_KEY)", url, err)}
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return usageError{fmt.Errorf("GET %s: %w: the admin API speaks plain HTTP: give --server an http:// URL", url, err)}
	}
	return fmt.Errorf("GET %s: %w (is `sentral serve` running with this admin.listen?)", url, err)
}

// httpToHTTPS reports an answer of Go's TLS server to a plain HTTP request.
func httpToHTTPS(status int, body []byte) bool {
	return status == http.StatusBadRequest && strings.Contains(string(body), "HTTP request to an HTTPS server")
}
