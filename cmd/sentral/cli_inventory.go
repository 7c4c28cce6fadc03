package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// inventoryAdminCommands: site, dept, person, device, dect, trunk, group.
func (a *app) inventoryAdminCommands() []*cobra.Command {
	dect := &cobra.Command{Use: "dect", Short: "Manage DECT gateways and handsets"}
	dect.AddCommand(
		gatewayNoun.command(a, "Manage DECT gateways (base-station systems)"),
		handsetNoun.command(a, "Manage DECT handsets (IPUI to extension)"),
	)
	device := deviceNoun.command(a, "Manage desk phones")
	device.AddCommand(a.deviceSecretCmd())
	return []*cobra.Command{
		siteNoun.command(a, "Manage sites (physical locations)"),
		deptNoun.command(a, "Manage departments (cost centres)"),
		personNoun.command(a, "Manage the directory of people"),
		device,
		dect,
		trunkNoun.command(a, "Manage SIP trunks to operators"),
		groupNoun.command(a, "Manage ring and hunt groups"),
	}
}

func id(m store.Meta) string { return strconv.FormatInt(m.ID, 10) }

// optBool gives a bool flag's value when given (--emergency, --emergency=false).
func optBool(fs *pflag.FlagSet, name string, v *bool) *bool {
	if fs.Changed(name) {
		b := *v
		return &b
	}
	return nil
}

var siteNoun = noun[store.Site, provisioning.SiteInput]{
	name: "site", what: "site", key: "NAME", addKey: true, tenant: true,
	cols: []column[store.Site]{
		{"name", func(s store.Site) string { return s.Name }},
		{"address", func(s store.Site) string { return s.Address }},
		{"did", func(s store.Site) string { return s.DID }},
		{"id", func(s store.Site) string { return id(s.Meta) }},
	},
	keyOf: func(s store.Site) string { return s.Name },
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.SiteInput, error) {
		var address, did string
		fs.StringVar(&address, "address", "", "street address")
		fs.StringVar(&did, "did", "", "public number presented on emergency calls from this site")
		return func() (provisioning.SiteInput, error) {
			return provisioning.SiteInput{Address: optStr(fs, "address", &address), DID: optStr(fs, "did", &did)}, nil
		}
	},
	add: (*provisioning.Service).AddSite, update: (*provisioning.Service).UpdateSite, remove: (*provisioning.Service).RemoveSite,
	show: (*provisioning.Service).Site, list: (*provisioning.Service).Sites,
}

var deptNoun = noun[store.Department, provisioning.DepartmentInput]{
	name: "dept", what: "department", key: "CODE", addKey: true, tenant: true,
	cols: []column[store.Department]{
		{"code", func(d store.Department) string { return d.Code }},
		{"name", func(d store.Department) string { return d.Name }},
		{"id", func(d store.Department) string { return id(d.Meta) }},
	},
	keyOf: func(d store.Department) string { return d.Code },
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.DepartmentInput, error) {
		var name string
		fs.StringVar(&name, "name", "", `department name, e.g. "Helse og omsorg"`)
		return func() (provisioning.DepartmentInput, error) {
			return provisioning.DepartmentInput{Name: optStr(fs, "name", &name)}, nil
		}
	},
	add: (*provisioning.Service).AddDepartment, update: (*provisioning.Service).UpdateDepartment, remove: (*provisioning.Service).RemoveDepartment,
	show: (*provisioning.Service).Department, list: (*provisioning.Service).Departments,
}

