package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

// Exit codes: 0 success, 1 the user's input was refused, 2 something broke.
const (
	exitOK       = 0
	exitUser     = 1
	exitInternal = 2
)

// app is the state one invocation of the binary shares between commands:
// global flags, configuration and the lazily opened store.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string

	configPath string
	dbFlag     string
	logFormat  string
	logLevel   string
	output     string

	cfg Config
	log *zap.Logger
	st  store.Store
}

// usageError marks errors in how a command was called (exit code 1).
type usageError struct{ error }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ, log: zap.NewNop()}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	a.auditCommand(ctx, cmd, err) // cli_audit.go
	if a.st != nil {
		if cerr := a.st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	_ = a.log.Sync()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || provisioning.IsUserError(err) {
		return exitUser
	}
	return exitInternal
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "sentral",
		Short:         "Sentral: IP telephony switch for municipalities",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "configuration file (sentral.yaml); env SENTRAL_CONFIG")
	pf.StringVar(&a.dbFlag, "db", "", "store: SQLite file path or postgres:// URL; env SENTRAL_DB (default ./var/sentral.db)")
	pf.StringVar(&a.logFormat, "log-format", "", "log encoding: auto, console or json; env SENTRAL_LOG_FORMAT")
	pf.StringVar(&a.logLevel, "log-level", "", "log level: debug, info, warn, error; env SENTRAL_LOG_LEVEL")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(a.serveCmd())
	a.addAdminCommands(root)
	return root
}

// setup loads the configuration and builds the logger; it runs before every command.
func (a *app) setup(cmd *cobra.Command) error {
	path := a.configPath
	if path == "" {
		path = envMap(a.environ)["SENTRAL_CONFIG"]
	}
	cfg, err := LoadConfig(path, a.environ)
	if err != nil {
		return usageError{err}
	}
	if a.dbFlag != "" {
		cfg.DB = a.dbFlag
	}
	if a.logFormat != "" {
		cfg.Log.Format = a.logFormat
	}
	if a.logLevel != "" {
		cfg.Log.Level = a.logLevel
	} else if _, set := envMap(a.environ)["SENTRAL_LOG_LEVEL"]; !set && cmd.Name() != "serve" && cfg.Log.Level == DefaultConfig().Log.Level {
		// An admin command's output is for a person or a script; the server's
		// routine info lines (such as a migration) would only clutter it.
		cfg.Log.Level = "warn"
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	a.cfg = cfg
	log, err := newLogger(cfg.Log, a.stderr)
	if err != nil {
		return usageError{err}
	}
	a.log = log
	return nil
}

// store opens the configured store once per invocation.
func (a *app) store(ctx context.Context) (store.Store, error) {
	if a.st != nil {
		return a.st, nil
	}
	st, err := backend.Open(ctx, a.cfg.DB, backend.Options{Logger: a.log, PollInterval: a.cfg.Changes.PollInterval})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.st = st
	return st, nil
}

// provisioner gives the admin use cases over the configured store.
func (a *app) provisioner(ctx context.Context) (*provisioning.Service, error) {
	st, err := a.store(ctx)
	if err != nil {
		return nil, err
	}
	return provisioning.New(st, provisioning.Policies{Password: a.cfg.Security.Password, PIN: a.cfg.Security.PIN}), nil
}

func newLogger(c LogConfig, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	format := c.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "console"
		}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)), nil
}

// joinNonEmpty is a helper for human-readable lists.
func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
