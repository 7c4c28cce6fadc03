package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sentralpbx/sentral/cluster"
	"github.com/sentralpbx/sentral/provisioning"
)

// Config is sentral.yaml. Every key can also be set from the environment as
// SENTRAL_ + the key path in upper case with dots as underscores (for
// example SENTRAL_ADMIN_LISTEN), and the most used ones by flags. Flags beat
// the environment, which beats the file, which beats the defaults.
type Config struct {
	// DB is a SQLite file path or a postgres:// URL.
	DB  string    `yaml:"db"`
	Log LogConfig `yaml:"log"`
	// Admin is the admin HTTP API (health, read API); it listens on loopback by default.
	Admin     AdminConfig     `yaml:"admin"`
	Changes   ChangesConfig   `yaml:"changes"`
	Security  SecurityConfig  `yaml:"security"`
	SIP       SIPConfig       `yaml:"sip"`
	Phones    PhonesConfig    `yaml:"phones"`
	Media     MediaConfig     `yaml:"media"`
	Console   ConsoleConfig   `yaml:"console"`
	WebRTC    WebRTCConfig    `yaml:"webrtc"`
	Directory DirectoryConfig `yaml:"directory"`
	Billing   BillingConfig   `yaml:"billing"`
	Audit     AuditConfig     `yaml:"audit"` // serve_audit.go
	Runtime   RuntimeConfig   `yaml:"runtime"`
	Cluster   ClusterConfig   `yaml:"cluster"` // serve_cluster.go
}

// DirectoryConfig is the phone book for devices beyond the XML phone books
// on the phones listener.
type DirectoryConfig struct {
	// LDAPListen is host:port of the read-only LDAP phone book ("" off).
	LDAPListen string `yaml:"ldap_listen"`
	// LDAPTLSCert and LDAPTLSKey (PEM) enable StartTLS on it.
	LDAPTLSCert string `yaml:"ldap_tls_cert"`
	LDAPTLSKey  string `yaml:"ldap_tls_key"`
}

// BillingConfig is the rating of call records.
type BillingConfig struct {
	// RateInterval is how often finished calls are priced.
	RateInterval time.Duration `yaml:"rate_interval"`
}

// ConsoleConfig is the web listener for people: the softphone page (and
// the operators' console).
type ConsoleConfig struct {
	// Listen is host:port; "" disables it. On a loopback address it serves
	// plain HTTP (browsers treat localhost as secure); elsewhere HTTPS.
	Listen  string `yaml:"listen"`
	TLSCert string `yaml:"tls_cert"` // PEM; empty: sip.tls's, or a generated self-signed one
	TLSKey  string `yaml:"tls_key"`
}

// WebRTCConfig is the media gateway between browsers and phones.
type WebRTCConfig struct {
	// PublicIP is put into the gateway's ICE candidates when Sentral sits
	// behind 1:1 NAT; empty: the host's own addresses.
	PublicIP string `yaml:"public_ip"`
	// UDPPorts bounds the gateway's ICE ports ("20000-29999"); empty: any.
	UDPPorts string `yaml:"udp_ports"`
	// STUN and TURN are given to browsers ("stun:stun.example.org:3478",
	// "turn:turn.example.org:3478?transport=udp"); TURN needs the user and
	// password of the TURN server (coturn).
	STUN         string `yaml:"stun"`
	TURN         string `yaml:"turn"`
	TURNUser     string `yaml:"turn_user"`
	TURNPassword string `yaml:"turn_password"`
	// OfferSDES makes calls from browsers to desk phones offer SRTP with
	// SDES keys as best effort (RTP/AVP with a=crypto, RFC 4568): phones
	// that support it encrypt, the others answer plain RTP.
	OfferSDES bool `yaml:"offer_sdes"`
}