var personNoun = noun[provisioning.PersonView, provisioning.PersonInput]{
	name: "person", what: "person", key: "EMAIL|ID", tenant: true,
	cols: []column[provisioning.PersonView]{
		{"id", func(p provisioning.PersonView) string { return id(p.Meta) }},
		{"given", func(p provisioning.PersonView) string { return p.GivenName }},
		{"family", func(p provisioning.PersonView) string { return p.FamilyName }},
		{"title", func(p provisioning.PersonView) string { return p.Title }},
		{"department", func(p provisioning.PersonView) string { return p.Department }},
		{"site", func(p provisioning.PersonView) string { return p.Site }},
		{"email", func(p provisioning.PersonView) string { return p.Email }},
		{"mobile", func(p provisioning.PersonView) string { return p.Mobile }},
		{"visibility", func(p provisioning.PersonView) string { return string(p.Visibility) }},
		{"notes", func(p provisioning.PersonView) string { return p.Notes }},
	},
	keyOf: func(p provisioning.PersonView) string {
		if p.Email != "" {
			return p.Email
		}
		return id(p.Meta)
	},
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.PersonInput, error) {
		var given, family, title, dept, site, email, mobile, notes, visibility string
		fs.StringVar(&given, "given", "", "given name")
		fs.StringVar(&family, "family", "", "family name")
		fs.StringVar(&title, "title", "", `job title, e.g. "Helsesykepleier"`)
		fs.StringVar(&dept, "dept", "", "department CODE; empty clears it")
		fs.StringVar(&site, "site", "", "site NAME; empty clears it")
		fs.StringVar(&email, "email", "", "e-mail address (how extensions refer to the person with --person)")
		fs.StringVar(&mobile, "mobile", "", "mobile number")
		fs.StringVar(&notes, "notes", "", "notes for the switchboard")
		fs.StringVar(&visibility, "visibility", "", "phone-book visibility: listed, internal or secret (default internal)")
		return func() (provisioning.PersonInput, error) {
			return provisioning.PersonInput{
				Given: optStr(fs, "given", &given), Family: optStr(fs, "family", &family), Title: optStr(fs, "title", &title),
				Dept: optStr(fs, "dept", &dept), Site: optStr(fs, "site", &site), Email: optStr(fs, "email", &email),
				Mobile: optStr(fs, "mobile", &mobile), Notes: optStr(fs, "notes", &notes), Visibility: optStr(fs, "visibility", &visibility),
			}, nil
		}
	},
	add: func(p *provisioning.Service, ctx context.Context, tenant, _ string, in provisioning.PersonInput) (provisioning.PersonView, error) {
		return p.AddPerson(ctx, tenant, in)
	},
	update: (*provisioning.Service).UpdatePerson, remove: (*provisioning.Service).RemovePerson,
	show: (*provisioning.Service).Person, list: (*provisioning.Service).People,
}

var deviceNoun = noun[provisioning.DeviceView, provisioning.DeviceInput]{
	name: "device", what: "device", key: "MAC", addKey: true, tenant: true,
	cols: []column[provisioning.DeviceView]{
		{"mac", func(d provisioning.DeviceView) string { return d.MAC }},
		{"model", func(d provisioning.DeviceView) string { return d.Model }},
		{"site", func(d provisioning.DeviceView) string { return d.Site }},
		{"lines", func(d provisioning.DeviceView) string { return strings.Join(d.LineNumbers, " ") }},
		{"auth_user", func(d provisioning.DeviceView) string { return d.AuthUser }},
		{"description", func(d provisioning.DeviceView) string { return d.Description }},
	},
	keyOf: func(d provisioning.DeviceView) string { return d.MAC },
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.DeviceInput, error) {
		var model, site, description, authUser string
		var lines []string
		fs.StringVar(&model, "model", "", "phone model, e.g. yealink-t54w")
		fs.StringVar(&site, "site", "", "site NAME; empty clears it")
		fs.StringVar(&description, "description", "", `where it stands, e.g. "Resepsjonen"`)
		fs.StringArrayVar(&lines, "line", nil, "line key and extension, e.g. 1=2001 (repeatable; on update replaces all)")
		fs.StringVar(&authUser, "auth-user", "", `the phone's own SIP and provisioning username (default ph + MAC; "" restores it)`)
		return func() (provisioning.DeviceInput, error) {
			return provisioning.DeviceInput{Model: optStr(fs, "model", &model), Site: optStr(fs, "site", &site),
				Description: optStr(fs, "description", &description), Lines: optStrs(fs, "line", &lines),
				AuthUser: optStr(fs, "auth-user", &authUser)}, nil
		}
	},
	add: (*provisioning.Service).AddDevice, update: (*provisioning.Service).UpdateDevice, remove: (*provisioning.Service).RemoveDevice,
	show: (*provisioning.Service).Device, list: (*provisioning.Service).Devices,
}

