package phones

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// PathPrefix is where the handler serves files: mount it with
// mux.Handle(phones.PathPrefix, h).
const PathPrefix = "/prov/"

// Options configure a Handler. Only SIPServer usually needs setting.
type Options struct {
	// SIPServer is the host name or IP address phones send SIP to, written
	// as the outbound proxy of every line. Empty: none, and phones resolve
	// the tenant's domain (DNS SRV/A) themselves.
	SIPServer string
	// SIPPort is the SIP port; default 5060, or 5061 with tls.
	SIPPort int
	// Transport is udp (default), tcp or tls.
	Transport string
	// PhonebookURL is the phone book phones open from their directory key;
	// {tenant}, {domain}, {vendor} (yealink, snom, generic) and {mac} are
	// replaced. Sentral's own (see PhonebookAuth) needs the MAC to know
	// whose credentials to check:
	// https://pbx.example/phonebook/{tenant}/{vendor}.xml?mac={mac}. Each
	// phone is given its own credentials for it (Yealink as settings, Snom
	// in the URL), so it must be a server trusted with them.
	// Empty: no phone book settings.
	PhonebookURL string
	// PhonebookName is the phone book's name on Yealink screens; default
	// "Telefonkatalog".
	PhonebookName string
	// TimeZone is an IANA zone name; default Europe/Oslo, the only one
	// with a vendor mapping so far (see zones).
	TimeZone string
	// Algorithms are the digest algorithms challenged with, in preference
	// order; default SHA-256, MD5. Many phones answer only the first
	// challenge they see: put MD5 first (or alone) for firmware that
	// cannot do SHA-256.
	Algorithms []string
	// NonceKey keys the nonce MAC. Nodes behind one load balancer must
	// share it, or a phone answering node B with node A's nonce is
	// challenged again forever. Nil: random, private to this handler.
	NonceKey []byte
	// NonceTTL is how long a nonce is accepted; default 5 minutes. A
	// correct answer with an older nonce gets a new challenge marked
	// stale=true, which phones answer without a new password.
	NonceTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives one line per request (info: served, refused, unknown
	// MAC; debug: vendor-wide files we do not serve). Nil: no logging.
	Log *zap.Logger
}

// Handler serves phone configuration files under PathPrefix (see
// NewHandler for the file names). It is safe for concurrent use.
type Handler struct {
	src  Source
	opts Options
	zone zone
	dig  *digester
	log  *zap.Logger
	mux  *http.ServeMux
}

// NewHandler checks opts, fills in the defaults and returns a handler
// reading devices from src. It serves GET and HEAD of:
//
//	/prov/{mac}.cfg                  Yealink
//	/prov/{mac}.xml                  Snom (setting_server .../{mac}.xml)
//	/prov/snom{model}-{mac}.htm|xml  Snom (setting_server pointing at /prov/)
//	/prov/{mac}.txt                  generic key=value, any model
//
// The MAC may be in either case and carry ':', '-' or '.' separators.
// Vendor-wide files phones ask for first (Yealink y000000000000.cfg and
// *.boot, Snom snom{model}.htm|xml) get 404: everything is in the
// per-phone file. A file of the wrong vendor for the device's model gets
// 404 too (after authentication).
func NewHandler(src Source, opts Options) (*Handler, error) {
	if src == nil {
		return nil, errors.New("phones: no device source")
	}
	o := opts
	o.Transport = strings.ToLower(strings.TrimSpace(o.Transport))
	if o.Transport == "" {
		o.Transport = "udp"
	}
	if _, ok := yealinkTransport[o.Transport]; !ok {
		return nil, fmt.Errorf("phones: transport %q: use udp, tcp or tls", opts.Transport)
	}
	if o.SIPPort == 0 {
		o.SIPPort = 5060
		if o.Transport == "tls" {
			o.SIPPort = 5061
		}
	}
	if o.SIPPort < 1 || o.SIPPort > 65535 {
		return nil, fmt.Errorf("phones: SIP port %d is not 1 to 65535", o.SIPPort)
	}
	o.SIPServer = strings.TrimSpace(o.SIPServer)
	if o.SIPServer != "" && !validHost(o.SIPServer) {
		return nil, fmt.Errorf("phones: SIP server %q is not a host name or IP address", o.SIPServer)
	}
	if o.PhonebookURL != "" {
		if err := checkPhonebookURL(o.PhonebookURL); err != nil {
			return nil, err
		}
	}
	if o.PhonebookName == "" {
		o.PhonebookName = "Telefonkatalog"
	}
	if o.TimeZone == "" {
		o.TimeZone = DefaultTimeZone
	}
	z, ok := zones[o.TimeZone]
	if !ok {
		return nil, fmt.Errorf("phones: time zone %q has no mapping to phone settings (known: %s)", o.TimeZone, knownZones())
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = []string{AlgorithmSHA256, AlgorithmMD5}
	}
	algs := make([]string, 0, len(o.Algorithms))
	for _, a := range o.Algorithms {
		switch {
		case strings.EqualFold(a, AlgorithmSHA256):
			algs = append(algs, AlgorithmSHA256)
		case strings.EqualFold(a, AlgorithmMD5):
			algs = append(algs, AlgorithmMD5)
		default:
			return nil, fmt.Errorf("phones: digest algorithm %q: use %s or %s", a, AlgorithmSHA256, AlgorithmMD5)
		}
	}
	o.Algorithms = algs
	if o.NonceTTL <= 0 {
		o.NonceTTL = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	key := append([]byte(nil), o.NonceKey...) // a copy: the caller cannot change it under us
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	o.NonceKey = nil
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	h := &Handler{
		src:  src,
		opts: o,
		zone: z,
		dig:  &digester{key: key, ttl: o.NonceTTL, now: o.Now, algorithms: algs, random: func(b []byte) { rand.Read(b) }},
		log:  o.Log,
		mux:  http.NewServeMux(),
	}
	h.mux.HandleFunc("GET "+PathPrefix+"{file}", h.serveFile)
	return h, nil
}

// ServeHTTP serves one file request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer, including 401 and 404, is about one phone at one
	// moment: nothing may be cached on the way.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	// Both come from whoever asks: bound what they can put in the log.
	log := h.log.With(zap.String("src", r.RemoteAddr), zap.String("file", truncate(name, 100)),
		zap.String("user_agent", truncate(r.UserAgent(), 200)))
	req, ok := parseFileName(name)
	if !ok {
		log.Info("phone provisioning: not a file name we serve")
		http.NotFound(w, r)
		return
	}
	if req.mac == "" {
		log.Debug("phone provisioning: vendor-wide file not served (all settings are in the per-phone file)")
		http.NotFound(w, r)
		return
	}
	d, log, ok := h.authorize(w, r, req.mac, "phone provisioning", log)
	if !ok {
		return
	}
	vendor := VendorOf(d.Model)
	if req.format != VendorGeneric && req.format != vendor {
		log.Info("phone provisioning: file format does not match the device's model",
			zap.String("format", string(req.format)), zap.String("vendor", string(vendor)))
		http.NotFound(w, r)
		return
	}
	body, err := h.render(d, req.format)
	if err != nil {
		log.Error("phone provisioning: render failed", zap.Error(err))
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentTypes[req.format])
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	log.Info("phone provisioning: file served", zap.String("format", string(req.format)), zap.Int("lines", len(d.Lines)))
}

// authorize finds the device with mac and checks that the request carries
// its credentials. It is the one gate of everything a phone fetches (its
// file, its phone book), so that all of them refuse alike: a store failure
// is 500, an unknown MAC 404 without a challenge (there are no credentials
// a phone could answer it with), wrong or missing credentials 401 with
// fresh challenges. On refusal it has answered the request and returns
// false. The logger it returns names the device; what starts every message
// ("phone provisioning", "phone book").
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, mac, what string, log *zap.Logger) (Device, *zap.Logger, bool) {
	log = log.With(zap.String("mac", mac))
	d, found, err := h.src.DeviceByMAC(r.Context(), mac)
	if err != nil {
		log.Error(what+": device lookup failed", zap.Error(err))
		http.Error(w, "device lookup failed", http.StatusInternalServerError)
		return Device{}, log, false
	}
	if !found {
		log.Info(what + ": unknown MAC")
		http.NotFound(w, r)
		return Device{}, log, false
	}
	log = log.With(zap.String("tenant", d.Tenant), zap.String("model", d.Model))
	realm := d.Domain
	if realm == "" {
		realm = "sentral"
	}
	if reason, stale := h.authenticate(r, d, realm); reason != "" {
		switch reason {
		case reasonNoCredentials, reasonStale:
			// Every fetch starts so, and a stale nonce is answered
			// without anyone's help: routine, not news.
			log.Debug(what+": challenging", zap.String("reason", reason))
		default:
			// The claimed username is not secret; the response digest and
			// the password are never logged.
			log.Info(what+": authentication failed",
				zap.String("reason", reason), zap.String("user", claimedUser(r)))
		}
		for _, c := range h.dig.challenges(realm, d.MAC, stale) {
			w.Header().Add("WWW-Authenticate", c)
		}
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return Device{}, log, false
	}
	return d, log, true
}

