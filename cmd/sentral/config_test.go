package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestExampleConfigIsTheDefaults(t *testing.T) {
	cfg, err := LoadConfig("../../configs/sentral.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("configs/sentral.yaml differs from DefaultConfig:\nfile:     %+v\ndefaults: %+v", cfg, DefaultConfig())
	}
}

// Every key must be documented in the example file: a key missing there is
// one an operator cannot discover.
func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	raw, err := os.ReadFile("../../configs/sentral.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range KeyPaths() {
		var node any = doc
		for _, seg := range strings.Split(path, ".") {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node = m[seg]
		}
		if node == nil {
			t.Errorf("key %s (env %s) is not in configs/sentral.yaml", path, EnvName(path))
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte("db: /from/file.db\nadmin:\n  listen: 127.0.0.1:9001\nchanges:\n  poll_interval: 500ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path, []string{"SENTRAL_DB=/from/env.db", "SENTRAL_SECURITY_PASSWORD_MIN_LENGTH=12", "OTHER=x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "/from/env.db" {
		t.Errorf("env should beat file: db = %q", cfg.DB)
	}
	if cfg.Admin.Listen != "127.0.0.1:9001" {
		t.Errorf("file should beat default: admin.listen = %q", cfg.Admin.Listen)
	}
	if cfg.Changes.PollInterval != 500*time.Millisecond {
		t.Errorf("poll_interval = %s", cfg.Changes.PollInterval)
	}
	if cfg.Security.Password.MinLength != 12 {
		t.Errorf("nested env: min_length = %d", cfg.Security.Password.MinLength)
	}
}

func TestConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "dbb: x\n", nil, "dbb"},
		{"bad format", "log:\n  format: xml\n", nil, "log.format"},
		{"bad level", "", []string{"SENTRAL_LOG_LEVEL=loud"}, "log.level"},
		{"bad duration", "", []string{"SENTRAL_CHANGES_POLL_INTERVAL=soon"}, "SENTRAL_CHANGES_POLL_INTERVAL"},
		{"poll too slow", "changes:\n  poll_interval: 5s\n", nil, "poll_interval"},
		{"weak policy", "", []string{"SENTRAL_SECURITY_PASSWORD_MIN_LENGTH=4"}, "security.password"},
		{"not a number", "", []string{"SENTRAL_SECURITY_PIN_MIN_LENGTH=four"}, "SENTRAL_SECURITY_PIN_MIN_LENGTH"},
		{"drain too long", "", []string{"SENTRAL_RUNTIME_DRAIN_TIMEOUT=2h"}, "runtime.drain_timeout"},
		{"bad node name", "cluster:\n  node: 'a b'\n", nil, "cluster.node"},
		{"dead before two heartbeats", "cluster:\n  heartbeat: 1s\n  dead_after: 1s\n", nil, "cluster.dead_after"},
		{"orphans before dead", "", []string{"SENTRAL_CLUSTER_ORPHAN_AFTER=1s"}, "cluster.orphan_after"},
		{"unspecified sip address", "", []string{"SENTRAL_CLUSTER_SIP_ADDRESS=0.0.0.0:5060"}, "cluster.sip_address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadConfig(path, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil {
		t.Fatal("a missing config file named explicitly must be an error")
	}
}

func TestRedactDSN(t *testing.T) {
	got := redactDSN("postgres://sentral:hemmelig@db:5432/sentral")
	if strings.Contains(got, "hemmelig") {
		t.Errorf("password leaked: %s", got)
	}
	if redactDSN("./var/sentral.db") != "./var/sentral.db" {
		t.Error("a path must pass unchanged")
	}
}