var gatewayNoun = noun[provisioning.GatewayView, provisioning.GatewayInput]{
	name: "gateway", what: "DECT gateway", key: "NAME", addKey: true, tenant: true,
	cols: []column[provisioning.GatewayView]{
		{"name", func(g provisioning.GatewayView) string { return g.Name }},
		{"model", func(g provisioning.GatewayView) string { return g.Model }},
		{"address", func(g provisioning.GatewayView) string { return g.Address }},
		{"site", func(g provisioning.GatewayView) string { return g.Site }},
		{"mode", func(g provisioning.GatewayView) string { return string(g.Mode) }},
	},
	keyOf: func(g provisioning.GatewayView) string { return g.Name },
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.GatewayInput, error) {
		var model, address, site, mode string
		fs.StringVar(&model, "model", "", "gateway model, e.g. ascom-ip-dect")
		fs.StringVar(&address, "address", "", "host[:port] of the gateway")
		fs.StringVar(&site, "site", "", "site NAME; empty clears it")
		fs.StringVar(&mode, "mode", "", "register (handsets register through it, default) or static (a number range is routed to it)")
		return func() (provisioning.GatewayInput, error) {
			return provisioning.GatewayInput{Model: optStr(fs, "model", &model), Address: optStr(fs, "address", &address),
				Site: optStr(fs, "site", &site), Mode: optStr(fs, "mode", &mode)}, nil
		}
	},
	add: (*provisioning.Service).AddGateway, update: (*provisioning.Service).UpdateGateway, remove: (*provisioning.Service).RemoveGateway,
	show: (*provisioning.Service).Gateway, list: (*provisioning.Service).Gateways,
}

var handsetNoun = noun[provisioning.HandsetView, provisioning.HandsetInput]{
	name: "handset", what: "DECT handset", key: "IPUI", addKey: true, tenant: true,
	cols: []column[provisioning.HandsetView]{
		{"ipui", func(h provisioning.HandsetView) string { return h.IPUI }},
		{"gateway", func(h provisioning.HandsetView) string { return h.Gateway }},
		{"extension", func(h provisioning.HandsetView) string { return h.Extension }},
	},
	keyOf: func(h provisioning.HandsetView) string { return h.IPUI },
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.HandsetInput, error) {
		var gateway, ext string
		fs.StringVar(&gateway, "gateway", "", "DECT gateway NAME the handset is subscribed to")
		fs.StringVar(&ext, "ext", "", "extension NUMBER the handset rings for")
		return func() (provisioning.HandsetInput, error) {
			return provisioning.HandsetInput{Gateway: optStr(fs, "gateway", &gateway), Ext: optStr(fs, "ext", &ext)}, nil
		}
	},
	add: (*provisioning.Service).AddHandset, update: (*provisioning.Service).UpdateHandset, remove: (*provisioning.Service).RemoveHandset,
	show: (*provisioning.Service).Handset, list: (*provisioning.Service).Handsets,
}

