package store

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Meta is the bookkeeping every stored entity carries.
// Version is the optimistic-concurrency token: an update must present the
// version it read, and the store refuses it (ErrConflict) if someone else
// wrote in between, so concurrent admins never silently overwrite each other.
type Meta struct {
	ID        int64     `json:"id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// M gives generic store code access to the bookkeeping fields.
func (m *Meta) M() *Meta { return m }

// RangeKind says what a number range holds.
type RangeKind string

// Range kinds: internal extension numbers and public DID blocks (E.164).
const (
	RangeExtension RangeKind = "ext"
	RangeDID       RangeKind = "did"
)

// NumberRange is an inclusive block of numbers of equal length, such as
// 2000-2999 (extensions) or +4755550000-+4755550999 (DIDs).
type NumberRange struct {
	Kind  RangeKind `json:"kind"`
	First string    `json:"first"`
	Last  string    `json:"last"`
}

// UnknownDID says what happens to an inbound call to a number inside the
// tenant's DID ranges that no extension, group or switchboard has.
type UnknownDID string

// Unknown-DID policies: ring the switchboard (the default, so a caller with
// an old direct number still reaches someone), or refuse the call (404).
const (
	UnknownDIDSwitchboard UnknownDID = "switchboard"
	UnknownDIDReject      UnknownDID = "reject"
)

// MaxOutsidePrefixDigits is the longest outside-line prefix (sip/dialplan
// accepts up to 4 digits).
const MaxOutsidePrefixDigits = 4

// Tenant is one municipality (or other customer) served by the switch. Its
// SIP domain is also the digest realm of its extensions' HA1 hashes.
type Tenant struct {
	Meta
	Name              string        `json:"name"` // short slug used on the CLI, e.g. "fjordvik"
	DisplayName       string        `json:"display_name"`
	Domain            string        `json:"domain"`
	SwitchboardNumber string        `json:"switchboard_number,omitempty"`
	Ranges            []NumberRange `json:"ranges"`
	// OutsidePrefix is dialled before external numbers ("0" as on the
	// Ericsson MD110); empty when external numbers are dialled directly.
	// No extension range of any tenant may start with it (see
	// PrefixConflicts), or a dialled number would be ambiguous.
	OutsidePrefix string `json:"outside_prefix,omitempty"`
	// UnknownDID is what an inbound call to an unassigned number of the
	// tenant's DID ranges gets.
	UnknownDID UnknownDID `json:"unknown_did"`
	// CDRRetentionDays is how long call records are kept: records that
	// started more days ago are deleted automatically (privacy). 0 keeps
	// them forever.
	CDRRetentionDays int `json:"cdr_retention_days"`
	// ReportMaskDigits is how many trailing digits of external numbers
	// billing reports hide; 0 shows them whole.
	ReportMaskDigits int `json:"report_mask_digits"`
	// PhonebookSecret is the PBKDF2 hash (store/passhash) of the password
	// desk phones bind to the LDAP phone book with; "" lets no phone bind.
	PhonebookSecret string `json:"-"`
	// SwitchboardHours are the switchboard's opening hours in
	// media/queue's syntax ("mon-fri 08:00-15:30", Europe/Oslo); "" is
	// always open. Provisioning checks the syntax; the store only its
	// length (MaxSwitchboardHours).
	SwitchboardHours string `json:"switchboard_hours,omitempty"`
	// NightTarget is where calls to the switchboard number go outside the
	// opening hours or when no operator is available: "" (a closed
	// message), "voicemail:NUMBER" or a number; see ValidateNightTarget.
	NightTarget string `json:"night_target,omitempty"`
}

// Bounds of the tenant's privacy settings.
const (
	MaxCDRRetentionDays = 36600 // a century: longer is a typo
	MaxReportMaskDigits = 8     // a Norwegian subscriber number
)

// ValidOutsidePrefix reports whether p is a usable outside-line prefix:
// empty, or 1 to MaxOutsidePrefixDigits digits.
func ValidOutsidePrefix(p string) bool {
	return p == "" || len(p) <= MaxOutsidePrefixDigits && isDigits(p)
}

// PrefixConflicts reports whether an outside-line prefix and an extension
// range make dialling ambiguous: some number of the range starts with the
// prefix (prefix 0 against 0100-0199), or the prefix starts with a number of
// the range (prefix 200 against 20-29). Other kinds of range never conflict.
func PrefixConflicts(prefix string, r NumberRange) bool {
	if prefix == "" || r.Kind != RangeExtension {
		return false
	}
	return NumberRange{Kind: RangeExtension, First: prefix, Last: prefix}.Conflicts(r)
}

// Site is a physical location of a tenant (town hall, school, care home).
// Its DID is presented on emergency calls so the call centre sees where
// the caller is.
type Site struct {
	Meta
	TenantID int64  `json:"tenant_id"`
	Name     string `json:"name"`
	Address  string `json:"address,omitempty"`
	DID      string `json:"did,omitempty"`
}

// Department is a cost centre; call costs are allocated to it.
type Department struct {
	Meta
	TenantID int64  `json:"tenant_id"`
	Code     string `json:"code"` // cost-centre code from the finance system
	Name     string `json:"name"`
}

// Visibility controls who may see a person in phone books.
type Visibility string

// Visibility values.
const (
	VisibilityListed   Visibility = "listed"
	VisibilityInternal Visibility = "internal"
	VisibilitySecret   Visibility = "secret"
)

// Person is a directory entry (an employee or a service).
type Person struct {
	Meta
	TenantID     int64      `json:"tenant_id"`
	GivenName    string     `json:"given_name"`
	FamilyName   string     `json:"family_name"`
	Title        string     `json:"title,omitempty"`
	DepartmentID *int64     `json:"department_id,omitempty"`
	SiteID       *int64     `json:"site_id,omitempty"`
	Email        string     `json:"email,omitempty"`
	Mobile       string     `json:"mobile,omitempty"`
	Notes        string     `json:"notes,omitempty"`
	Visibility   Visibility `json:"visibility"`
}

// ClassOfService limits where an extension may call. Emergency numbers are
// always allowed whatever the class.
type ClassOfService string

// Classes of service, from the most to the least restricted.
const (
	COSInternal      ClassOfService = "internal"
	COSNational      ClassOfService = "national"
	COSMobile        ClassOfService = "mobile"
	COSInternational ClassOfService = "international"
)

// DefaultCOS is given to extensions created without a class of service.
// Staff call mobile numbers all day, so anything stricter would make every
// new extension a support ticket; international calls, where toll fraud
// happens, must be granted explicitly.
const DefaultCOS = COSMobile

// Extension is a number that rings: a desk phone, a softphone, a DECT
// handset. The SIP password is never stored, only its HA1 digests.
type Extension struct {
	Meta
	TenantID     int64          `json:"tenant_id"`
	Number       string         `json:"number"`
	DisplayName  string         `json:"display_name"`
	PersonID     *int64         `json:"person_id,omitempty"`
	DepartmentID *int64         `json:"department_id,omitempty"`
	SiteID       *int64         `json:"site_id,omitempty"`
	COS          ClassOfService `json:"cos"`
	HA1MD5       string         `json:"-"` // hex MD5(user:realm:password)
	HA1SHA256    string         `json:"-"` // hex SHA-256(user:realm:password)
	VoicemailPIN string         `json:"-"` // PHC-style PBKDF2 hash, never the PIN
	Enabled      bool           `json:"enabled"`
	// DID is the extension's direct public number (E.164): inbound calls to
	// it ring the extension, and outbound calls present it as caller ID.
	// It lies in the tenant's DID ranges and is unique across all tenants,
	// extensions, groups and switchboard numbers. Empty: none.
	DID string `json:"did,omitempty"`
	// HideCallerID withholds the caller ID on outbound calls by default.
	HideCallerID bool `json:"hide_caller_id"`

	// Call forwarding. Each target is empty (none), ForwardVoicemail,
	// "voicemail:NUMBER" or a number (see ValidateForwardTarget).
	// ForwardAlways takes every call before the extension rings;
	// ForwardBusy takes calls while it is busy or in DND; ForwardNoAnswer
	// takes calls it leaves unanswered for NoAnswerAfter, and calls while
	// it is not registered.
	ForwardAlways   string `json:"forward_always,omitempty"`
	ForwardBusy     string `json:"forward_busy,omitempty"`
	ForwardNoAnswer string `json:"forward_no_answer,omitempty"`
	// NoAnswerSeconds is how long the extension rings before ForwardNoAnswer
	// (or voicemail) takes the call: 0 means DefaultNoAnswerSeconds,
	// otherwise MinNoAnswerSeconds to MaxNoAnswerSeconds.
	NoAnswerSeconds int `json:"no_answer_seconds"`
	// DND (do not disturb) treats the extension as busy: calls go where
	// ForwardBusy or voicemail says, or get busy.
	DND bool `json:"dnd"`
	// Voicemail says the extension's mailbox takes the calls it does not
	// answer (busy, no answer, not registered) unless a forward says
	// otherwise.
	Voicemail bool `json:"voicemail"`
	// VoicemailAskPIN asks for the PIN even when the mailbox is called from
	// the extension's own phone (a shared or unattended phone).
	VoicemailAskPIN bool `json:"voicemail_ask_pin"`
	// Language is the prompt language: "" (DefaultLanguage), "nb" or "en".
	Language string `json:"language,omitempty"`
}

// ForwardVoicemail is the forward target naming the extension's own
// mailbox; "voicemail:NUMBER" names the mailbox of extension NUMBER.
const ForwardVoicemail = "voicemail"

// Bounds of Extension.NoAnswerSeconds. The default lets a caller hear
// about five rings, as on the MD110; the bounds keep a forward from firing
// before the phone rang once, or never.
const (
	DefaultNoAnswerSeconds = 20
	MinNoAnswerSeconds     = 5
	MaxNoAnswerSeconds     = 180
)

// Prompt languages: Norwegian bokmål (the default) and English.
const (
	LanguageNorwegian = "nb"
	LanguageEnglish   = "en"
	DefaultLanguage   = LanguageNorwegian
)

// MaxForwardTargetLength is the longest number a forward or overflow
// target may be, '+' included.
const MaxForwardTargetLength = 20

// NoAnswerAfter is how long the extension rings before an unanswered call
// is forwarded (or goes to voicemail), with the default applied.
func (e Extension) NoAnswerAfter() time.Duration {
	if e.NoAnswerSeconds <= 0 {
		return DefaultNoAnswerSeconds * time.Second
	}
	return time.Duration(e.NoAnswerSeconds) * time.Second
}

// PromptLanguage is the extension's prompt language with the default applied.
func (e Extension) PromptLanguage() string {
	if e.Language == "" {
		return DefaultLanguage
	}
	return e.Language
}

// ValidLanguage reports whether l may be an extension's Language.
func ValidLanguage(l string) bool {
	return l == "" || l == LanguageNorwegian || l == LanguageEnglish
}

// ValidateForwardTarget checks the syntax of a forward target (group
// false: an extension's ForwardAlways, ForwardBusy or ForwardNoAnswer) or
// of a group's Overflow (group true). A target is empty (none);
// ForwardVoicemail (extensions only: the extension's own mailbox);
// "voicemail:NUMBER", the mailbox of extension NUMBER (MinExtensionDigits
// to MaxExtensionDigits digits); or a number of 2 to
// MaxForwardTargetLength characters, digits with an optional leading '+'.
// Whether the number or mailbox exists is not checked: it is routed when a
// call comes. A refusal is a *FieldError of kind ErrInvalid whose Field is
// "forward" or "overflow"; callers checking a named field replace it.
func ValidateForwardTarget(target string, group bool) error {
	ent, field := EntityExtension, "forward"
	if group {
		ent, field = EntityGroup, "overflow"
	}
	refuse := func(format string, args ...any) error {
		return &FieldError{Entity: ent, Field: field, Value: target, Kind: ErrInvalid, Reason: fmt.Sprintf(format, args...)}
	}
	if target == "" {
		return nil
	}
	if target == ForwardVoicemail {
		if group {
			return refuse("a group has no mailbox of its own: use voicemail:NUMBER for an extension's mailbox, or a number")
		}
		return nil
	}
	if mbox, ok := strings.CutPrefix(target, ForwardVoicemail+":"); ok {
		if len(mbox) < MinExtensionDigits || len(mbox) > MaxExtensionDigits || !isDigits(mbox) {
			return refuse("voicemail:NUMBER takes an extension number of %d to %d digits, e.g. voicemail:2001", MinExtensionDigits, MaxExtensionDigits)
		}
		return nil
	}
	digits := strings.TrimPrefix(target, "+")
	if len(target) < 2 || len(target) > MaxForwardTargetLength || digits == "" || !isDigits(digits) {
		kinds := "voicemail, voicemail:NUMBER or a number"
		if group {
			kinds = "voicemail:NUMBER or a number"
		}
		return refuse("must be %s; a number has 2 to %d characters, digits with an optional leading +, e.g. 2001 or +4791234567", kinds, MaxForwardTargetLength)
	}
	return nil
}

// HasCredentials reports whether the extension can authenticate over SIP.
func (e *Extension) HasCredentials() bool { return e.HA1MD5 != "" || e.HA1SHA256 != "" }

// DeviceLine binds a line key of a device to an extension.
type DeviceLine struct {
	Line        int   `json:"line"` // 1-based
	ExtensionID int64 `json:"extension_id"`
}

// Device is a provisioned desk phone, identified by its MAC address.
//
// AuthUser and Secret are the phone's own credentials: the digest username
// and password it registers its lines with, and the HTTP username and
// password it fetches its configuration file with. The secret is kept in
// clear, like a trunk password, because it is written into that file.
type Device struct {
	Meta
	TenantID    int64        `json:"tenant_id"`
	MAC         string       `json:"mac"` // 12 lower-case hex digits, no separators
	Model       string       `json:"model"`
	SiteID      *int64       `json:"site_id,omitempty"`
	Description string       `json:"description,omitempty"`
	Lines       []DeviceLine `json:"lines"`
	// AuthUser is unique across all tenants; created empty, it becomes
	// DefaultAuthUser(MAC).
	AuthUser string `json:"auth_user"`
	// Secret is generated (NewDeviceSecret) when a device is created
	// without one; an update without one keeps the stored one.
	Secret string `json:"-"`
}

// DefaultAuthUser is the AuthUser of a device created without one: "ph"
// and its MAC, which starts with a letter so it can never be mistaken for
// an extension number.
func DefaultAuthUser(mac string) string { return "ph" + mac }

var authUserRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,63}$`)

