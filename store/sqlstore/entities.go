package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// tables holds one descriptor per entity; built once per opened store.
type tables struct {
	tenants     *table[store.Tenant, *store.Tenant]
	sites       *table[store.Site, *store.Site]
	departments *table[store.Department, *store.Department]
	people      *table[store.Person, *store.Person]
	extensions  *table[store.Extension, *store.Extension]
	devices     *table[store.Device, *store.Device]
	gateways    *table[store.DECTGateway, *store.DECTGateway]
	handsets    *table[store.DECTHandset, *store.DECTHandset]
	trunks      *table[store.Trunk, *store.Trunk]
	groups      *table[store.Group, *store.Group]
}

func newTables() *tables {
	return &tables{
		tenants:     tenantTable(),
		sites:       siteTable(),
		departments: departmentTable(),
		people:      personTable(),
		extensions:  extensionTable(),
		devices:     deviceTable(),
		gateways:    gatewayTable(),
		handsets:    handsetTable(),
		trunks:      trunkTable(),
		groups:      groupTable(),
	}
}

// Tenants returns the tenant repository.
func (s *Store) Tenants() store.Repo[store.Tenant] {
	return repo[store.Tenant, *store.Tenant]{s, s.sh.t.tenants}
}

// Sites returns the site repository.
func (s *Store) Sites() store.Repo[store.Site] { return repo[store.Site, *store.Site]{s, s.sh.t.sites} }

// Departments returns the department repository.
func (s *Store) Departments() store.Repo[store.Department] {
	return repo[store.Department, *store.Department]{s, s.sh.t.departments}
}

// People returns the person repository.
func (s *Store) People() store.Repo[store.Person] {
	return repo[store.Person, *store.Person]{s, s.sh.t.people}
}

// Extensions returns the extension repository.
func (s *Store) Extensions() store.Repo[store.Extension] {
	return repo[store.Extension, *store.Extension]{s, s.sh.t.extensions}
}

// Devices returns the device repository.
func (s *Store) Devices() store.Repo[store.Device] {
	return repo[store.Device, *store.Device]{s, s.sh.t.devices}
}

// DECTGateways returns the DECT gateway repository.
func (s *Store) DECTGateways() store.Repo[store.DECTGateway] {
	return repo[store.DECTGateway, *store.DECTGateway]{s, s.sh.t.gateways}
}

// DECTHandsets returns the DECT handset repository.
func (s *Store) DECTHandsets() store.Repo[store.DECTHandset] {
	return repo[store.DECTHandset, *store.DECTHandset]{s, s.sh.t.handsets}
}

// Trunks returns the trunk repository.
func (s *Store) Trunks() store.Repo[store.Trunk] {
	return repo[store.Trunk, *store.Trunk]{s, s.sh.t.trunks}
}

// Groups returns the ring group repository.
func (s *Store) Groups() store.Repo[store.Group] {
	return repo[store.Group, *store.Group]{s, s.sh.t.groups}
}