var trunkNoun = noun[store.Trunk, provisioning.TrunkInput]{
	name: "trunk", what: "trunk", key: "NAME", addKey: true, tenant: true,
	cols: []column[store.Trunk]{
		{"name", func(t store.Trunk) string { return t.Name }},
		{"mode", func(t store.Trunk) string { return string(t.Mode) }},
		{"host", func(t store.Trunk) string { return t.Host }},
		{"port", func(t store.Trunk) string { return strconv.Itoa(t.Port) }},
		{"transport", func(t store.Trunk) string { return t.Transport }},
		{"username", func(t store.Trunk) string { return t.Username }},
		{"realm", func(t store.Trunk) string { return t.Realm }},
		{"priority", func(t store.Trunk) string { return strconv.Itoa(t.Priority) }},
		{"enabled", func(t store.Trunk) string { return strconv.FormatBool(t.Enabled) }},
		{"routes", func(t store.Trunk) string { return strings.Join(t.Routes, " ") }},
		{"emergency", func(t store.Trunk) string { return strconv.FormatBool(t.Emergency) }},
		{"peers", func(t store.Trunk) string { return strings.Join(t.PeerAddresses, " ") }},
	},
	keyOf: func(t store.Trunk) string { return t.Name },
	flags: func(a *app, fs *pflag.FlagSet, _ bool) func() (provisioning.TrunkInput, error) {
		var mode, host, transport, username, realm string
		var port, priority int
		var disabled, emergency bool
		var routes, peers []string
		fs.StringVar(&mode, "mode", "", "register (we register with digest, default) or peer (trusted by address)")
		fs.StringVar(&host, "host", "", "operator's SIP host")
		fs.IntVar(&port, "port", 0, "operator's SIP port (default 5060, 5061 for tls)")
		fs.StringVar(&transport, "transport", "", "udp (default), tcp or tls")
		fs.StringVar(&username, "username", "", "username the operator gave you")
		secret := secretFlags(a, fs)
		fs.StringVar(&realm, "realm", "", "digest realm, if the operator requires a fixed one")
		fs.IntVar(&priority, "priority", 0, "lower is tried first (default 10)")
		fs.BoolVar(&disabled, "disabled", false, "disable the trunk (--disabled=false enables it again)")
		fs.StringSliceVar(&routes, "route", nil, `numbers the trunk carries out: +47, +4781, + for all (repeatable; on update replaces all; "" for none: inbound only)`)
		fs.BoolVar(&emergency, "emergency", false, "the trunk carries emergency calls (110, 112, 113) and is tried first for them (--emergency=false clears it)")
		fs.StringSliceVar(&peers, "peer", nil, "address or network the operator sends calls from, e.g. 192.0.2.10 or 198.51.100.0/24 (repeatable; on update replaces all; required for --mode peer)")
		return func() (provisioning.TrunkInput, error) {
			pw, err := secret()
			if err != nil {
				return provisioning.TrunkInput{}, err
			}
			return provisioning.TrunkInput{Mode: optStr(fs, "mode", &mode), Host: optStr(fs, "host", &host), Port: optInt(fs, "port", &port),
				Transport: optStr(fs, "transport", &transport), Username: optStr(fs, "username", &username), Password: pw,
				Realm: optStr(fs, "realm", &realm), Priority: optInt(fs, "priority", &priority), Enabled: optNot(fs, "disabled", &disabled),
				Routes: optStrs(fs, "route", &routes), Peers: optStrs(fs, "peer", &peers), Emergency: optBool(fs, "emergency", &emergency)}, nil
		}
	},
	add: (*provisioning.Service).AddTrunk, update: (*provisioning.Service).UpdateTrunk, remove: (*provisioning.Service).RemoveTrunk,
	show: (*provisioning.Service).Trunk, list: (*provisioning.Service).Trunks,
	after: func(a *app, t store.Trunk) error {
		if len(t.Routes) == 0 {
			fmt.Fprintf(a.stderr, "note: trunk %s has no --route and carries no outbound calls (inbound only); add e.g. --route + to send external calls through it\n", t.Name)
		}
		return nil
	},
}

var groupCols = []column[provisioning.GroupView]{
	{"number", func(g provisioning.GroupView) string { return g.Number }},
	{"name", func(g provisioning.GroupView) string { return g.Name }},
	{"strategy", func(g provisioning.GroupView) string { return string(g.Strategy) }},
	{"ring_seconds", func(g provisioning.GroupView) string { return strconv.Itoa(g.RingSeconds) }},
	{"members", func(g provisioning.GroupView) string { return strings.Join(g.MemberNumbers, " ") }},
	{"did", func(g provisioning.GroupView) string { return g.DID }},
}