// ValidAuthUser reports whether u may be a device's AuthUser: 3 to 64
// lower-case letters, digits, dots, underscores or hyphens, starting with a
// letter (so it is never an extension number, and survives config files
// and URLs unquoted).
func ValidAuthUser(u string) bool { return authUserRE.MatchString(u) }

// secretAlphabet has no look-alikes (0/O, 1/l/I): the secret may have to
// be typed into a phone's web page from a printout.
const secretAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// DeviceSecretLength is the length of a generated device secret: 20
// characters of a 56-letter alphabet, about 116 bits.
const DeviceSecretLength = 20

// NewDeviceSecret returns a random device secret (crypto/rand).
func NewDeviceSecret() (string, error) {
	b := make([]byte, DeviceSecretLength)
	max := big.NewInt(int64(len(secretAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate device secret: %w", err)
		}
		b[i] = secretAlphabet[n.Int64()]
	}
	return string(b), nil
}

var secretRE = regexp.MustCompile(`^[A-Za-z0-9._+-]{16,64}$`)

// ValidSecret reports whether s may be a device secret: 16 to 64 letters,
// digits or . _ + - (safe inside XML and INI config files unquoted).
func ValidSecret(s string) bool { return secretRE.MatchString(s) }

// DECTMode says how a DECT gateway's handsets are reached.
type DECTMode string

// DECT gateway modes: handsets register through the gateway, or a number
// range is routed to the gateway without registration.
const (
	DECTRegister DECTMode = "register"
	DECTStatic   DECTMode = "static"
)

// DECTGateway is a SIP-DECT base-station system (one or many cells).
type DECTGateway struct {
	Meta
	TenantID int64    `json:"tenant_id"`
	Name     string   `json:"name"`
	Model    string   `json:"model,omitempty"`
	Address  string   `json:"address,omitempty"` // host[:port] of the gateway
	SiteID   *int64   `json:"site_id,omitempty"`
	Mode     DECTMode `json:"mode"`
}

// DECTHandset maps a handset's IPUI to an extension on a gateway.
type DECTHandset struct {
	Meta
	TenantID    int64  `json:"tenant_id"`
	GatewayID   int64  `json:"gateway_id"`
	IPUI        string `json:"ipui"` // 10 upper-case hex digits
	ExtensionID int64  `json:"extension_id"`
}

// TrunkMode says how a trunk authenticates towards the operator.
type TrunkMode string

// Trunk modes: we register with digest, or the peer is trusted by address.
const (
	TrunkRegister TrunkMode = "register"
	TrunkPeer     TrunkMode = "peer"
)

// Trunk is a SIP connection to an operator (Centrex/SIP trunk). The password
// is kept in clear because we must answer the operator's digest challenge.
//
// Routes are the E.164 prefixes of the numbers the trunk carries outbound
// ("+47", "+4781", "+" for everything); an empty list means the trunk only
// brings calls in. Emergency trunks are tried first for 110, 112 and 113,
// whatever their priority. PeerAddresses are the addresses and networks
// (canonical IP or CIDR, see CanonicalPeer) allowed to send inbound calls
// on the trunk: a peer trunk needs at least one; a register trunk without
// any accepts calls from its Host's addresses, resolved at run time.
type Trunk struct {
	Meta
	TenantID  int64     `json:"tenant_id"`
	Name      string    `json:"name"`
	Mode      TrunkMode `json:"mode"`
	Host      string    `json:"host"`
	Port      int       `json:"port"`
	Transport string    `json:"transport"` // udp, tcp, tls
	Username  string    `json:"username,omitempty"`
	Password  string    `json:"-"`
	Realm     string    `json:"realm,omitempty"`
	Priority  int       `json:"priority"` // lower is tried first
	Enabled   bool      `json:"enabled"`

	Routes        []string `json:"routes"`
	Emergency     bool     `json:"emergency"`
	PeerAddresses []string `json:"peer_addresses"`
}

// MaxRouteDigits is the longest route pattern: a whole E.164 number.
const MaxRouteDigits = 15

// ValidRoute reports whether s is a route pattern: "+" and 0 to 15 digits.
func ValidRoute(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	return ok && len(d) <= MaxRouteDigits && (d == "" || isDigits(d))
}

// RouteMatches reports whether an E.164 number falls under a route pattern.
func RouteMatches(route, e164 string) bool {
	return ValidRoute(route) && strings.HasPrefix(e164, route)
}

// CanonicalPeer reads an IP address or a CIDR network and returns it in
// the form the store keeps: an address as netip prints it (IPv4-mapped IPv6
// unmapped), a network as ADDR/BITS with no host bits set. A network with
// host bits set (198.51.100.7/24) is refused rather than silently widened.
func CanonicalPeer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("%q is not an IP network such as 198.51.100.0/24", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			if p.Bits() < 0 {
				return "", fmt.Errorf("%q is not an IP network such as 198.51.100.0/24", s)
			}
		}
		if p.Masked() != p {
			return "", fmt.Errorf("%q has host bits set: the network is %s", s, p.Masked())
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("%q is not an IP address such as 192.0.2.10 or a network such as 198.51.100.0/24", s)
	}
	return a.Unmap().String(), nil
}