// MediaConfig is the media server: voicemail and announcements.
type MediaConfig struct {
	// RTPPorts is the UDP port range RTP uses ("10000-20000"): an even
	// port per call, RTCP on the odd one above it.
	RTPPorts string `yaml:"rtp_ports"`
	// Address is where phones send RTP, comma-separated, one address per
	// family ("192.0.2.10,2001:db8::10"). Empty: the SIP listeners' own
	// addresses, or sip.advertise for listeners bound to all addresses.
	Address string `yaml:"address"`
	// VoicemailDir holds the messages and greetings. Empty: "voicemail"
	// beside the SQLite file, or ./var/voicemail with PostgreSQL.
	VoicemailDir string `yaml:"voicemail_dir"`
	// MaxMessageSeconds bounds one voicemail message (10 to 600).
	MaxMessageSeconds int `yaml:"max_message_seconds"`
	// Enabled turns the media server off when false: no voicemail, and
	// feature codes cannot be confirmed.
	Enabled bool `yaml:"enabled"`
}

// PhonesConfig is the desk-phone auto-provisioning listener (HTTP, or
// HTTPS with a certificate): per-MAC configuration files.
type PhonesConfig struct {
	Listen       string `yaml:"listen"`        // "" disables provisioning
	TLSCert      string `yaml:"tls_cert"`      // PEM; with tls_key, serve HTTPS
	TLSKey       string `yaml:"tls_key"`       // PEM
	SIPServer    string `yaml:"sip_server"`    // host phones register at; "" = sip.advertise or this host's address
	PhonebookURL string `yaml:"phonebook_url"` // phone book for the phones; {tenant}, {domain}, {vendor}, {mac} are filled in
	TimeZone     string `yaml:"time_zone"`     // IANA zone written into the files
}

