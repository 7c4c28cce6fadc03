package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"go.uber.org/zap"
)

// The admin API (REST admin API, directory JSON API, /metrics, /readyz)
// has no passwords of its own. It stays on loopback, or it serves HTTPS
// and asks every client for a certificate signed by admin.client_ca.

// Validate checks that the admin TLS settings fit together (the files are
// read when serve starts, so the CLI can share a configuration whose key
// it cannot read).
func (c AdminConfig) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("admin.tls_cert and admin.tls_key: give both (HTTPS) or neither (HTTP, loopback only)")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return fmt.Errorf("admin.client_ca needs admin.tls_cert and admin.tls_key: client certificates are asked for over HTTPS only")
	}
	return nil
}

// adminTLS is the admin listener's TLS configuration; nil without
// admin.tls_cert. Errors name the setting at fault.
func adminTLS(c AdminConfig) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("admin.tls_cert %s and admin.tls_key %s: %w (give a readable PEM certificate and its private key)", c.TLSCert, c.TLSKey, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("admin.client_ca %s: %w (give the PEM bundle of the CA that signs the clients' certificates)", c.ClientCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("admin.client_ca %s: no PEM certificate in it (give the PEM bundle of the CA that signs the clients' certificates)", c.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// adminListener wraps the admin listener ln in TLS when admin.tls_cert is
// set, and warns when the API is reachable beyond this host without
// mutual TLS. On error it closes ln; the error names the setting.
func adminListener(ln net.Listener, c AdminConfig, log *zap.Logger) (net.Listener, error) {
	cfg, err := adminTLS(c)
	if err != nil {
		_ = ln.Close()
		return nil, usageError{fmt.Errorf("config %w", err)}
	}
	addr := ln.Addr().String()
	if !loopbackListen(addr) {
		switch {
		case cfg == nil:
			log.Warn("admin API over plain HTTP on a non-loopback address: it has no passwords, so anyone who reaches it reads (and probes) this server; keep admin.listen on loopback, or set admin.tls_cert, admin.tls_key and admin.client_ca (mutual TLS)",
				zap.String("listen", addr))
		case cfg.ClientCAs == nil:
			log.Warn("admin API over HTTPS without client certificates on a non-loopback address: it has no passwords, so anyone who reaches it reads it; set admin.client_ca (mutual TLS) or keep admin.listen on loopback",
				zap.String("listen", addr))
		}
	}
	if cfg == nil {
		return ln, nil
	}
	return tls.NewListener(ln, cfg), nil
}

// adminURL is the admin API's base URL for the ready log line.
func adminURL(ln net.Listener, c AdminConfig) string {
	if c.TLSCert != "" {
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}