// PeerPrefix reads a stored peer address (see CanonicalPeer) as a network;
// a single address is a /32 or /128.
func PeerPrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p, err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// GroupStrategy says how a group's members are rung.
type GroupStrategy string

// Group strategies.
const (
	GroupSimultaneous GroupStrategy = "simultaneous"
	GroupHunt         GroupStrategy = "hunt"
)

// Group is a ring group / hunt group with its own number.
type Group struct {
	Meta
	TenantID    int64         `json:"tenant_id"`
	Number      string        `json:"number"`
	Name        string        `json:"name"`
	Strategy    GroupStrategy `json:"strategy"`
	RingSeconds int           `json:"ring_seconds"`
	Members     []int64       `json:"members"` // extension IDs in hunt order
	// DID is the group's public number (E.164), under the same rules as
	// Extension.DID. Empty: none.
	DID string `json:"did,omitempty"`
	// Overflow is where a call goes that no member answered: after
	// RingSeconds (simultaneous) or after the last member (hunt). It is
	// empty (none), "voicemail:NUMBER" or a number; see
	// ValidateForwardTarget.
	Overflow string `json:"overflow,omitempty"`
}

// Entity names the kind of a stored row in change records.
type Entity string

// Entities.
const (
	EntityTenant      Entity = "tenant"
	EntitySite        Entity = "site"
	EntityDepartment  Entity = "department"
	EntityPerson      Entity = "person"
	EntityExtension   Entity = "extension"
	EntityDevice      Entity = "device"
	EntityDECTGateway Entity = "dect_gateway"
	EntityDECTHandset Entity = "dect_handset"
	EntityTrunk       Entity = "trunk"
	EntityGroup       Entity = "group"
)