func siteTable() *table[store.Site, *store.Site] {
	const e = store.EntitySite
	return &table[store.Site, *store.Site]{
		entity: e, name: "sites", keyCol: "name", ownerCol: "tenant_id",
		cols:     []string{"tenant_id", "name", "address", "did"},
		order:    "name, tenant_id, id",
		dest:     func(v *store.Site) []any { return []any{&v.TenantID, &v.Name, &v.Address, &v.DID} },
		args:     func(v *store.Site) []any { return []any{v.TenantID, v.Name, v.Address, v.DID} },
		key:      func(v *store.Site) string { return v.Name },
		tenantID: func(v *store.Site) int64 { return v.TenantID },
		normalize: func(v *store.Site) {
			v.Name = strings.TrimSpace(v.Name)
			if v.DID != "" {
				v.DID = store.NormalizeDID(v.DID)
			}
		},
		check: func(ctx context.Context, tx *Store, v, _ *store.Site) error {
			t, err := tx.tenant(ctx, e, v.TenantID)
			if err != nil {
				return err
			}
			if v.Name == "" {
				return fieldErr(e, "name", "", store.ErrInvalid, "a site needs a name")
			}
			if err := tx.checkUnique(ctx, e, "sites", "name", "name", v.Name, v.TenantID, v.ID); err != nil {
				return err
			}
			if v.DID != "" && !store.InRanges(t.Ranges, store.RangeDID, v.DID) {
				if rs := store.FormatRanges(t.Ranges, store.RangeDID); rs != "" {
					return fieldErr(e, "did", v.DID, store.ErrInvalid, "outside tenant %s's DID ranges %s", t.Name, rs)
				}
				return fieldErr(e, "did", v.DID, store.ErrInvalid, "tenant %s has no DID ranges", t.Name)
			}
			return nil
		},
		checkDelete: func(ctx context.Context, tx *Store, v *store.Site) error {
			for _, q := range []string{
				"SELECT 'extension ' || number FROM extensions WHERE site_id = $1",
				"SELECT 'person ' || given_name || ' ' || family_name FROM people WHERE site_id = $1",
				"SELECT 'device ' || mac FROM devices WHERE site_id = $1",
				"SELECT 'DECT gateway ' || name FROM dect_gateways WHERE site_id = $1",
			} {
				if err := tx.inUse(ctx, e, "name", v.Name, q, v.ID); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

var deptCodeRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

func departmentTable() *table[store.Department, *store.Department] {
	const e = store.EntityDepartment
	return &table[store.Department, *store.Department]{
		entity: e, name: "departments", keyCol: "code", ownerCol: "tenant_id",
		cols:     []string{"tenant_id", "code", "name"},
		order:    "code, tenant_id, id",
		dest:     func(v *store.Department) []any { return []any{&v.TenantID, &v.Code, &v.Name} },
		args:     func(v *store.Department) []any { return []any{v.TenantID, v.Code, v.Name} },
		key:      func(v *store.Department) string { return v.Code },
		tenantID: func(v *store.Department) int64 { return v.TenantID },
		normalize: func(v *store.Department) {
			v.Code, v.Name = strings.TrimSpace(v.Code), strings.TrimSpace(v.Name)
		},
		check: func(ctx context.Context, tx *Store, v, _ *store.Department) error {
			if _, err := tx.tenant(ctx, e, v.TenantID); err != nil {
				return err
			}
			if !deptCodeRE.MatchString(v.Code) {
				return fieldErr(e, "code", v.Code, store.ErrInvalid, "must be 1 to 32 letters, digits, dots, underscores or hyphens")
			}
			if v.Name == "" {
				return fieldErr(e, "name", "", store.ErrInvalid, "a department needs a name")
			}
			return tx.checkUnique(ctx, e, "departments", "code", "code", v.Code, v.TenantID, v.ID)
		},
		checkDelete: func(ctx context.Context, tx *Store, v *store.Department) error {
			for _, q := range []string{
				"SELECT 'extension ' || number FROM extensions WHERE department_id = $1",
				"SELECT 'person ' || given_name || ' ' || family_name FROM people WHERE department_id = $1",
			} {
				if err := tx.inUse(ctx, e, "code", v.Code, q, v.ID); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func personKey(v *store.Person) string {
	if v.Email != "" {
		return v.Email
	}
	return strings.TrimSpace(v.GivenName + " " + v.FamilyName)
}

func personTable() *table[store.Person, *store.Person] {
	const e = store.EntityPerson
	return &table[store.Person, *store.Person]{
		entity: e, name: "people", keyCol: "email", ownerCol: "tenant_id",
		cols:  []string{"tenant_id", "given_name", "family_name", "title", "department_id", "site_id", "email", "mobile", "notes", "visibility"},
		order: "family_name, given_name, tenant_id, id",
		dest: func(v *store.Person) []any {
			return []any{&v.TenantID, &v.GivenName, &v.FamilyName, &v.Title, &v.DepartmentID, &v.SiteID, &v.Email, &v.Mobile, &v.Notes, &v.Visibility}
		},
		args: func(v *store.Person) []any {
			return []any{v.TenantID, v.GivenName, v.FamilyName, v.Title, nullID(v.DepartmentID), nullID(v.SiteID), v.Email, v.Mobile, v.Notes, string(v.Visibility)}
		},
		key:      personKey,
		tenantID: func(v *store.Person) int64 { return v.TenantID },
		normalize: func(v *store.Person) {
			v.GivenName, v.FamilyName, v.Email = strings.TrimSpace(v.GivenName), strings.TrimSpace(v.FamilyName), strings.TrimSpace(v.Email)
			if v.Visibility == "" {
				v.Visibility = store.VisibilityListed
			}
		},
		check: func(ctx context.Context, tx *Store, v, _ *store.Person) error {
			if _, err := tx.tenant(ctx, e, v.TenantID); err != nil {
				return err
			}
			if v.GivenName == "" && v.FamilyName == "" {
				return fieldErr(e, "name", "", store.ErrInvalid, "a person needs a given or a family name")
			}
			switch v.Visibility {
			case store.VisibilityListed, store.VisibilityInternal, store.VisibilitySecret:
			default:
				return fieldErr(e, "visibility", string(v.Visibility), store.ErrInvalid, "must be listed, internal or secret")
			}
			if v.Email != "" {
				if !strings.Contains(v.Email, "@") {
					return fieldErr(e, "email", v.Email, store.ErrInvalid, "not an e-mail address")
				}
				if err := tx.checkUnique(ctx, e, "people", "email", "email", v.Email, v.TenantID, v.ID); err != nil {
					return err
				}
			}
			if err := tx.checkRef(ctx, e, "department_id", "departments", store.EntityDepartment, v.TenantID, deref(v.DepartmentID)); err != nil {
				return err
			}
			return tx.checkRef(ctx, e, "site_id", "sites", store.EntitySite, v.TenantID, deref(v.SiteID))
		},
		checkDelete: func(ctx context.Context, tx *Store, v *store.Person) error {
			return tx.inUse(ctx, e, "id", itoa(v.ID), "SELECT 'extension ' || number FROM extensions WHERE person_id = $1", v.ID)
		},
	}
}

var (
	md5HexRE    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func extensionTable() *table[store.Extension, *store.Extension] {
	const e = store.EntityExtension
	return &table[store.Extension, *store.Extension]{
		entity: e, name: "extensions", keyCol: "number", ownerCol: "tenant_id",
		cols: []string{"tenant_id", "number", "display_name", "person_id", "department_id", "site_id", "cos", "ha1_md5", "ha1_sha256", "voicemail_pin", "enabled",
			"did", "hide_caller_id",
			"forward_always", "forward_busy", "forward_no_answer", "no_answer_seconds", "dnd", "voicemail", "voicemail_ask_pin", "language"},
		order: "length(number), number, tenant_id, id",
		dest: func(v *store.Extension) []any {
			return []any{&v.TenantID, &v.Number, &v.DisplayName, &v.PersonID, &v.DepartmentID, &v.SiteID, &v.COS, &v.HA1MD5, &v.HA1SHA256, &v.VoicemailPIN, &v.Enabled,
				&v.DID, &v.HideCallerID,
				&v.ForwardAlways, &v.ForwardBusy, &v.ForwardNoAnswer, &v.NoAnswerSeconds, &v.DND, &v.Voicemail, &v.VoicemailAskPIN, &v.Language}
		},
		args: func(v *store.Extension) []any {
			return []any{v.TenantID, v.Number, v.DisplayName, nullID(v.PersonID), nullID(v.DepartmentID), nullID(v.SiteID), string(v.COS), v.HA1MD5, v.HA1SHA256, v.VoicemailPIN, v.Enabled,
				v.DID, v.HideCallerID,
				v.ForwardAlways, v.ForwardBusy, v.ForwardNoAnswer, v.NoAnswerSeconds, v.DND, v.Voicemail, v.VoicemailAskPIN, v.Language}
		},
		key:      func(v *store.Extension) string { return v.Number },
		tenantID: func(v *store.Extension) int64 { return v.TenantID },
		normalize: func(v *store.Extension) {
			v.Number = strings.TrimSpace(v.Number)
			if v.COS == "" {
				v.COS = store.DefaultCOS
			}
			if v.DID != "" {
				v.DID = store.NormalizeDID(v.DID)
			}
			v.ForwardAlways = strings.TrimSpace(v.ForwardAlways)
			v.ForwardBusy = strings.TrimSpace(v.ForwardBusy)
			v.ForwardNoAnswer = strings.TrimSpace(v.ForwardNoAnswer)
			v.Language = strings.TrimSpace(v.Language)
		},
		check: func(ctx context.Context, tx *Store, v, old *store.Extension) error {
			if err := tx.checkNumber(ctx, e, v.TenantID, v.ID, v.Number); err != nil {
				return err
			}
			t, err := tx.tenant(ctx, e, v.TenantID)
			if err != nil {
				return err
			}
			if err := tx.checkDID(ctx, e, t, v.ID, v.DID); err != nil {
				return err
			}
			if old != nil && old.Number != v.Number {
				// Phones registered the old number's AOR; calls to the new
				// number must not reach them until they register it. (The
				// foreign key's ON UPDATE CASCADE would move them instead.)
				if _, err := tx.tx.tx.ExecContext(ctx, "DELETE FROM bindings WHERE tenant_id = $1 AND number = $2", old.TenantID, old.Number); err != nil {
					return fmt.Errorf("renumber extension %s: delete its bindings: %w", old.Number, err)
				}
			}
			switch v.COS {
			case store.COSInternal, store.COSNational, store.COSMobile, store.COSInternational:
			default:
				return fieldErr(e, "cos", string(v.COS), store.ErrInvalid, "must be internal, national, mobile or international")
			}
			if v.HA1MD5 != "" && !md5HexRE.MatchString(v.HA1MD5) {
				return fieldErr(e, "ha1_md5", "", store.ErrInvalid, "must be 32 lower-case hex digits")
			}
			if v.HA1SHA256 != "" && !sha256HexRE.MatchString(v.HA1SHA256) {
				return fieldErr(e, "ha1_sha256", "", store.ErrInvalid, "must be 64 lower-case hex digits")
			}
			if err := checkCallFeatures(v); err != nil {
				return err
			}
			if err := tx.checkRef(ctx, e, "person_id", "people", store.EntityPerson, v.TenantID, deref(v.PersonID)); err != nil {
				return err
			}
			if err := tx.checkRef(ctx, e, "department_id", "departments", store.EntityDepartment, v.TenantID, deref(v.DepartmentID)); err != nil {
				return err
			}
			return tx.checkRef(ctx, e, "site_id", "sites", store.EntitySite, v.TenantID, deref(v.SiteID))
		},
		checkDelete: func(ctx context.Context, tx *Store, v *store.Extension) error {
			for _, q := range []string{
				"SELECT 'line ' || l.line || ' of device ' || d.mac FROM device_lines l JOIN devices d ON d.id = l.device_id WHERE l.extension_id = $1 ORDER BY d.mac, l.line",
				"SELECT 'DECT handset ' || ipui FROM dect_handsets WHERE extension_id = $1 ORDER BY ipui",
				"SELECT 'group ' || g.number || ' \"' || g.name || '\"' FROM group_members m JOIN ring_groups g ON g.id = m.group_id WHERE m.extension_id = $1 ORDER BY g.number",
			} {
				if err := tx.inUse(ctx, e, "number", v.Number, q, v.ID); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func groupTable() *table[store.Group, *store.Group] {
	const e = store.EntityGroup
	return &table[store.Group, *store.Group]{
		entity: e, name: "ring_groups", keyCol: "number", ownerCol: "tenant_id",
		cols:  []string{"tenant_id", "number", "name", "strategy", "ring_seconds", "did", "overflow"},
		order: "length(number), number, tenant_id, id",
		dest: func(v *store.Group) []any {
			return []any{&v.TenantID, &v.Number, &v.Name, &v.Strategy, &v.RingSeconds, &v.DID, &v.Overflow}
		},
		args: func(v *store.Group) []any {
			return []any{v.TenantID, v.Number, v.Name, string(v.Strategy), v.RingSeconds, v.DID, v.Overflow}
		},
		key:      func(v *store.Group) string { return v.Number },
		tenantID: func(v *store.Group) int64 { return v.TenantID },
		normalize: func(v *store.Group) {
			v.Number = strings.TrimSpace(v.Number)
			if v.Strategy == "" {
				v.Strategy = store.GroupSimultaneous
			}
			if v.RingSeconds == 0 {
				v.RingSeconds = 20
			}
			if v.DID != "" {
				v.DID = store.NormalizeDID(v.DID)
			}
			v.Overflow = strings.TrimSpace(v.Overflow)
		},
		check: func(ctx context.Context, tx *Store, v, _ *store.Group) error {
			if err := tx.checkNumber(ctx, e, v.TenantID, v.ID, v.Number); err != nil {
				return err
			}
			t, err := tx.tenant(ctx, e, v.TenantID)
			if err != nil {
				return err
			}
			if err := tx.checkDID(ctx, e, t, v.ID, v.DID); err != nil {
				return err
			}
			switch v.Strategy {
			case store.GroupSimultaneous, store.GroupHunt:
			default:
				return fieldErr(e, "strategy", string(v.Strategy), store.ErrInvalid, "must be simultaneous or hunt")
			}
			if v.RingSeconds < 5 || v.RingSeconds > 600 {
				return fieldErr(e, "ring_seconds", itoa(int64(v.RingSeconds)), store.ErrInvalid, "must be 5 to 600 seconds")
			}
			if err := checkTarget("overflow", v.Overflow, v.Number, true); err != nil {
				return err
			}
			seen := make(map[int64]bool, len(v.Members))
			for _, m := range v.Members {
				if seen[m] {
					return fieldErr(e, "members", itoa(m), store.ErrInvalid, "extension %d is listed twice", m)
				}
				seen[m] = true
				if m == 0 {
					return fieldErr(e, "members", "0", store.ErrNotFound, "no extension has this id")
				}
				if err := tx.checkRef(ctx, e, "members", "extensions", store.EntityExtension, v.TenantID, m); err != nil {
					return err
				}
			}
			return nil
		},
		saveChildren: func(ctx context.Context, tx *Store, v *store.Group, create bool) error {
			if !create {
				if _, err := tx.tx.tx.ExecContext(ctx, "DELETE FROM group_members WHERE group_id = $1", v.ID); err != nil {
					return fmt.Errorf("replace group members: %w", err)
				}
			}
			for i, m := range v.Members {
				if _, err := tx.tx.tx.ExecContext(ctx, "INSERT INTO group_members (group_id, position, extension_id) VALUES ($1, $2, $3)", v.ID, i, m); err != nil {
					return fmt.Errorf("write group member %d: %w", m, tx.classify(err))
				}
			}
			return nil
		},
		load: func(ctx context.Context, s *Store, vs []*store.Group) error {
			idx := make(map[int64]*store.Group, len(vs))
			ids := make([]int64, len(vs))
			for i, v := range vs {
				idx[v.ID], ids[i] = v, v.ID
				v.Members = []int64{}
			}
			err := children(ctx, s, "SELECT group_id, extension_id FROM group_members WHERE group_id IN (%s) ORDER BY group_id, position", ids,
				func(rows *sql.Rows) error {
					var gid, ext int64
					if err := rows.Scan(&gid, &ext); err != nil {
						return err
					}
					idx[gid].Members = append(idx[gid].Members, ext)
					return nil
				})
			if err != nil {
				return fmt.Errorf("read group members: %w", err)
			}
			return nil
		},
	}
}

var (
	macRE  = regexp.MustCompile(`^[0-9a-f]{12}$`)
	ipuiRE = regexp.MustCompile(`^[0-9A-F]{10}$`)
)

func deviceTable() *table[store.Device, *store.Device] {
	const e = store.EntityDevice
	return &table[store.Device, *store.Device]{
		entity: e, name: "devices", keyCol: "mac", global: true, ownerCol: "tenant_id",
		cols:  []string{"tenant_id", "mac", "model", "site_id", "description", "auth_user", "secret"},
		order: "mac, id",
		dest: func(v *store.Device) []any {
			return []any{&v.TenantID, &v.MAC, &v.Model, &v.SiteID, &v.Description, &v.AuthUser, &v.Secret}
		},
		args: func(v *store.Device) []any {
			return []any{v.TenantID, v.MAC, v.Model, nullID(v.SiteID), v.Description, v.AuthUser, v.Secret}
		},
		key:      func(v *store.Device) string { return v.MAC },
		tenantID: func(v *store.Device) int64 { return v.TenantID },
		normalize: func(v *store.Device) {
			v.AuthUser = strings.TrimSpace(v.AuthUser)
			if v.AuthUser == "" {
				v.AuthUser = store.DefaultAuthUser(v.MAC)
			}
		},
		check: func(ctx context.Context, tx *Store, v, old *store.Device) error {
			if _, err := tx.tenant(ctx, e, v.TenantID); err != nil {
				return err
			}
			if !macRE.MatchString(v.MAC) {
				return fieldErr(e, "mac", v.MAC, store.ErrInvalid, "must be 12 lower-case hex digits without separators")
			}
			var owner int64
			found, err := tx.lookup(ctx, "SELECT tenant_id FROM devices WHERE mac = $1 AND id <> $2", []any{v.MAC, v.ID}, &owner)
			if err != nil {
				return err
			}
			if found {
				if owner == v.TenantID {
					return fieldErr(e, "mac", v.MAC, store.ErrExists, "device %s is already provisioned", v.MAC)
				}
				return fieldErr(e, "mac", v.MAC, store.ErrExists, "device %s is already provisioned for another tenant", v.MAC)
			}
			if err := checkDeviceCredentials(ctx, tx, v, old); err != nil {
				return err
			}
			if err := tx.checkRef(ctx, e, "site_id", "sites", store.EntitySite, v.TenantID, deref(v.SiteID)); err != nil {
				return err
			}
			seen := make(map[int]bool, len(v.Lines))
			for _, l := range v.Lines {
				if l.Line < 1 {
					return fieldErr(e, "lines", itoa(int64(l.Line)), store.ErrInvalid, "line numbers start at 1")
				}
				if seen[l.Line] {
					return fieldErr(e, "lines", itoa(int64(l.Line)), store.ErrInvalid, "line %d is given twice", l.Line)
				}
				seen[l.Line] = true
				if l.ExtensionID == 0 {
					return fieldErr(e, "lines", itoa(int64(l.Line)), store.ErrInvalid, "line %d has no extension", l.Line)
				}
				if err := tx.checkRef(ctx, e, "lines", "extensions", store.EntityExtension, v.TenantID, l.ExtensionID); err != nil {
					return err
				}
			}
			return nil
		},
		saveChildren: func(ctx context.Context, tx *Store, v *store.Device, create bool) error {
			if !create {
				if _, err := tx.tx.tx.ExecContext(ctx, "DELETE FROM device_lines WHERE device_id = $1", v.ID); err != nil {
					return fmt.Errorf("replace device lines: %w", err)
				}
			}
			for _, l := range v.Lines {
				if _, err := tx.tx.tx.ExecContext(ctx, "INSERT INTO device_lines (device_id, line, extension_id) VALUES ($1, $2, $3)", v.ID, l.Line, l.ExtensionID); err != nil {
					return fmt.Errorf("write device line %d: %w", l.Line, tx.classify(err))
				}
			}
			return nil
		},
		load: func(ctx context.Context, s *Store, vs []*store.Device) error {
			idx := make(map[int64]*store.Device, len(vs))
			ids := make([]int64, len(vs))
			for i, v := range vs {
				idx[v.ID], ids[i] = v, v.ID
				v.Lines = []store.DeviceLine{}
			}
			err := children(ctx, s, "SELECT device_id, line, extension_id FROM device_lines WHERE device_id IN (%s) ORDER BY device_id, line", ids,
				func(rows *sql.Rows) error {
					var did int64
					var l store.DeviceLine
					if err := rows.Scan(&did, &l.Line, &l.ExtensionID); err != nil {
						return err
					}
					idx[did].Lines = append(idx[did].Lines, l)
					return nil
				})
			if err != nil {
				return fmt.Errorf("read device lines: %w", err)
			}
			return nil
		},
	}
}

func gatewayTable() *table[store.DECTGateway, *store.DECTGateway] {
	const e = store.EntityDECTGateway
	return &table[store.DECTGateway, *store.DECTGateway]{
		entity: e, name: "dect_gateways", keyCol: "name", ownerCol: "tenant_id",
		cols:  []string{"tenant_id", "name", "model", "address", "site_id", "mode"},
		order: "name, tenant_id, id",
		dest: func(v *store.DECTGateway) []any {
			return []any{&v.TenantID, &v.Name, &v.Model, &v.Address, &v.SiteID, &v.Mode}
		},
		args: func(v *store.DECTGateway) []any {
			return []any{v.TenantID, v.Name, v.Model, v.Address, nullID(v.SiteID), string(v.Mode)}
		},
		key:      func(v *store.DECTGateway) string { return v.Name },
		tenantID: func(v *store.DECTGateway) int64 { return v.TenantID },
		normalize: func(v *store.DECTGateway) {
			v.Name = strings.TrimSpace(v.Name)
			if v.Mode == "" {
				v.Mode = store.DECTRegister
			}
		},
		check: func(ctx context.Context, tx *Store, v, _ *store.DECTGateway) error {
			if _, err := tx.tenant(ctx, e, v.TenantID); err != nil {
				return err
			}
			if v.Name == "" {
				return fieldErr(e, "name", "", store.ErrInvalid, "a DECT gateway needs a name")
			}
			switch v.Mode {
			case store.DECTRegister, store.DECTStatic:
			default:
				return fieldErr(e, "mode", string(v.Mode), store.ErrInvalid, "must be register or static")
			}
			if err := tx.checkUnique(ctx, e, "dect_gateways", "name", "name", v.Name, v.TenantID, v.ID); err != nil {
				return err
			}
			return tx.checkRef(ctx, e, "site_id", "sites", store.EntitySite, v.TenantID, deref(v.SiteID))
		},
		checkDelete: func(ctx context.Context, tx *Store, v *store.DECTGateway) error {
			return tx.inUse(ctx, e, "name", v.Name, "SELECT 'DECT handset ' || ipui FROM dect_handsets WHERE gateway_id = $1 ORDER BY ipui", v.ID)
		},
	}
}

func handsetTable() *table[store.DECTHandset, *store.DECTHandset] {
	const e = store.EntityDECTHandset
	return &table[store.DECTHandset, *store.DECTHandset]{
		entity: e, name: "dect_handsets", keyCol: "ipui", global: true, ownerCol: "tenant_id",
		cols:  []string{"tenant_id", "gateway_id", "ipui", "extension_id"},
		order: "ipui, id",
		dest: func(v *store.DECTHandset) []any {
			return []any{&v.TenantID, &v.GatewayID, &v.IPUI, &v.ExtensionID}
		},
		args: func(v *store.DECTHandset) []any {
			return []any{v.TenantID, v.GatewayID, v.IPUI, v.ExtensionID}
		},
		key:      func(v *store.DECTHandset) string { return v.IPUI },
		tenantID: func(v *store.DECTHandset) int64 { return v.TenantID },
		check: func(ctx context.Context, tx *Store, v, _ *store.DECTHandset) error {
			if _, err := tx.tenant(ctx, e, v.TenantID); err != nil {
				return err
			}
			if !ipuiRE.MatchString(v.IPUI) {
				return fieldErr(e, "ipui", v.IPUI, store.ErrInvalid, "must be 10 upper-case hex digits")
			}
			if err := tx.checkUnique(ctx, e, "dect_handsets", "ipui", "ipui", v.IPUI, 0, v.ID); err != nil {
				return err
			}
			if v.GatewayID == 0 {
				return fieldErr(e, "gateway_id", "", store.ErrInvalid, "a handset needs a gateway")
			}
			if err := tx.checkRef(ctx, e, "gateway_id", "dect_gateways", store.EntityDECTGateway, v.TenantID, v.GatewayID); err != nil {
				return err
			}
			if v.ExtensionID == 0 {
				return fieldErr(e, "extension_id", "", store.ErrInvalid, "a handset needs an extension")
			}
			return tx.checkRef(ctx, e, "extension_id", "extensions", store.EntityExtension, v.TenantID, v.ExtensionID)
		},
	}
}

func trunkTable() *table[store.Trunk, *store.Trunk] {
	const e = store.EntityTrunk
	return &table[store.Trunk, *store.Trunk]{
		entity: e, name: "trunks", keyCol: "name", ownerCol: "tenant_id",
		cols:  []string{"tenant_id", "name", "mode", "host", "port", "transport", "username", "password", "realm", "priority", "enabled", "emergency"},
		order: "name, tenant_id, id",
		dest: func(v *store.Trunk) []any {
			return []any{&v.TenantID, &v.Name, &v.Mode, &v.Host, &v.Port, &v.Transport, &v.Username, &v.Password, &v.Realm, &v.Priority, &v.Enabled, &v.Emergency}
		},
		args: func(v *store.Trunk) []any {
			return []any{v.TenantID, v.Name, string(v.Mode), v.Host, v.Port, v.Transport, v.Username, v.Password, v.Realm, v.Priority, v.Enabled, v.Emergency}
		},
		key:      func(v *store.Trunk) string { return v.Name },
		tenantID: func(v *store.Trunk) int64 { return v.TenantID },
		normalize: func(v *store.Trunk) {
			v.Name, v.Host = strings.TrimSpace(v.Name), strings.TrimSpace(v.Host)
			if v.Transport == "" {
				v.Transport = "udp"
			}
			if v.Port == 0 {
				v.Port = 5060
				if v.Transport == "tls" {
					v.Port = 5061
				}
			}
			for i := range v.Routes {
				v.Routes[i] = strings.TrimSpace(v.Routes[i])
			}
			for i := range v.PeerAddresses {
				v.PeerAddresses[i] = strings.TrimSpace(v.PeerAddresses[i])
			}
		},
		check: func(ctx context.Context, tx *Store, v, _ *store.Trunk) error {
			if _, err := tx.tenant(ctx, e, v.TenantID); err != nil {
				return err
			}
			if v.Name == "" {
				return fieldErr(e, "name", "", store.ErrInvalid, "a trunk needs a name")
			}
			switch v.Mode {
			case store.TrunkRegister, store.TrunkPeer:
			default:
				return fieldErr(e, "mode", string(v.Mode), store.ErrInvalid, "must be register or peer")
			}
			if v.Host == "" {
				return fieldErr(e, "host", "", store.ErrInvalid, "a trunk needs a host")
			}
			if v.Port < 1 || v.Port > 65535 {
				return fieldErr(e, "port", itoa(int64(v.Port)), store.ErrInvalid, "must be 1 to 65535")
			}
			switch v.Transport {
			case "udp", "tcp", "tls":
			default:
				return fieldErr(e, "transport", v.Transport, store.ErrInvalid, "must be udp, tcp or tls")
			}
			if v.Mode == store.TrunkRegister && v.Username == "" {
				return fieldErr(e, "username", "", store.ErrInvalid, "a registering trunk needs a username")
			}
			if v.Priority < 0 {
				return fieldErr(e, "priority", itoa(int64(v.Priority)), store.ErrInvalid, "must be 0 or more")
			}
			if err := checkTrunkLists(v); err != nil {
				return err
			}
			return tx.checkUnique(ctx, e, "trunks", "name", "name", v.Name, v.TenantID, v.ID)
		},
		saveChildren: func(ctx context.Context, tx *Store, v *store.Trunk, create bool) error {
			if !create {
				for _, q := range []string{"DELETE FROM trunk_routes WHERE trunk_id = $1", "DELETE FROM trunk_peers WHERE trunk_id = $1"} {
					if _, err := tx.tx.tx.ExecContext(ctx, q, v.ID); err != nil {
						return fmt.Errorf("replace trunk routes and peers: %w", err)
					}
				}
			}
			for i, r := range v.Routes {
				if _, err := tx.tx.tx.ExecContext(ctx, "INSERT INTO trunk_routes (trunk_id, position, prefix) VALUES ($1, $2, $3)", v.ID, i, r); err != nil {
					return fmt.Errorf("write trunk route %s: %w", r, tx.classify(err))
				}
			}
			for i, a := range v.PeerAddresses {
				if _, err := tx.tx.tx.ExecContext(ctx, "INSERT INTO trunk_peers (trunk_id, position, address) VALUES ($1, $2, $3)", v.ID, i, a); err != nil {
					return fmt.Errorf("write trunk peer %s: %w", a, tx.classify(err))
				}
			}
			return nil
		},
		load: func(ctx context.Context, s *Store, vs []*store.Trunk) error {
			idx := make(map[int64]*store.Trunk, len(vs))
			ids := make([]int64, len(vs))
			for i, v := range vs {
				idx[v.ID], ids[i] = v, v.ID
				v.Routes, v.PeerAddresses = []string{}, []string{}
			}
			err := children(ctx, s, "SELECT trunk_id, prefix FROM trunk_routes WHERE trunk_id IN (%s) ORDER BY trunk_id, position", ids,
				func(rows *sql.Rows) error {
					var id int64
					var r string
					if err := rows.Scan(&id, &r); err != nil {
						return err
					}
					idx[id].Routes = append(idx[id].Routes, r)
					return nil
				})
			if err != nil {
				return fmt.Errorf("read trunk routes: %w", err)
			}
			err = children(ctx, s, "SELECT trunk_id, address FROM trunk_peers WHERE trunk_id IN (%s) ORDER BY trunk_id, position", ids,
				func(rows *sql.Rows) error {
					var id int64
					var a string
					if err := rows.Scan(&id, &a); err != nil {
						return err
					}
					idx[id].PeerAddresses = append(idx[id].PeerAddresses, a)
					return nil
				})
			if err != nil {
				return fmt.Errorf("read trunk peers: %w", err)
			}
			return nil
		},
	}
}

// checkTrunkLists validates a trunk's route patterns and peer addresses.
func checkTrunkLists(v *store.Trunk) error {
	const e = store.EntityTrunk
	seen := make(map[string]bool, len(v.Routes))
	for _, r := range v.Routes {
		if !store.ValidRoute(r) {
			return fieldErr(e, "routes", r, store.ErrInvalid, "a route is + and up to %d digits, e.g. +47, +4781 or + for every number", store.MaxRouteDigits)
		}
		if seen[r] {
			return fieldErr(e, "routes", r, store.ErrInvalid, "route %s is given twice", r)
		}
		seen[r] = true
	}
	seen = make(map[string]bool, len(v.PeerAddresses))
	for _, a := range v.PeerAddresses {
		c, err := store.CanonicalPeer(a)
		if err != nil {
			return fieldErr(e, "peer_addresses", a, store.ErrInvalid, "%v", err)
		}
		if c != a {
			return fieldErr(e, "peer_addresses", a, store.ErrInvalid, "must be written %s", c)
		}
		if seen[a] {
			return fieldErr(e, "peer_addresses", a, store.ErrInvalid, "address %s is given twice", a)
		}
		seen[a] = true
	}
	if v.Mode == store.TrunkPeer && len(v.PeerAddresses) == 0 {
		return fieldErr(e, "peer_addresses", "", store.ErrInvalid,
			"a peer trunk needs the addresses the operator sends calls from: calls from anywhere else are refused")
	}
	return nil
}

// checkDeviceCredentials validates a device's AuthUser and secret. A new
// device without a secret gets a generated one; an update without one keeps
// the stored secret (old is nil on create).
func checkDeviceCredentials(ctx context.Context, tx *Store, v, old *store.Device) error {
	const e = store.EntityDevice
	if !store.ValidAuthUser(v.AuthUser) {
		return fieldErr(e, "auth_user", v.AuthUser, store.ErrInvalid,
			"must be 3 to 64 lower-case letters, digits, dots, underscores or hyphens, starting with a letter")
	}
	var mac string
	found, err := tx.lookup(ctx, "SELECT mac FROM devices WHERE auth_user = $1 AND id <> $2", []any{v.AuthUser, v.ID}, &mac)
	if err != nil {
		return err
	}
	if found {
		return fieldErr(e, "auth_user", v.AuthUser, store.ErrExists, "username %s is already used by device %s (usernames are unique across all tenants)", v.AuthUser, mac)
	}
	switch {
	case v.Secret != "":
	case old != nil && old.Secret != "":
		v.Secret = old.Secret
	default:
		if v.Secret, err = store.NewDeviceSecret(); err != nil {
			return err
		}
	}
	if !store.ValidSecret(v.Secret) {
		// The secret itself is never echoed, not even a refused one.
		return fieldErr(e, "secret", "", store.ErrInvalid, "must be 16 to 64 letters, digits or . _ + -")
	}
	return nil
}

// checkCallFeatures validates an extension's forwards, no-answer time and
// prompt language.
func checkCallFeatures(v *store.Extension) error {
	const e = store.EntityExtension
	for _, f := range []struct{ field, target string }{
		{"forward_always", v.ForwardAlways}, {"forward_busy", v.ForwardBusy}, {"forward_no_answer", v.ForwardNoAnswer},
	} {
		if err := checkTarget(f.field, f.target, v.Number, false); err != nil {
			return err
		}
	}
	if n := v.NoAnswerSeconds; n != 0 && (n < store.MinNoAnswerSeconds || n > store.MaxNoAnswerSeconds) {
		return fieldErr(e, "no_answer_seconds", itoa(int64(n)), store.ErrInvalid,
			"must be %d to %d seconds, or 0 for the default (%d)", store.MinNoAnswerSeconds, store.MaxNoAnswerSeconds, store.DefaultNoAnswerSeconds)
	}
	if !store.ValidLanguage(v.Language) {
		return fieldErr(e, "language", v.Language, store.ErrInvalid, "must be nb (Norwegian, the default) or en (English)")
	}
	return nil
}

// checkTarget validates a forward or overflow target of the extension or
// group numbered self and names field in the refusal. A target equal to
// self is refused: the call would come straight back.
func checkTarget(field, target, self string, group bool) error {
	if err := store.ValidateForwardTarget(target, group); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) {
			c := *fe
			c.Field = field
			return &c
		}
		return err
	}
	if target != "" && target == self {
		ent := store.EntityExtension
		if group {
			ent = store.EntityGroup
		}
		return fieldErr(ent, field, target, store.ErrInvalid, "is the %s's own number: the call would come straight back; name another number or a mailbox", ent)
	}
	return nil
}
