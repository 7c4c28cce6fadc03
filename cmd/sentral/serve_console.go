package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/sentralpbx/sentral/console/api"
	"github.com/sentralpbx/sentral/console/auth"
	"github.com/sentralpbx/sentral/console/board"
	"github.com/sentralpbx/sentral/console/web"
	"github.com/sentralpbx/sentral/directory"
	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/console/softphone"
	"github.com/sentralpbx/sentral/sip/server"
)

// consoleServer is the web listener for people: the softphone page.
type consoleServer struct {
	// board is the operators' extension board (nil without a switchboard).
	board *board.Board
	srv   *http.Server
	ln    net.Listener
	tls   bool
}

// newConsole binds the console listener (nil when console.listen is
// empty). On a loopback address it serves plain HTTP: browsers treat
// localhost as a secure context, so microphones work, and a certificate
// would only be in the way. Elsewhere it serves HTTPS with console.tls_*,
// sip.tls_*, or a generated self-signed certificate.
func newConsole(cfg Config, st store.Store, sip *sipStack, dir *directory.Directory, rec *audit.Recorder, log *zap.Logger) (*consoleServer, error) {
	cc := cfg.Console
	if cc.Listen == "" {
		return nil, nil
	}
	var ws []server.Listener
	if sip != nil {
		for _, l := range sip.srv.Listeners() {
			if l.Network == "ws" || l.Network == "wss" {
				ws = append(ws, l)
			}
		}
	}
	sp, err := softphone.Handler(softphone.Options{WSURL: wsURL(ws), ICEServers: iceServers(cfg.WebRTC)})
	if err != nil {
		return nil, fmt.Errorf("console: softphone: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(softphone.PathPrefix, sp)
	mux.Handle("/{$}", http.RedirectHandler(softphone.PathPrefix, http.StatusFound))
	var brd *board.Board
	if sip != nil && sip.media != nil && sip.media.switchboard != nil {
		// The operators' console: the page, login and the API over the
		// switchboard engine, the extension board and the phone book.
		a, err := auth.New(st, auth.Options{Log: log.Named("auth"), Audit: rec})
		if err != nil {
			return nil, fmt.Errorf("console: auth: %w", err)
		}
		brd = board.New(st, sip.loc, dir.NameFor, log.Named("board"))
		domain := func(tenantID int64) string {
			if t, ok := dir.Tenant(tenantID); ok {
				return t.Domain
			}
			return ""
		}
		ws, ice := wsURL(ws), iceServers(cfg.WebRTC)
		apiH := api.New(api.Deps{Queue: sip.media.switchboard, Board: brd, Directory: dir, Log: log.Named("api"), Audit: rec,
			Settings: consoleSettings{provisioning.New(st, provisioning.Policies{Password: cfg.Security.Password, PIN: cfg.Security.PIN})},
			User: func(r *http.Request) (api.User, bool) {
				u, ok := auth.UserFrom(r.Context())
				return api.User{Username: u.Username, Name: u.Name, TenantID: u.TenantID, Tenant: u.Tenant,
					Extension: u.Extension, Admin: u.Admin()}, ok
			},
			Softphone: func(r *http.Request, tenantID int64) api.Softphone {
				return api.Softphone{WSURL: ws(r), Domain: domain(tenantID), ICEServers: ice}
			}, Home: queueHome(sip)})
		a.Register(mux)
		mux.Handle(api.Prefix, a.Require(apiH))
		mux.Handle(web.PathPrefix, web.Handler())
	}
	ln, err := net.Listen("tcp", cc.Listen)
	if err != nil {
		return nil, usageError{fmt.Errorf("console.listen %s: %w (choose a free address with --console-listen, or '' to disable)", cc.Listen, err)}
	}
	c := &consoleServer{board: brd, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(log)}}
	if !loopbackListen(ln.Addr().String()) {
		conf, err := consoleTLS(cfg)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		c.tls, c.srv.TLSConfig = true, conf
		c.ln = tls.NewListener(ln, conf)
	}
	if len(ws) == 0 {
		log.Warn("softphones cannot register: sip.listen has no ws or wss listener (add e.g. wss:0.0.0.0:8089)")
	}
	return c, nil
}

// URL is where the softphone page is.
func (c *consoleServer) URL() string {
	if c == nil {
		return ""
	}
	scheme := "http"
	if c.tls {
		scheme = "https"
	}
	return scheme + "://" + c.ln.Addr().String() + softphone.PathPrefix
}

func loopbackListen(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Addr().IsLoopback()
}

// consoleTLS is console.tls_*, else sip.tls_*, else a self-signed
// certificate for this host's name.
func consoleTLS(cfg Config) (*tls.Config, error) {
	cert, key := cfg.Console.TLSCert, cfg.Console.TLSKey
	if cert == "" {
		cert, key = cfg.SIP.TLS.Cert, cfg.SIP.TLS.Key
	}
	var c tls.Certificate
	var err error
	if cert != "" {
		c, err = tls.LoadX509KeyPair(cert, key)
	} else {
		host, _ := os.Hostname()
		c, err = server.SelfSigned([]string{host, "localhost"}, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("console tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

// wsURL tells the page which SIP WebSocket to use: the host the browser
// reached the page at, with the port of our wss listener for an HTTPS
// page (a secure page may not open ws://) or of a ws listener otherwise.
func wsURL(ws []server.Listener) func(r *http.Request) string {
	return func(r *http.Request) string {
		secure := r.TLS != nil
		var pick *server.Listener
		for i, l := range ws {
			if (l.Network == "wss") == secure {
				pick = &ws[i]
				break
			}
		}
		if pick == nil && len(ws) > 0 && !secure {
			pick = &ws[0]
		}
		if pick == nil {
			return ""
		}
		_, port, err := net.SplitHostPort(pick.Addr)
		if err != nil {
			return ""
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			host = "[" + host + "]"
		}
		return pick.Network + "://" + host + ":" + port
	}
}

// iceServers are the STUN and TURN servers the page gives its browser.
func iceServers(w WebRTCConfig) []softphone.ICEServer {
	var out []softphone.ICEServer
	if w.STUN != "" {
		out = append(out, softphone.ICEServer{URLs: []string{w.STUN}})
	}
	if w.TURN != "" {
		out = append(out, softphone.ICEServer{URLs: []string{w.TURN}, Username: w.TURNUser, Credential: w.TURNPassword})
	}
	return out
}

// serve runs the listener until Shutdown.
func (c *consoleServer) serve() error { return c.srv.Serve(c.ln) }

// consoleSettings lets the console read and change a tenant's switchboard
// settings through provisioning, with its checks and messages.
type consoleSettings struct{ p *provisioning.Service }

// Switchboard returns the tenant's settings.
func (c consoleSettings) Switchboard(ctx context.Context, tenant string) (api.SwitchboardSettings, error) {
	v, err := c.p.Switchboard(ctx, tenant)
	return api.SwitchboardSettings{Number: v.Number, Hours: v.Hours, NightTarget: v.NightTarget}, err
}

// SetSwitchboard changes the given settings.
func (c consoleSettings) SetSwitchboard(ctx context.Context, tenant string, hours, night *string) (api.SwitchboardSettings, error) {
	v, err := c.p.SetSwitchboard(ctx, tenant, hours, night)
	if err != nil {
		var pe *provisioning.Error
		if errors.As(err, &pe) {
			return api.SwitchboardSettings{}, settingsError{err, strings.ReplaceAll(strings.TrimPrefix(pe.Field, "--"), "-", "_")}
		}
		return api.SwitchboardSettings{}, err
	}
	return api.SwitchboardSettings{Number: v.Number, Hours: v.Hours, NightTarget: v.NightTarget}, nil
}

// settingsError names the console's field (hours, night_target).
type settingsError struct {
	error
	field string
}

// FieldName is the JSON field at fault.
func (e settingsError) FieldName() string { return e.field }