// Op is what happened to an entity.
type Op string

// Ops.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one committed write, in commit order. Running servers follow
// the change log to refresh their caches without a restart.
type Change struct {
	Seq      int64     `json:"seq"`
	Entity   Entity    `json:"entity"`
	TenantID int64     `json:"tenant_id"`
	EntityID int64     `json:"entity_id"`
	Key      string    `json:"key"` // natural key, e.g. the extension number
	Op       Op        `json:"op"`
	At       time.Time `json:"at"`
}

// Binding is one registered contact of an address of record (RFC 3261
// §10): the AOR is Number@ the tenant's domain. Bindings are written by the
// location service (sip/location) in batches, not by admins, so they carry
// no Meta, take no write lock and stay out of the change log.
type Binding struct {
	TenantID  int64     `json:"tenant_id"`
	Number    string    `json:"number"`             // extension number, the user part of the AOR
	Contact   string    `json:"contact"`            // Contact URI as the UA sent it
	Instance  string    `json:"instance,omitempty"` // +sip.instance (RFC 5626), e.g. "<urn:uuid:...>"
	RegID     int       `json:"reg_id,omitempty"`   // reg-id (RFC 5626); 0 when absent
	Q         float64   `json:"q"`                  // 0..1; the registrar passes 1 when the Contact has no q
	Expires   time.Time `json:"expires"`            // absolute, UTC
	CallID    string    `json:"call_id"`
	CSeq      uint32    `json:"cseq"`
	UserAgent string    `json:"user_agent,omitempty"`
	Source    string    `json:"source"`         // ip:port the REGISTER came from
	Transport string    `json:"transport"`      // udp, tcp, tls, ws, wss
	Flow      string    `json:"flow,omitempty"` // connection the REGISTER came on; empty for udp
	Path      []string  `json:"path,omitempty"` // Path header values (RFC 3327), in order
	Node      string    `json:"node,omitempty"` // Sentral node holding the flow
	UpdatedAt time.Time `json:"updated_at"`
}