// authenticate returns "" for a request carrying the device's credentials,
// otherwise why not and whether the challenge should say stale=true.
func (h *Handler) authenticate(r *http.Request, d Device, realm string) (reason string, stale bool) {
	hdr := r.Header.Get("Authorization")
	if hdr == "" {
		return reasonNoCredentials, false
	}
	c, err := parseAuthorization(hdr)
	if err != nil {
		return err.Error(), false
	}
	return h.dig.verify(c, r.Method, r.RequestURI, d, realm)
}

// claimedUser is the username of a parseable Authorization header, for logs.
func claimedUser(r *http.Request) string {
	c, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return ""
	}
	return truncate(c.Username, 64)
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fileRequest is what a requested file name asks for. mac is "" for a
// vendor-wide file.
type fileRequest struct {
	format Vendor
	mac    string
}

var yealinkCommon = regexp.MustCompile(`^y\d{12}$`)

// parseFileName reads a file name phones ask for (see NewHandler).
func parseFileName(name string) (fileRequest, bool) {
	ext := strings.ToLower(path.Ext(name))
	base := strings.TrimSuffix(name, name[len(name)-len(ext):])
	lower := strings.ToLower(base)
	switch ext {
	case ".boot":
		// Yealink boot files list the cfg files to fetch; without one the
		// phone falls back to y000000000000.cfg and {mac}.cfg.
		return fileRequest{format: VendorYealink}, true
	case ".cfg":
		if yealinkCommon.MatchString(lower) {
			return fileRequest{format: VendorYealink}, true
		}
		mac, ok := normalizeMAC(base)
		return fileRequest{VendorYealink, mac}, ok
	case ".xml", ".htm":
		if rest, ok := strings.CutPrefix(lower, "snom"); ok {
			i := strings.IndexByte(rest, '-') // Snom model names have no hyphen; MACs may
			if i < 0 {
				return fileRequest{format: VendorSnom}, true // snom{model}.htm: vendor-wide
			}
			mac, ok := normalizeMAC(rest[i+1:])
			return fileRequest{VendorSnom, mac}, ok
		}
		if ext == ".htm" {
			return fileRequest{}, false
		}
		mac, ok := normalizeMAC(base)
		return fileRequest{VendorSnom, mac}, ok
	case ".txt":
		mac, ok := normalizeMAC(base)
		return fileRequest{VendorGeneric, mac}, ok
	}
	return fileRequest{}, false
}

// normalizeMAC returns s as 12 lower-case hex digits, dropping ':', '-'
// and '.' separators, or false.
func normalizeMAC(s string) (string, bool) {
	var b [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == '.':
			continue
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", false
		}
		if n == len(b) {
			return "", false
		}
		b[n] = c
		n++
	}
	return string(b[:n]), n == len(b)
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// validHost reports whether s is a DNS name or an IP address (no port):
// it is written unquoted into every file.
func validHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return !strings.Contains(s, "%")
	}
	return len(s) <= 253 && hostRE.MatchString(s)
}

// checkPhonebookURL refuses a phone book URL that is not an absolute
// http(s) URL once its placeholders are filled.
func checkPhonebookURL(s string) error {
	filled := phonebookURL(s, Device{Tenant: "t", Domain: "d.example", MAC: "000000000000"}, VendorGeneric)
	u, err := url.Parse(filled)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(filled, " \t\r\n{}") {
		return fmt.Errorf("phones: phone book URL %q is not an http(s) URL with only {tenant}, {domain}, {vendor} and {mac} placeholders", s)
	}
	return nil
}

func knownZones() string {
	names := make([]string, 0, len(zones))
	for n := range zones {
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}