// LogConfig chooses the log encoder and level.
type LogConfig struct {
	Format string `yaml:"format"` // auto (console on a terminal, JSON otherwise), console, json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// AdminConfig is the admin HTTP listener.
type AdminConfig struct {
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey (PEM) make it HTTPS; ClientCA (PEM bundle) then
	// requires client certificates it signed (mutual TLS). See
	// serve_admin_tls.go.
	TLSCert  string `yaml:"tls_cert"`
	TLSKey   string `yaml:"tls_key"`
	ClientCA string `yaml:"client_ca"`
}

// ChangesConfig tunes how a running server follows changes made by others.
type ChangesConfig struct {
	// PollInterval is how often the SQLite change log is polled. PostgreSQL
	// pushes changes with LISTEN/NOTIFY and polls once a second as a safety net.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// RuntimeConfig tunes the Go runtime for serve.
type RuntimeConfig struct {
	// GCPercent is the garbage collector's target (Go's GOGC). Sentral's
	// heap is small (catalog, bindings, calls in progress), so letting it
	// grow further between collections buys CPU for signalling bursts at
	// little memory cost. An explicit GOGC in the environment wins.
	GCPercent int `yaml:"gc_percent"`
	// DrainTimeout is how long a stopping node lets calls in progress
	// finish after it stopped taking new ones (calls still up then are
	// ended in the records). A second SIGTERM skips the wait.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// SecurityConfig holds credential policies.
type SecurityConfig struct {
	Password provisioning.PasswordPolicy `yaml:"password"`
	PIN      provisioning.PINPolicy      `yaml:"pin"`
}

// SIPConfig is the SIP front end: transports, registrar and abuse guard.
type SIPConfig struct {
	// Listen is a comma-separated list of transport:ip:port
	// (udp, tcp, tls, ws, wss); empty disables SIP.
	Listen string `yaml:"listen"`
	// Advertise is the host the proxy puts in Via and Record-Route when a
	// listener is bound to all addresses; empty: the address of the
	// interface that routes outwards.
	Advertise       string             `yaml:"advertise"`
	MaxMessageBytes int                `yaml:"max_message_bytes"`
	TLS             SIPTLSConfig       `yaml:"tls"`
	Registrar       SIPRegistrarConfig `yaml:"registrar"`
	Guard           SIPGuardConfig     `yaml:"guard"`
}

// SIPTLSConfig names the certificate for tls and wss listeners.
type SIPTLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// SIPRegistrarConfig bounds registration lifetimes, in seconds.
type SIPRegistrarConfig struct {
	MinExpires     int `yaml:"min_expires"`
	MaxExpires     int `yaml:"max_expires"`
	DefaultExpires int `yaml:"default_expires"`
	// DigestAlgorithms orders the digest challenges offered (SHA-256, MD5).
	DigestAlgorithms string `yaml:"digest_algorithms"`
}

// SIPGuardConfig tunes the per-source ban and rate limit.
type SIPGuardConfig struct {
	MaxFailures int           `yaml:"max_failures"`
	Window      time.Duration `yaml:"window"`
	BanFor      time.Duration `yaml:"ban_for"`
	Rate        int           `yaml:"rate"`
	Burst       int           `yaml:"burst"`
	// Exempt is a comma-separated list of CIDR prefixes never banned.
	Exempt string `yaml:"exempt"`
}

// DefaultConfig is what Sentral runs with when nothing is configured.
func DefaultConfig() Config {
	return Config{
		DB:       "./var/sentral.db",
		Log:      LogConfig{Format: "auto", Level: "info"},
		Admin:    AdminConfig{Listen: "127.0.0.1:8080"},
		Changes:  ChangesConfig{PollInterval: 250 * time.Millisecond},
		Security: SecurityConfig{Password: provisioning.DefaultPasswordPolicy(), PIN: provisioning.DefaultPINPolicy()},
		Runtime:  RuntimeConfig{GCPercent: 400, DrainTimeout: time.Minute},
		Cluster: ClusterConfig{Heartbeat: cluster.DefaultHeartbeat, DeadAfter: cluster.DefaultDeadAfter,
			OrphanAfter: DefaultOrphanAfter},
		Phones:  PhonesConfig{Listen: "0.0.0.0:8081", TimeZone: "Europe/Oslo"},
		Media:   MediaConfig{RTPPorts: "10000-20000", MaxMessageSeconds: 120, Enabled: true},
		Console: ConsoleConfig{Listen: "0.0.0.0:8443"},
		Billing: BillingConfig{RateInterval: time.Minute},
		Audit:   AuditConfig{RetentionDays: DefaultAuditRetentionDays},
		SIP: SIPConfig{
			Listen:          "udp:0.0.0.0:5060,tcp:0.0.0.0:5060",
			MaxMessageBytes: 65535,
			Registrar:       SIPRegistrarConfig{MinExpires: 60, MaxExpires: 3600, DefaultExpires: 3600, DigestAlgorithms: "SHA-256,MD5"},
			Guard:           SIPGuardConfig{MaxFailures: 5, Window: time.Minute, BanFor: 15 * time.Minute, Rate: 50, Burst: 100},
		},
	}
}

// LoadConfig reads path (if not empty) over the defaults, then applies the
// environment. Unknown keys are refused so a typo cannot go unnoticed.
func LoadConfig(path string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "SENTRAL", envMap(environ)); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate checks values the types alone do not.
func (c Config) Validate() error {
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	if c.Runtime.GCPercent < 25 || c.Runtime.GCPercent > 2000 {
		return fmt.Errorf("config runtime.gc_percent %d: use 25 to 2000 (100 is Go's default)", c.Runtime.GCPercent)
	}
	if c.Runtime.DrainTimeout < 0 || c.Runtime.DrainTimeout > time.Hour {
		return fmt.Errorf("config runtime.drain_timeout %s: use 0s (stop at once) to 1h", c.Runtime.DrainTimeout)
	}
	switch c.Log.Format {
	case "auto", "console", "json":
	default:
		return fmt.Errorf("config log.format %q: use auto, console or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config log.level %q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Changes.PollInterval <= 0 || c.Changes.PollInterval > time.Second {
		return fmt.Errorf("config changes.poll_interval %s: use a duration above 0 and at most 1s", c.Changes.PollInterval)
	}
	if err := c.Security.Password.Validate(); err != nil {
		return fmt.Errorf("config security.password: %w", err)
	}
	if err := c.Security.PIN.Validate(); err != nil {
		return fmt.Errorf("config security.pin: %w", err)
	}
	if err := c.SIP.Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if err := c.Admin.Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if (c.Phones.TLSCert == "") != (c.Phones.TLSKey == "") {
		return fmt.Errorf("config phones.tls_cert and phones.tls_key: give both (HTTPS) or neither (HTTP)")
	}
	if err := c.Media.Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if (c.Console.TLSCert == "") != (c.Console.TLSKey == "") {
		return fmt.Errorf("config console.tls_cert and console.tls_key: give both, or neither (then sip.tls's or a generated certificate)")
	}
	if (c.Directory.LDAPTLSCert == "") != (c.Directory.LDAPTLSKey == "") {
		return fmt.Errorf("config directory.ldap_tls_cert and directory.ldap_tls_key: give both (StartTLS) or neither")
	}
	if c.Billing.RateInterval < time.Second || c.Billing.RateInterval > 24*time.Hour {
		return fmt.Errorf("config billing.rate_interval %s: use 1s to 24h, e.g. 1m", c.Billing.RateInterval)
	}
	if err := c.Audit.Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if c.WebRTC.UDPPorts != "" {
		if _, _, err := portRange(c.WebRTC.UDPPorts); err != nil {
			return fmt.Errorf("config webrtc.udp_ports %q: %w", c.WebRTC.UDPPorts, err)
		}
	}
	if c.WebRTC.PublicIP != "" {
		if _, err := netip.ParseAddr(c.WebRTC.PublicIP); err != nil {
			return fmt.Errorf("config webrtc.public_ip %q: give an IP address", c.WebRTC.PublicIP)
		}
	}
	return nil
}

// portRange parses "first-last".
func portRange(s string) (first, last int, err error) {
	a, b, ok := strings.Cut(s, "-")
	first, errA := strconv.Atoi(strings.TrimSpace(a))
	last, errB := strconv.Atoi(strings.TrimSpace(b))
	if !ok || errA != nil || errB != nil || first < 1024 || last > 65535 || last < first {
		return 0, 0, fmt.Errorf("give a range such as 20000-29999 (1024 to 65535)")
	}
	return first, last, nil
}

// Validate checks the media settings.
func (m MediaConfig) Validate() error {
	if _, _, err := m.Ports(); err != nil {
		return err
	}
	if m.MaxMessageSeconds < 10 || m.MaxMessageSeconds > 600 {
		return fmt.Errorf("media.max_message_seconds %d: use 10 to 600", m.MaxMessageSeconds)
	}
	for _, a := range m.Addresses() {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("media.address %q: give IP addresses, comma-separated (one per family)", a)
		}
	}
	return nil
}

// Ports parses RTPPorts.
func (m MediaConfig) Ports() (first, last int, err error) {
	first, last, err = portRange(m.RTPPorts)
	if err != nil || last-first < 3 {
		return 0, 0, fmt.Errorf("media.rtp_ports %q: give a range such as 10000-20000 (1024 to 65535, at least 4 ports)", m.RTPPorts)
	}
	return first, last, nil
}

// Addresses lists Address's entries.
func (m MediaConfig) Addresses() []string {
	var out []string
	for _, a := range strings.Split(m.Address, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// KeyPaths lists every configuration key as a dotted path (log.format).
func KeyPaths() []string {
	var paths []string
	walkKeys(reflect.TypeOf(Config{}), "", func(path string) { paths = append(paths, path) })
	return paths
}

// EnvName is the environment variable that sets a key path.
func EnvName(path string) string {
	return "SENTRAL_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "SENTRAL_") {
			m[k] = v
		}
	}
	return m
}

func envName(prefix string, f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return prefix + "_" + strings.ToUpper(tag)
}

func walkKeys(t reflect.Type, prefix string, visit func(string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		if f.Type.Kind() == reflect.Struct {
			walkKeys(f.Type, path, visit)
			continue
		}
		visit(path)
	}
}

func applyEnv(v reflect.Value, prefix string, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := envName(prefix, f)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		raw, ok := env[name]
		if !ok {
			continue
		}
		if err := setScalar(fv, raw); err != nil {
			return fmt.Errorf("environment %s=%q: %w", name, raw, err)
		}
	}
	return nil
}

func setScalar(fv reflect.Value, raw string) error {
	if fv.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("want a duration such as 250ms: %w", err)
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number: %w", err)
		}
		fv.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false: %w", err)
		}
		fv.SetBool(b)
	default:
		return fmt.Errorf("unsupported setting type %s", fv.Type())
	}
	return nil
}