// BindingKey is the identity of a binding within its AOR (the store's key
// column, unique per tenant and number). RFC 5626 §6: a Contact carrying
// +sip.instance is identified by instance and reg-id, so a phone that
// re-registers from a new address after a reboot or a NAT rebinding
// replaces its old binding instead of adding a dead one. Otherwise RFC 3261
// §10.3 identifies a binding by its Contact URI; the registrar must pass
// the URI in one canonical form, since this compares strings, not URIs.
// The prefixes keep the two kinds from ever colliding.
func BindingKey(b Binding) string {
	if b.Instance != "" {
		return "i:" + b.Instance + ";reg-id=" + strconv.Itoa(b.RegID)
	}
	return "c:" + b.Contact
}

// EntityCDR names call detail records in FieldErrors. CDRs are not in the
// change log: like bindings they are written by the call path, not admins.
const EntityCDR Entity = "cdr"

// CallDirection says where a call came from and went.
type CallDirection string

// Call directions. Emergency calls are outbound calls to an emergency
// number; they are kept apart because they are never refused and never
// billed like other calls.
const (
	DirectionInternal  CallDirection = "internal"  // extension to extension
	DirectionInbound   CallDirection = "inbound"   // from a trunk to an extension
	DirectionOutbound  CallDirection = "outbound"  // from an extension to a trunk
	DirectionEmergency CallDirection = "emergency" // to an emergency number (110, 112, 113)
)

