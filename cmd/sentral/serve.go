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
	"sync"
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
	api := adminapi.New(st, cat, log.Named("admin"))
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
	adminMux := http.NewServeMux()
	adminMux.Handle("/", api.Handler())
	adminMux.Handle("GET "+dirhttp.APIPath, dirhttp.NewAPI(dir, log.Named("directory.api")))
	running := mountMetrics(adminMux, st, cat, sipStack, log.Named("metrics")) // GET /metrics, /readyz
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

	web, err := newConsole(a.cfg, st, sipStack, dir, log.Named("console"))
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

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	if web != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := web.serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("console: %w", err)
			}
		}()
	}
	if prov != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := servePhones(prov, provLn, a.cfg.Phones); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("phone provisioning: %w", err)
			}
		}()
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := cat.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs <- fmt.Errorf("catalog: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := dir.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs <- fmt.Errorf("directory: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("admin api: %w", err)
		}
	}()
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if sipStack != nil {
		sipStack.run(start)
	}
	if web != nil && web.board != nil {
		if err := web.board.Load(ctx); err != nil {
			log.Error("console board", zap.Error(err))
		}
		start("console board", func(ctx context.Context) error { return web.board.Run(ctx, sipStack.hub) })
	}
	dirSvc.run(start)
	running.Store(true)
	log.Info("sentral ready",
		zap.String("store", st.Backend()), zap.String("db", redactDSN(a.cfg.DB)),
		zap.String("admin", "http://"+ln.Addr().String()), zap.Strings("sip", sipAddrs(sipStack)),
		zap.String("phones", phonesURL(provLn, a.cfg.Phones)), zap.String("console", web.URL()), zap.String("ldap", dirSvc.addr()))

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errs:
		log.Error("component failed, shutting down", zap.Error(runErr))
	}
	running.Store(false)
	cancel()
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
	wg.Wait()
	log.Info("stopped")
	return runErr
}