var groupNoun = noun[provisioning.GroupView, provisioning.GroupInput]{
	name: "group", what: "group", key: "NUMBER", addKey: true, tenant: true,
	cols: groupCols,
	detail: slices.Concat(groupCols, []column[provisioning.GroupView]{
		{"overflow", func(g provisioning.GroupView) string { return g.Overflow }},
	}),
	keyOf: func(g provisioning.GroupView) string { return g.Number },
	flags: func(_ *app, fs *pflag.FlagSet, _ bool) func() (provisioning.GroupInput, error) {
		var name, strategy, did, overflow string
		var ring int
		var members []string
		fs.StringVar(&name, "name", "", `group name, e.g. "Sentralbord"`)
		fs.StringVar(&strategy, "strategy", "", "simultaneous (all members at once, default) or hunt (one at a time, in --member order)")
		fs.IntVar(&ring, "ring-seconds", 0, fmt.Sprintf("how long the group rings, 5 to 600 (default %d)", provisioning.DefaultRingSeconds))
		fs.StringSliceVar(&members, "member", nil, "member extension NUMBER (repeatable, order kept; on update replaces all)")
		fs.StringVar(&did, "did", "", `direct public number, e.g. +4755550200, inside the tenant's DID ranges; "" removes it`)
		fs.StringVar(&overflow, "overflow", "", `where a call no member answered goes: voicemail:NUMBER (an extension's mailbox) or a number such as 2001 or +4791234567; "" removes it`)
		return func() (provisioning.GroupInput, error) {
			return provisioning.GroupInput{Name: optStr(fs, "name", &name), Strategy: optStr(fs, "strategy", &strategy),
				RingSeconds: optInt(fs, "ring-seconds", &ring), Members: optStrs(fs, "member", &members), DID: optStr(fs, "did", &did),
				Overflow: optStr(fs, "overflow", &overflow)}, nil
		}
	},
	add: (*provisioning.Service).AddGroup, update: (*provisioning.Service).UpdateGroup, remove: (*provisioning.Service).RemoveGroup,
	show: (*provisioning.Service).Group, list: (*provisioning.Service).Groups,
}

var deviceSecretCols = []column[provisioning.DeviceSecretView]{
	{"mac", func(v provisioning.DeviceSecretView) string { return v.MAC }},
	{"auth_user", func(v provisioning.DeviceSecretView) string { return v.AuthUser }},
	{"secret", func(v provisioning.DeviceSecretView) string { return v.Secret }},
	{"rotated", func(v provisioning.DeviceSecretView) string { return strconv.FormatBool(v.Rotated) }},
}

// deviceSecretCmd shows a desk phone's own username and secret, which
// list and show never print; --rotate makes a new secret first.
func (a *app) deviceSecretCmd() *cobra.Command {
	var tenant string
	var rotate bool
	cmd := &cobra.Command{
		Use:   "secret MAC --tenant TENANT [--rotate]",
		Short: "Show a desk phone's SIP/provisioning username and secret (--rotate makes a new secret)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("device secret: give exactly one MAC argument, got %d", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			v, err := p.DeviceSecret(cmd.Context(), tenant, args[0], rotate)
			if err != nil {
				return err
			}
			if err := printOne(a, v, deviceSecretCols); err != nil {
				return err
			}
			if v.Rotated {
				fmt.Fprintf(a.stderr, "note: the old secret of device %s no longer works: the phone must fetch its new configuration before it can register again\n", v.MAC)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the device belongs to")
	cmd.Flags().BoolVar(&rotate, "rotate", false, "replace the secret with a new random one first")
	a.addOutputFlag(cmd)
	return cmd
}