// Disposition is how a call attempt ended.
type Disposition string

// Dispositions.
const (
	DispositionAnswered  Disposition = "answered"
	DispositionBusy      Disposition = "busy"
	DispositionNoAnswer  Disposition = "no-answer"
	DispositionFailed    Disposition = "failed"
	DispositionCancelled Disposition = "cancelled"
)

// CDRState says whether a call is still in progress.
type CDRState string

// CDR states: a record is written open when the call starts, so a crash
// loses no call, and closed when the call ends (or, after a crash, when
// the node restarts; see CDRStore.CloseOrphans).
const (
	CDROpen   CDRState = "open"
	CDRClosed CDRState = "closed"
)

// CDR is the call detail record of one call attempt. Numbers, the trunk
// name and the department code are snapshots taken when the call started,
// so renaming, renumbering or moving things later never changes history;
// the ids beside them may point at rows that no longer exist. Times are UTC
// with microsecond precision. CDRs carry no Meta: the call path writes
// them, not admins, and they are never updated by version.
type CDR struct {
	ID        int64         `json:"id"`
	TenantID  int64         `json:"tenant_id"`
	CallID    string        `json:"call_id"`        // SIP Call-ID of the caller's INVITE
	Node      string        `json:"node,omitempty"` // Sentral node that handled the call
	State     CDRState      `json:"state"`
	Direction CallDirection `json:"direction"`

	Caller     string `json:"caller"`               // extension number, or the external number (E.164)
	Callee     string `json:"callee"`               // extension or group number, or the external number
	Dialled    string `json:"dialled"`              // what the caller dialled (or the inbound request's user part)
	Normalised string `json:"normalised,omitempty"` // the dialled number normalised (E.164 or an internal number)

	TrunkID        *int64 `json:"trunk_id,omitempty"`
	Trunk          string `json:"trunk,omitempty"`         // trunk name at the time of the call
	DepartmentID   *int64 `json:"department_id,omitempty"` // caller's department at the time of the call
	DepartmentCode string `json:"department_code,omitempty"`

	StartTime  time.Time  `json:"start_time"`
	AnswerTime *time.Time `json:"answer_time,omitempty"` // nil: never answered
	EndTime    *time.Time `json:"end_time,omitempty"`    // nil while open
	// DurationSeconds is EndTime-StartTime and BillableSeconds
	// EndTime-AnswerTime (0 when not answered), both in whole seconds
	// rounded down and never negative; 0 while open. Rating may round
	// otherwise from the exact times.
	DurationSeconds int64 `json:"duration_seconds"`
	BillableSeconds int64 `json:"billable_seconds"`

	Disposition Disposition `json:"disposition,omitempty"` // empty while open
	SIPCode     int         `json:"sip_code"`              // final response to the INVITE; 0: none was seen
	Reason      string      `json:"reason,omitempty"`      // reason phrase or why the call ended

	// Filled in by rating (directory/billing); nil until then.
	PriceOre *int64 `json:"price_ore,omitempty"` // price in øre (1/100 NOK)
	TariffID *int64 `json:"tariff_id,omitempty"`
}

