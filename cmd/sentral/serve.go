package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/sentralpbx/sentral/directory"
	dirhttp "github.com/sentralpbx/sentral/directory/httpapi"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/provisioning/adminapi"
	"github.com/sentralpbx/sentral/store/catalog"
)

// shutdownGrace bounds how long in-flight admin requests may finish.
const shutdownGrace = 5 * time.Second

func (a *app) serveCmd() *cobra.Command {
	var adminListen, sipListen, phonesListen, consoleListen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the switch (store, admin API, SIP registrar; media in later releases)",
		Long: `Run Sentral in the foreground until SIGINT or SIGTERM.

With no configuration it uses the embedded SQLite store ./var/sentral.db,
created and migrated on first start, the admin API on 127.0.0.1:8080,
SIP on udp:0.0.0.0:5060,tcp:0.0.0.0:5060 (--sip-listen '' runs without SIP)
desk-phone provisioning on 0.0.0.0:8081 (--phones-listen '' disables it)
and the softphone page on 0.0.0.0:8443 (--console-listen '' disables it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if adminListen != "" {
				a.cfg.Admin.Listen = adminListen
			}
			if cmd.Flags().Changed("phones-listen") {
				a.cfg.Phones.Listen = phonesListen
			}
			if cmd.Flags().Changed("console-listen") {
				a.cfg.Console.Listen = consoleListen
			}
			if cmd.Flags().Changed("sip-listen") {
				a.cfg.SIP.Listen = sipListen
				if err := a.cfg.Validate(); err != nil {
					return usageError{err}
				}
			}
			return a.serve(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&adminListen, "admin-listen", "", "admin HTTP API address (config admin.listen, default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&phonesListen, "phones-listen", "", "desk-phone provisioning address (config phones.listen, default 0.0.0.0:8081; '' disables)")
	cmd.Flags().StringVar(&consoleListen, "console-listen", "", "web listener for the softphone page (config console.listen, default 0.0.0.0:8443; '' disables)")
	cmd.Flags().StringVar(&sipListen, "sip-listen", "", `SIP listeners, e.g. udp:0.0.0.0:5060,tcp:0.0.0.0:5060,tls:0.0.0.0:5061,ws:0.0.0.0:8088; '' disables SIP (config sip.listen)`)
	return cmd
}

// serve owns every long-running part of the process: each runs in a
// goroutine under one context and serve returns only when all have stopped.
func (a *app) serve(ctx context.Context) error {
	log := a.log
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(a.cfg.Runtime.GCPercent)
	}
	st, err := a.store(ctx)
	if err != nil {
		return err
	}
	cat, err := catalog.Load(ctx, st, log.Named("catalog"))
	if err != nil {
		return err
	}
	dir := directory.New(st, log.Named("directory"))
	if err := dir.Load(ctx); err != nil {
		return err
	}
	dirSvc, err := newDirectoryServices(a.cfg, st, dir, log)
	if err != nil {
		return err
	}
	sipStack, err := newSIP(ctx, a.cfg, st, cat, dir, log)
	if err != nil {
		dirSvc.close()
		return err
	}
	if sipStack != nil {
		// A deleted, renumbered or disabled extension loses its
		// registrations now, not when they would have expired.
		cat.OnExtensionGone(sipStack.loc.RemoveAll)
	}
	rec := newAuditRecorder(a.cfg, st, log.Named("audit")) // serve_audit.go
	api := adminapi.New(st, cat, log.Named("admin")).WithAudit(rec)
	if sipStack != nil {
		api.WithSIPBans(sipStack.guard).WithTrunks(sipStack.trunks)
	}
	ln, err := net.Listen("tcp", a.cfg.Admin.Listen)
	if err != nil {
		if sipStack != nil {
			_ = sipStack.srv.Close()
		}
		dirSvc.close()
		return usageError{fmt.Errorf("admin.listen %s: %w (choose a free address with --admin-listen)", a.cfg.Admin.Listen, err)}
	}
	if ln, err = adminListener(ln, a.cfg.Admin, log.Named("admin")); err != nil { // HTTPS, mTLS: serve_admin_tls.go
		if sipStack != nil {
			_ = sipStack.srv.Close()
		}
		dirSvc.close()
		return err
	}
	adminMux := http.NewServeMux()
	adminMux.Handle("/", api.Handler())
	adminMux.Handle("GET "+dirhttp.APIPath, dirhttp.NewAPI(dir, log.Named("directory.api")))
	running := mountMetrics(adminMux, st, cat, sipStack, log.Named("metrics")) // GET /metrics, /readyz
	mountCluster(adminMux, sipStack)                                           // GET /api/v1/cluster/nodes
	srv := &http.Server{
		Handler:           adminMux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("admin.http")),
	}

	prov, provLn, err := newPhones(a.cfg, st, sipStack, dir, log.Named("phones"))
	if err != nil {
		_ = ln.Close()
		if sipStack != nil {
			_ = sipStack.srv.Close()
		}
		dirSvc.close()
		return err
	}

	web, err := newConsole(a.cfg, st, sipStack, dir, rec, log.Named("console"))
	if err != nil {
		_ = ln.Close()
		if provLn != nil {
			_ = provLn.Close()
		}
		if sipStack != nil {
			_ = sipStack.srv.Close()
		}
		dirSvc.close()
		return err
	}

	if sipStack != nil && sipStack.cluster != nil {
		// Other nodes' consoles link here when this node holds the queues.
		sipStack.cluster.SetConsoleURL(consoleURLOf(a.cfg, web, sipStack.cluster.SIPAddr()))
	}
	life := newLifecycle(ctx)
	if web != nil {
		life.start(stageApps, "console", untilShutdown(web.serve))
	}
	if prov != nil {
		life.start(stageApps, "phone provisioning", untilShutdown(func() error { return servePhones(prov, provLn, a.cfg.Phones) }))
	}
	life.start(stageState, "catalog", cat.Run)
	life.start(stageState, "directory", dir.Run)
	life.start(stageApps, "admin api", untilShutdown(func() error { return srv.Serve(ln) }))
	start := life.in(stageApps)
	if sipStack != nil {
		sipStack.run(life)
	}
	if web != nil && web.board != nil {
		if err := web.board.Load(ctx); err != nil {
			log.Error("console board", zap.Error(err))
		}
		start("console board", func(ctx context.Context) error { return web.board.Run(ctx, sipStack.hub) })
	}
	dirSvc.run(start)
	start("audit", rec.Run)
	running.Store(true)
	log.Info("sentral ready",
		zap.String("store", st.Backend()), zap.String("db", redactDSN(a.cfg.DB)),
		zap.String("admin", adminURL(ln, a.cfg.Admin)), zap.Strings("sip", sipAddrs(sipStack)),
		zap.String("phones", phonesURL(provLn, a.cfg.Phones)), zap.String("console", web.URL()), zap.String("ldap", dirSvc.addr()))

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-life.errs:
		log.Error("component failed, shutting down", zap.Error(runErr))
	}
	running.Store(false) // /readyz: load balancers stop sending work
	if sipStack != nil && runErr == nil {
		sipStack.drain(a.cfg.Runtime.DrainTimeout)
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("admin api shutdown", zap.Error(err))
	}
	if prov != nil {
		if err := prov.Shutdown(sctx); err != nil {
			log.Warn("phone provisioning shutdown", zap.Error(err))
		}
	}
	if web != nil {
		if err := web.srv.Shutdown(sctx); err != nil {
			log.Warn("console shutdown", zap.Error(err))
		}
	}
	life.stop(nil)
	log.Info("stopped")
	return runErr
}

// untilShutdown runs an HTTP server's Serve as a lifecycle part: serve
// stops it with Shutdown, which is no failure.
func untilShutdown(serve func() error) func(context.Context) error {
	return func(context.Context) error {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
