package main

import (
	"crypto/rand"
	"fmt"
	"github.com/sentralpbx/sentral/directory"
	dirhttp "github.com/sentralpbx/sentral/directory/httpapi"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/voicemail/httpapi"
	"github.com/sentralpbx/sentral/provisioning/phones"
	"github.com/sentralpbx/sentral/store"
)

// newPhones binds the desk-phone provisioning listener (nil when
// phones.listen is empty) and builds its handler. The phones are told to
// register at the first UDP listener (or TCP, then TLS) of the SIP stack.
func newPhones(cfg Config, st store.Store, sip *sipStack, dir *directory.Directory, log *zap.Logger) (*http.Server, net.Listener, error) {
	pc := cfg.Phones
	if pc.Listen == "" {
		log.Info("phone provisioning disabled (phones.listen is empty)")
		return nil, nil, nil
	}
	if sip == nil {
		log.Info("phone provisioning disabled: SIP is not running")
		return nil, nil, nil
	}
	opts := phones.Options{SIPServer: pc.SIPServer, PhonebookURL: pc.PhonebookURL, TimeZone: pc.TimeZone, Log: log}
	for _, network := range []string{"udp", "tcp", "tls"} {
		if addr := sip.srv.Addr(network); addr != "" {
			_, port, _ := net.SplitHostPort(addr)
			opts.SIPPort, _ = strconv.Atoi(port)
			opts.Transport = network
			break
		}
	}
	if opts.SIPServer == "" {
		opts.SIPServer = cfg.SIP.Advertise
	}
	if opts.SIPServer == "" {
		opts.SIPServer = outboundIP()
	}
	if opts.PhonebookURL == "" {
		// The phone book is served right here: point the phones at it.
		opts.PhonebookURL = defaultPhonebookURL(pc, opts.SIPServer)
	}
	// One key per process: a phone challenged by this node answers this
	// node. Several nodes behind one name need phones pinned to a node
	// (documented in docs/phones.md).
	opts.NonceKey = make([]byte, 32)
	if _, err := rand.Read(opts.NonceKey); err != nil {
		return nil, nil, fmt.Errorf("phone provisioning: nonce key: %w", err)
	}
	h, err := phones.NewHandler(phones.StoreSource(st), opts)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("config phones: %w", err)}
	}
	mux := http.NewServeMux()
	mux.Handle(phones.PathPrefix, h)
	// Phones fetch the XML phone book with the credentials of their
	// configuration files; the wrapper puts their tenant in the request.
	mux.Handle(dirhttp.PhonebookPrefix, h.PhonebookAuth(dirhttp.NewPhonebook(dir, log.Named("phonebook"))))
	if sip != nil && sip.media != nil {
		// Owners fetch their voicemail where their phones fetch their
		// configuration: the listener users' devices can reach.
		mux.Handle(httpapi.PathPrefix, sip.media.http)
	}
	ln, err := net.Listen("tcp", pc.Listen)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("phones.listen %s: %w (choose a free address with --phones-listen, or '' to disable)", pc.Listen, err)}
	}
	if pc.TLSCert == "" {
		log.Warn("phone provisioning over plain HTTP: the files carry each phone's secret in clear; set phones.tls_cert and phones.tls_key on untrusted networks",
			zap.String("listen", ln.Addr().String()))
	}
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(log)}, ln, nil
}

// defaultPhonebookURL is this listener's XML phone book, as phones reach
// it: at host (the address they register at) and the listener's port.
func defaultPhonebookURL(pc PhonesConfig, host string) string {
	_, port, err := net.SplitHostPort(pc.Listen)
	if err != nil || host == "" {
		return ""
	}
	scheme := "http"
	if pc.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + dirhttp.PhonebookPrefix + "{tenant}/{vendor}.xml?mac={mac}"
}

// servePhones serves HTTPS when a certificate is configured, else HTTP.
func servePhones(srv *http.Server, ln net.Listener, pc PhonesConfig) error {
	if pc.TLSCert != "" {
		return srv.ServeTLS(ln, pc.TLSCert, pc.TLSKey)
	}
	return srv.Serve(ln)
}

// phonesURL is the provisioning base URL for the ready log line.
func phonesURL(ln net.Listener, pc PhonesConfig) string {
	if ln == nil {
		return ""
	}
	scheme := "http"
	if pc.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String() + phones.PathPrefix
}