// EntityVoicemail names voicemail messages in FieldErrors. Like CDRs they
// are not in the change log: the media path writes them, not admins.
const EntityVoicemail Entity = "voicemail"

// VoicemailFolder is where a message sits in its mailbox.
type VoicemailFolder string

// Voicemail folders. Moving a message from new to saved marks it heard;
// message-waiting (RFC 3842) reports new messages as new and saved ones as
// old.
const (
	VoicemailNew   VoicemailFolder = "new"
	VoicemailSaved VoicemailFolder = "saved"
)

// VoicemailMessage is the metadata of one recorded message; the audio is
// an 8 kHz WAV file at Path under the voicemail directory. Mailbox is the
// extension number the message was left for, a snapshot like the numbers
// of a CDR: a message outlives the renumbering or deletion of its
// extension (and of its tenant) until it is deleted. ReceivedAt is UTC
// with microsecond precision. Messages carry no Meta: the media path
// writes them, not admins.
type VoicemailMessage struct {
	ID             int64           `json:"id"`
	TenantID       int64           `json:"tenant_id"`
	Mailbox        string          `json:"mailbox"`                 // extension number
	CallerNumber   string          `json:"caller_number,omitempty"` // as presented; empty when withheld
	CallerName     string          `json:"caller_name,omitempty"`
	CallID         string          `json:"call_id,omitempty"` // SIP Call-ID of the call that left it
	ReceivedAt     time.Time       `json:"received_at"`
	DurationMillis int64           `json:"duration_millis"`
	Folder         VoicemailFolder `json:"folder"`
	Path           string          `json:"path"` // slash-separated, relative to the voicemail directory; unique
	SizeBytes      int64           `json:"size_bytes"`
	Urgent         bool            `json:"urgent,omitempty"`
}

// VoicemailCounts is the message-waiting state of one mailbox: New
// messages are unheard, Saved ones heard and kept (RFC 3842 "old").
type VoicemailCounts struct {
	New   int `json:"new"`
	Saved int `json:"saved"`
}

// EntityTariff names tariffs in FieldErrors. Tariffs are kept as
// revisions outside the change log: they are read when calls are rated,
// not by the call path.
const EntityTariff Entity = "tariff"

// Tariff is one revision of a tenant's tariff. Spec is its canonical JSON,
// whose format directory/billing owns; the store keeps it verbatim. The
// newest revision of a tenant is its current tariff; call records name
// the revision that priced them.
type Tariff struct {
	ID        int64     `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	Name      string    `json:"name"`
	Spec      string    `json:"spec"`
	CreatedAt time.Time `json:"created_at"`
}

// CDRPrice is the rating of one call record: its price in øre and the
// tariff revision that gave it.
type CDRPrice struct {
	ID       int64
	PriceOre int64
	TariffID int64
}
