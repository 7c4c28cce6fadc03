package provisioning

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sentralpbx/sentral/sip/dialplan"
	"github.com/sentralpbx/sentral/store"
)

// CatalogueColumns are the columns of a phone catalogue file, in the order
// docs/import-format.md lists them.
var CatalogueColumns = []string{"given_name", "family_name", "title", "department_code", "department_name", "site",
	"email", "mobile", "extension", "did", "visibility", "notes"}

// CatalogueCOS is the class of service of extensions a catalogue import
// creates. The legacy catalogue says nothing about call rights, so new
// extensions get what `ext add` gives (store.DefaultCOS, mobile): staff
// call mobiles every day, and anything narrower would turn the migration
// into a queue of support tickets. Admins narrow or widen it per
// extension with `sentral ext update --cos`.
const CatalogueCOS = store.DefaultCOS

// CatalogueOptions tune a catalogue import.
type CatalogueOptions struct {
	DryRun bool // do everything in a transaction, report, and roll it back
}

// CatalogueCounts says how many entities of one kind the file named and
// what the import did to them.
type CatalogueCounts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// CatalogueChange is one entity a catalogue import created or updated.
type CatalogueChange struct {
	Row    int      `json:"row"`              // first row naming the entity
	Kind   string   `json:"kind"`             // department, site, person or extension
	Key    string   `json:"key"`              // code, name, e-mail (or name) or number
	Action string   `json:"action"`           // created or updated
	Fields []string `json:"fields,omitempty"` // what an update changed
}

// CatalogueResult is what a catalogue import did (or, with DryRun, would do).
type CatalogueResult struct {
	DryRun      bool              `json:"dry_run"`
	Departments CatalogueCounts   `json:"departments"`
	Sites       CatalogueCounts   `json:"sites"`
	People      CatalogueCounts   `json:"people"`
	Extensions  CatalogueCounts   `json:"extensions"`
	Changes     []CatalogueChange `json:"changes"`
	// NoPassword lists the extensions created without a SIP password:
	// they cannot register until an admin runs `sentral ext passwd`.
	NoPassword []string      `json:"no_password"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

// Changed reports whether the import created or updated anything.
func (r CatalogueResult) Changed() bool { return len(r.Changes) > 0 }

// catRow is one data row of a catalogue, trimmed and normalised.
type catRow struct {
	line                                  int
	given, family, title, deptCode        string
	deptName, site, email, mobile, number string
	did, notes                            string
	vis                                   store.Visibility // "" when the cell is empty
	bad                                   bool             // refused by the row checks
}

func (r *catRow) isPerson() bool { return r.given != "" || r.family != "" }

// displayName is what phones show for the row's extension: the person's
// name, or for a service line its title (falling back to the department
// name, for a department's main number).
func (r *catRow) displayName() string {
	if r.isPerson() {
		return strings.TrimSpace(r.given + " " + r.family)
	}
	if r.title != "" {
		return r.title
	}
	return r.deptName
}

// errRollback ends the import transaction without committing it: for a
// dry run, or when some row was refused.
var errRollback = errors.New("catalogue import: roll back")

// ImportCatalogue reads a legacy phone catalogue (people, their extensions,
// departments and sites; see docs/import-format.md) and makes the tenant
// match it. It is idempotent: entities are found by their keys and only
// what differs is written, so importing the same file twice changes
// nothing the second time. Everything happens in one transaction: a row the
// checks or the store refuse is reported with its line and column, every
// bad row is reported, and nothing is applied unless every row is good. A
// dry run does the same work and rolls it back.
func (s *Service) ImportCatalogue(ctx context.Context, tenant string, r io.Reader, opt CatalogueOptions) (CatalogueResult, error) {
	start := time.Now()
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return CatalogueResult{}, err
	}
	rows, has, errs := readCatalogue(r)
	if rows == nil && len(errs) > 0 {
		return CatalogueResult{}, catalogueRefusal(errs)
	}
	errs = append(errs, checkCatalogueRows(rows, has, t)...)
	res := CatalogueResult{DryRun: opt.DryRun, Changes: []CatalogueChange{}, NoPassword: []string{}}
	err = s.st.InTx(ctx, func(tx store.Store) error {
		a := &catApply{tx: tx, t: t, has: has, res: &res}
		if err := a.run(ctx, rows); err != nil {
			return err
		}
		errs = append(errs, a.errs...)
		if opt.DryRun || len(errs) > 0 {
			return errRollback
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRollback) {
		return CatalogueResult{}, fmt.Errorf("import catalogue into %s: %w", t.Name, err)
	}
	if len(errs) > 0 {
		return CatalogueResult{}, catalogueRefusal(errs)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func catalogueRefusal(errs []RowError) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Row < errs[j].Row })
	return &ImportError{Rows: errs}
}

// readCatalogue reads the header and the rows of a catalogue, checking only
// the file's shape. has says which columns the header names: a column that
// is absent leaves its field of existing entities alone. rows is nil when
// the header is unusable.
func readCatalogue(r io.Reader) (rows []*catRow, has map[string]bool, errs []RowError) {
	col, recs, errs := readTable(r, CatalogueColumns)
	if col == nil {
		return nil, nil, errs
	}
	has = map[string]bool{}
	for c := range col {
		has[c] = true
	}
	rows = []*catRow{}
	for _, rec := range recs {
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec.fields[i])
			}
			return ""
		}
		rows = append(rows, &catRow{line: rec.line, given: get("given_name"), family: get("family_name"), title: get("title"),
			deptCode: get("department_code"), deptName: get("department_name"), site: get("site"), email: get("email"),
			mobile: get("mobile"), number: get("extension"), did: get("did"), vis: store.Visibility(get("visibility")), notes: get("notes")})
	}
	return rows, has, errs
}

const notUTF8 = "is not UTF-8 text (the letters æ, ø and å are garbled); fix: in Excel save as \"CSV UTF-8 (kommadelt)\", or convert the file with iconv -f windows-1252 -t utf-8"

// csvRecord is one non-empty data record and the line it starts on.
type csvRecord struct {
	line   int
	fields []string
}

// readTable reads a spreadsheet's CSV export: UTF-8 with or without a
// byte-order mark, separated by ',' or ';' (whichever the header line uses
// more), a header row naming columns from known in any order and case.
// col maps each named column to its index and is nil when the header is
// unusable; records that are blank (Excel writes ";;;;" for an empty row)
// are dropped.
func readTable(r io.Reader, known []string) (col map[string]int, recs []csvRecord, errs []RowError) {
	br := bufio.NewReader(r)
	// Spreadsheets saved as "CSV UTF-8" start with a byte-order mark.
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	// Excel in a Norwegian locale separates with semicolons (the comma is
	// the decimal mark). Peek returns what it has even when the file is
	// shorter than the buffer.
	head, _ := br.Peek(br.Size())
	first, _, _ := strings.Cut(string(head), "\n")
	if strings.Count(first, ";") > strings.Count(first, ",") {
		cr.Comma = ';'
	}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, []RowError{{Row: 1, Reason: "the file is empty; fix: start with a header row such as " + strings.Join(known[:min(3, len(known))], ",")}}
	}
	if err != nil {
		return nil, nil, []RowError{csvError(err)}
	}
	for _, h := range header {
		if !utf8.ValidString(h) {
			return nil, nil, []RowError{{Row: 1, Reason: notUTF8}}
		}
	}
	col = map[string]int{}
	nameless := map[int]bool{} // empty header cells: Excel adds them after formatted columns
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch _, dup := col[name]; {
		case name == "":
			nameless[i] = true
		case !slices.Contains(known, name):
			errs = append(errs, RowError{Row: 1, Column: h, Reason: fmt.Sprintf("unknown column; fix: rename or remove it (the columns are %s)", strings.Join(known, ", "))})
		case dup:
			errs = append(errs, RowError{Row: 1, Column: h, Reason: "column given twice; fix: keep one of them"})
		default:
			col[name] = i
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, csvError(err))
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			break // a broken quote leaves the rest of the file unreadable
		}
		line, _ := cr.FieldPos(0)
		blank := true
		for _, f := range rec {
			if strings.TrimSpace(f) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue
		}
		if len(rec) != len(header) {
			errs = append(errs, RowError{Row: line, Reason: fmt.Sprintf("has %d fields, the header has %d; fix: quote values that contain the separator", len(rec), len(header))})
			continue
		}
		ok := true
		for i, f := range rec {
			// Excel's plain "CSV" is Windows-1252: its æøå are not UTF-8,
			// and PostgreSQL would refuse them as a system error.
			if !utf8.ValidString(f) {
				name := strings.TrimSpace(header[i])
				if name == "" {
					name = "#" + strconv.Itoa(i+1)
				}
				errs = append(errs, RowError{Row: line, Column: name, Reason: notUTF8})
				ok = false
			}
		}
		for i := range nameless {
			if strings.TrimSpace(rec[i]) != "" {
				errs = append(errs, RowError{Row: line, Column: "#" + strconv.Itoa(i+1), Reason: fmt.Sprintf("%q is in a column without a name; fix: name the column in the header row, or move the value", rec[i])})
				ok = false
			}
		}
		if ok {
			recs = append(recs, csvRecord{line: line, fields: rec})
		}
	}
	return col, recs, errs
}

// ParseCatalogueVisibility reads a phone-book visibility as the catalogue
// writes it: listed, internal or secret, or the Norwegian offentlig,
// intern or hemmelig (any case).
func ParseCatalogueVisibility(field, s string) (store.Visibility, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "listed", "offentlig":
		return store.VisibilityListed, nil
	case "internal", "intern":
		return store.VisibilityInternal, nil
	case "secret", "hemmelig":
		return store.VisibilitySecret, nil
	}
	return "", Invalid(field, s, "unknown visibility", "use listed/offentlig (public phone book), internal/intern (employees only) or secret/hemmelig (switchboard only)")
}

// NormalizeMobile reads a person's mobile number and returns it in E.164:
// a Norwegian mobile (8 digits starting with 4 or 9, with or without +47,
// 0047 and spaces) or a foreign number. Landlines, short and special-rate
// numbers are refused: the column feeds the phone book's "mobile" and
// the switchboard's call-forward suggestions.
func NormalizeMobile(field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	fix := "give a mobile number: 8 digits starting with 4 or 9 (912 34 567) or E.164 (+47 912 34 567)"
	n, err := dialplan.Classify(dialplan.Plan{}, s)
	if err != nil {
		// Excel turns "+4791234567" into the number 4791234567.
		digits := strings.Map(func(r rune) rune {
			if r == ' ' {
				return -1
			}
			return r
		}, strings.TrimSpace(s))
		if len(digits) == 10 && strings.HasPrefix(digits, "47") {
			if m, err2 := dialplan.Classify(dialplan.Plan{}, "+"+digits); err2 == nil && m.Kind == dialplan.Mobile {
				return m.Normalised, nil
			}
		}
		var de *dialplan.Error
		if errors.As(err, &de) {
			return "", Invalid(field, s, "is not a phone number: "+de.Detail, fix)
		}
		return "", Invalid(field, s, "is not a phone number", fix)
	}
	switch n.Kind {
	case dialplan.Mobile, dialplan.International:
		return n.Normalised, nil
	case dialplan.National:
		return "", Invalid(field, s, "is a Norwegian landline number, not a mobile", "give the mobile number, or put a direct landline in did (with extension)")
	}
	return "", Invalid(field, s, fmt.Sprintf("is a %s number, not a mobile", n.Kind), fix)
}

// checkCatalogueRows checks every row on its own and against the other
// rows, without the store. Rows it refuses are marked bad and skipped by
// the store phase.
func checkCatalogueRows(rows []*catRow, has map[string]bool, t store.Tenant) []RowError {
	var errs []RowError
	seenNum := map[string]int{}
	seenDID := map[string]int{}
	for _, r := range rows {
		bad := func(column string, err error) {
			errs = append(errs, rowErr(r.line, column, err))
			r.bad = true
		}
		switch {
		case !r.isPerson() && r.number == "":
			errs = append(errs, RowError{Row: r.line, Reason: "names neither a person nor an extension; fix: give given_name and family_name, an extension, or both"})
			r.bad = true
		case r.isPerson() && r.given == "":
			bad("given_name", &Error{Problem: "is required for a person", Fix: "give both given_name and family_name, or neither for a service line (an extension named by title)"})
		case r.isPerson() && r.family == "":
			bad("family_name", &Error{Problem: "is required for a person", Fix: "give both given_name and family_name, or neither for a service line (an extension named by title)"})
		case !r.isPerson():
			// A service line ("Vaktrom"): an extension without a person.
			if r.displayName() == "" {
				bad("title", &Error{Problem: "is required for a service line (an extension without given_name and family_name): it is the name phones show",
					Fix: "give the line's name in title, e.g. Vaktrom, or the person's given_name and family_name"})
			}
			for _, c := range []struct{ col, v string }{{"email", r.email}, {"mobile", r.mobile}, {"visibility", string(r.vis)}, {"notes", r.notes}} {
				if c.v != "" {
					bad(c.col, &Error{Value: c.v, Problem: "belongs to a person, and this row has none (no given_name or family_name)",
						Fix: "remove it, or give the person's given_name and family_name"})
				}
			}
		}
		if r.email != "" {
			if e, err := CheckEmail("email", r.email); err != nil {
				bad("email", err)
			} else {
				r.email = e
			}
		}
		if r.mobile != "" {
			if m, err := NormalizeMobile("mobile", r.mobile); err != nil {
				bad("mobile", err)
			} else {
				r.mobile = m
			}
		}
		if r.vis != "" {
			if v, err := ParseCatalogueVisibility("visibility", string(r.vis)); err != nil {
				bad("visibility", err)
			} else {
				r.vis = v
			}
		}
		if r.deptName != "" && r.deptCode == "" {
			bad("department_name", &Error{Value: r.deptName, Problem: "is given without department_code",
				Fix: "give the department's code (cost centre) in department_code too; departments are found by code"})
		}
		if r.number != "" {
			n, err := CheckNumber("extension", r.number)
			if err == nil {
				err = checkInRange("extension", n, t)
			}
			if err != nil {
				bad("extension", err)
			} else if first, dup := seenNum[n]; dup {
				bad("extension", &Error{Value: n, Problem: fmt.Sprintf("duplicates row %d of this file", first),
					Fix: "give each extension once; a person with two extensions has two rows with the same email"})
			} else {
				seenNum[n] = r.line
			}
		}
		if r.did != "" {
			d, err := checkOwnDID("did", r.did, t)
			switch {
			case r.number == "":
				bad("did", &Error{Value: r.did, Problem: "a direct number rings an extension, and this row has none", Fix: "give the extension it rings, or remove the did"})
			case err != nil:
				bad("did", err)
			case seenDID[d] != 0:
				bad("did", &Error{Value: d, Problem: fmt.Sprintf("duplicates row %d of this file", seenDID[d]), Fix: "give each direct number once"})
			default:
				seenDID[d] = r.line
				r.did = d
			}
		}
	}
	return errs
}

// Store fields as catalogue columns, per entity, to locate store refusals.
var (
	catDeptCols   = map[string]string{"code": "department_code", "name": "department_name", "department_id": "department_code"}
	catSiteCols   = map[string]string{"name": "site", "site_id": "site"}
	catPersonCols = map[string]string{"given_name": "given_name", "family_name": "family_name", "name": "given_name", "title": "title",
		"email": "email", "person_id": "email", "mobile": "mobile", "visibility": "visibility", "notes": "notes",
		"department_id": "department_code", "site_id": "site"}
	catExtCols = map[string]string{"number": "extension", "did": "did", "display_name": "title", "person_id": "email",
		"department_id": "department_code", "site_id": "site", "cos": "extension", "id": "extension"}
)

// catApply is the store phase of a catalogue import, inside its
// transaction. It writes what the rows say, collecting the store's
// refusals as row errors so that every bad row is reported.
type catApply struct {
	tx   store.Store
	t    store.Tenant
	has  map[string]bool
	res  *CatalogueResult
	errs []RowError

	depts      map[string]*store.Department // by code
	sites      map[string]*store.Site       // by name
	people     map[int64]*store.Person
	byEmail    map[string]int64
	byName     map[string][]int64          // "given\x00family" -> IDs
	exts       map[string]*store.Extension // by number
	deptFailed map[string]bool
	siteFailed map[string]bool
	personOf   map[*catRow]int64 // 0: the row's person failed
	didCleared map[string]bool   // extensions whose DID was taken away for another row
}

func (a *catApply) run(ctx context.Context, rows []*catRow) error {
	if err := a.load(ctx); err != nil {
		return err
	}
	for _, step := range []func(context.Context, []*catRow) error{a.departments, a.sitesStep, a.peopleStep, a.extensions} {
		if err := step(ctx, rows); err != nil {
			return err
		}
	}
	return nil
}

func (a *catApply) load(ctx context.Context) error {
	opt := store.ListOptions{TenantID: a.t.ID}
	depts, err := a.tx.Departments().List(ctx, opt)
	if err != nil {
		return fmt.Errorf("list departments: %w", err)
	}
	sites, err := a.tx.Sites().List(ctx, opt)
	if err != nil {
		return fmt.Errorf("list sites: %w", err)
	}
	people, err := a.tx.People().List(ctx, opt)
	if err != nil {
		return fmt.Errorf("list people: %w", err)
	}
	exts, err := a.tx.Extensions().List(ctx, opt)
	if err != nil {
		return fmt.Errorf("list extensions: %w", err)
	}
	a.depts, a.sites, a.exts = map[string]*store.Department{}, map[string]*store.Site{}, map[string]*store.Extension{}
	a.people, a.byEmail, a.byName = map[int64]*store.Person{}, map[string]int64{}, map[string][]int64{}
	a.deptFailed, a.siteFailed, a.personOf, a.didCleared = map[string]bool{}, map[string]bool{}, map[*catRow]int64{}, map[string]bool{}
	for i := range depts {
		a.depts[depts[i].Code] = &depts[i]
	}
	for i := range sites {
		a.sites[sites[i].Name] = &sites[i]
	}
	for i := range people {
		p := &people[i]
		a.people[p.ID] = p
		if p.Email != "" {
			a.byEmail[strings.ToLower(p.Email)] = p.ID
		}
		k := nameKey(p.GivenName, p.FamilyName)
		a.byName[k] = append(a.byName[k], p.ID)
	}
	for i := range exts {
		a.exts[exts[i].Number] = &exts[i]
	}
	return nil
}

func nameKey(given, family string) string {
	return strings.TrimSpace(given) + "\x00" + strings.TrimSpace(family)
}

// refused records a store refusal of what row line asked for; any other
// failure ends the import.
func (a *catApply) refused(line int, err error, cols map[string]string, noun string) error {
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("row %d: %w", line, err)
	}
	col := fe.Field
	if c, ok := cols[fe.Field]; ok {
		col = c
	}
	e := Explain(err, noun, cols)
	if pe, ok := e.(*Error); ok && col == "did" && errors.Is(err, store.ErrExists) {
		pe.Fix = "give each direct number to one extension: first take it from its holder (`sentral ext update NUMBER --did \"\"`, `sentral group update NUMBER --did \"\"`), or remove it from this row"
	}
	a.errs = append(a.errs, rowErr(line, col, e))
	return nil
}

func (a *catApply) note(line int, kind, key string, created bool, fields []string, c *CatalogueCounts) {
	switch {
	case created:
		c.Created++
		a.res.Changes = append(a.res.Changes, CatalogueChange{Row: line, Kind: kind, Key: key, Action: "created"})
	case len(fields) > 0:
		c.Updated++
		a.res.Changes = append(a.res.Changes, CatalogueChange{Row: line, Kind: kind, Key: key, Action: "updated", Fields: fields})
	default:
		c.Unchanged++
	}
}

// departments creates the departments the file names and renames those
// whose name differs. Rows the checks refused still count here, so that a
// department named on a bad row is not reported as nameless elsewhere.
func (a *catApply) departments(ctx context.Context, rows []*catRow) error {
	type plan struct {
		row, nameRow int
		name         string
	}
	plans := map[string]*plan{}
	var order []string
	for _, r := range rows {
		if r.deptCode == "" {
			continue
		}
		p := plans[r.deptCode]
		if p == nil {
			p = &plan{row: r.line}
			plans[r.deptCode] = p
			order = append(order, r.deptCode)
		}
		switch {
		case r.deptName == "":
		case p.name == "":
			p.name, p.nameRow = r.deptName, r.line
		case p.name != r.deptName:
			a.errs = append(a.errs, rowErr(r.line, "department_name", &Error{Value: r.deptName,
				Problem: fmt.Sprintf("differs from row %d (%q) for department %s", p.nameRow, p.name, r.deptCode),
				Fix:     "give a department the same name on every row, or leave it empty on all but one"}))
		}
	}
	for _, code := range order {
		p := plans[code]
		d, exists := a.depts[code]
		if !exists {
			if p.name == "" {
				a.errs = append(a.errs, rowErr(p.row, "department_code", &Error{Value: code,
					Problem: fmt.Sprintf("is not a department of tenant %s, and no row gives its name", a.t.Name),
					Fix:     fmt.Sprintf("give department_name on this row to create it, or use an existing code (`sentral dept list --tenant %s`)", a.t.Name)}))
				a.deptFailed[code] = true
				continue
			}
			d = &store.Department{TenantID: a.t.ID, Code: code, Name: p.name}
			if err := a.tx.Departments().Create(ctx, d); err != nil {
				a.deptFailed[code] = true
				if err := a.refused(p.row, err, catDeptCols, "dept"); err != nil {
					return err
				}
				continue
			}
			a.depts[code] = d
			a.note(p.row, "department", code, true, nil, &a.res.Departments)
			continue
		}
		var changed []string
		if p.name != "" && p.name != d.Name {
			d.Name = p.name
			if err := a.tx.Departments().Update(ctx, d); err != nil {
				a.deptFailed[code] = true
				if err := a.refused(p.nameRow, err, catDeptCols, "dept"); err != nil {
					return err
				}
				continue
			}
			changed = []string{"name"}
		}
		a.note(p.row, "department", code, false, changed, &a.res.Departments)
	}
	return nil
}

// sitesStep creates the sites the file names; sites are found by name and
// carry nothing else the catalogue knows, so they are never updated.
func (a *catApply) sitesStep(ctx context.Context, rows []*catRow) error {
	seen := map[string]bool{}
	for _, r := range rows {
		if r.site == "" || seen[r.site] {
			continue
		}
		seen[r.site] = true
		if _, ok := a.sites[r.site]; ok {
			a.note(r.line, "site", r.site, false, nil, &a.res.Sites)
			continue
		}
		v := &store.Site{TenantID: a.t.ID, Name: r.site}
		if err := a.tx.Sites().Create(ctx, v); err != nil {
			a.siteFailed[r.site] = true
			if err := a.refused(r.line, err, catSiteCols, "site"); err != nil {
				return err
			}
			continue
		}
		a.sites[r.site] = v
		a.note(r.line, "site", r.site, true, nil, &a.res.Sites)
	}
	return nil
}

// personPlan is one person as the rows naming them describe them.
type personPlan struct {
	key      string
	id       int64 // 0: a new person
	email    string
	rows     []*catRow
	vals     map[string]string // column -> value (first non-empty)
	valRow   map[string]int    // column -> row that gave the value
	dept     string
	site     string
	adoptsEm bool // an existing person without e-mail gets the row's
}

// resolvePerson finds who a row describes. Rows with an e-mail address
// are keyed by it; an unknown address may belong to an existing person
// without one who has exactly this name (the file gained e-mails since
// the last import). Rows without an e-mail are the person linked to the
// row's extension, else the one person of the tenant with exactly this
// name, else someone new.
func (a *catApply) resolvePerson(r *catRow) (key string, id int64, adopts bool, err *RowError) {
	unique := func(withoutEmail bool) (int64, int) {
		var found []int64
		for _, pid := range a.byName[nameKey(r.given, r.family)] {
			if !withoutEmail || a.people[pid].Email == "" {
				found = append(found, pid)
			}
		}
		if len(found) == 1 {
			return found[0], 1
		}
		return 0, len(found)
	}
	if r.email != "" {
		if pid, ok := a.byEmail[r.email]; ok {
			return "id:" + strconv.FormatInt(pid, 10), pid, false, nil
		}
		if pid, n := unique(true); n == 1 {
			return "id:" + strconv.FormatInt(pid, 10), pid, true, nil
		}
		return "email:" + r.email, 0, false, nil
	}
	if e := a.exts[r.number]; r.number != "" && e != nil && e.PersonID != nil && a.people[*e.PersonID] != nil {
		return "id:" + strconv.FormatInt(*e.PersonID, 10), *e.PersonID, false, nil
	}
	pid, n := unique(false)
	switch {
	case n == 1:
		return "id:" + strconv.FormatInt(pid, 10), pid, false, nil
	case n > 1:
		re := rowErr(r.line, "email", &Error{Problem: fmt.Sprintf("%d people of tenant %s are called %s %s, and this row has no email to tell which", n, a.t.Name, r.given, r.family),
			Fix: "give the person's email address (see `sentral person list`)"})
		return "", 0, false, &re
	}
	return "name:" + nameKey(r.given, r.family), 0, false, nil
}

// personFields are the columns that describe a person rather than one of
// their extensions; the rows of one person must agree on them.
var personFields = []string{"given_name", "family_name", "title", "mobile", "visibility", "notes"}

func (r *catRow) personValue(col string) string {
	switch col {
	case "given_name":
		return r.given
	case "family_name":
		return r.family
	case "title":
		return r.title
	case "mobile":
		return r.mobile
	case "visibility":
		return string(r.vis)
	case "notes":
		return r.notes
	}
	return ""
}

func (a *catApply) peopleStep(ctx context.Context, rows []*catRow) error {
	plans := map[string]*personPlan{}
	var order []*personPlan
	for _, r := range rows {
		if r.bad || !r.isPerson() {
			continue
		}
		key, id, adopts, rerr := a.resolvePerson(r)
		if rerr != nil {
			a.errs = append(a.errs, *rerr)
			continue
		}
		p := plans[key]
		if p == nil {
			p = &personPlan{key: key, id: id, vals: map[string]string{}, valRow: map[string]int{}}
			plans[key] = p
			order = append(order, p)
		}
		p.rows = append(p.rows, r)
		if r.email != "" && p.email == "" {
			p.email = r.email
			p.adoptsEm = adopts
		} else if r.email != "" && r.email != p.email {
			// Two addresses reached one person: through the extension
			// link or the name on a row without one, and an e-mail here.
			a.errs = append(a.errs, rowErr(r.line, "email", &Error{Value: r.email,
				Problem: fmt.Sprintf("is the same person as row %d (%s), which has another email", p.rows[0].line, p.email),
				Fix:     "give one person one email on every row"}))
			continue
		}
		for _, col := range personFields {
			v := r.personValue(col)
			switch {
			case v == "":
			case p.vals[col] == "":
				p.vals[col], p.valRow[col] = v, r.line
			case p.vals[col] != v:
				a.errs = append(a.errs, rowErr(r.line, col, &Error{Value: v,
					Problem: fmt.Sprintf("differs from row %d (%q) for the same person", p.valRow[col], p.vals[col]),
					Fix:     "give a person the same value on every row, or leave it empty on all but one"}))
			}
		}
		if p.dept == "" {
			p.dept = r.deptCode
		}
		if p.site == "" {
			p.site = r.site
		}
	}
	for _, p := range order {
		if err := a.applyPerson(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// applyPerson creates or updates one person. Columns absent from the
// header leave existing values alone; an empty cell clears the value,
// except visibility (an empty cell never makes a secret person public).
func (a *catApply) applyPerson(ctx context.Context, p *personPlan) error {
	first := p.rows[0]
	if a.deptFailed[p.dept] || a.siteFailed[p.site] {
		return nil // already reported on the row naming the department or site
	}
	var v store.Person
	if p.id != 0 {
		v = *a.people[p.id]
	} else {
		v = store.Person{TenantID: a.t.ID, Email: p.email, Visibility: store.VisibilityListed}
	}
	var changed []string
	set := func(name string, dst *string, val string) {
		if *dst != val {
			*dst = val
			changed = append(changed, name)
		}
	}
	setRef := func(name string, dst **int64, id *int64) {
		if (*dst == nil) != (id == nil) || *dst != nil && **dst != *id {
			*dst = id
			changed = append(changed, name)
		}
	}
	set("given_name", &v.GivenName, p.vals["given_name"])
	set("family_name", &v.FamilyName, p.vals["family_name"])
	if p.adoptsEm {
		set("email", &v.Email, p.email)
	}
	for _, c := range []struct {
		col string
		dst *string
	}{{"title", &v.Title}, {"mobile", &v.Mobile}, {"notes", &v.Notes}} {
		if a.has[c.col] {
			set(c.col, c.dst, p.vals[c.col])
		}
	}
	if vis := p.vals["visibility"]; vis != "" {
		set("visibility", (*string)(&v.Visibility), vis)
	}
	if a.has["department_code"] {
		setRef("department", &v.DepartmentID, a.deptID(p.dept))
	}
	if a.has["site"] {
		setRef("site", &v.SiteID, a.siteID(p.site))
	}
	display := p.email
	if display == "" {
		display = strings.TrimSpace(v.GivenName + " " + v.FamilyName)
	}
	var err error
	switch {
	case p.id == 0:
		err = a.tx.People().Create(ctx, &v)
	case len(changed) > 0:
		err = a.tx.People().Update(ctx, &v)
	}
	if err != nil {
		return a.refused(first.line, err, catPersonCols, "person")
	}
	a.people[v.ID] = &v
	for _, r := range p.rows {
		a.personOf[r] = v.ID
	}
	a.note(first.line, "person", display, p.id == 0, changed, &a.res.People)
	return nil
}

func (a *catApply) deptID(code string) *int64 {
	if d := a.depts[code]; code != "" && d != nil {
		return &d.ID
	}
	return nil
}

func (a *catApply) siteID(name string) *int64 {
	if v := a.sites[name]; name != "" && v != nil {
		return &v.ID
	}
	return nil
}

// extensions creates and updates the rows' extensions. A direct number
// moving from one extension of the file to another is first taken from
// its holder, so the file's order does not matter.
func (a *catApply) extensions(ctx context.Context, rows []*catRow) error {
	wants := map[string]string{} // number -> DID the file gives it
	if a.has["did"] {
		for _, r := range rows {
			if r.number != "" && !r.bad {
				wants[r.number] = r.did
			}
		}
	}
	holder := map[string]string{} // DID -> number
	for n, e := range a.exts {
		if e.DID != "" {
			holder[e.DID] = n
		}
	}
	for _, r := range rows {
		if r.bad || r.number == "" || a.deptFailed[r.deptCode] || a.siteFailed[r.site] {
			continue
		}
		var personID *int64
		if r.isPerson() {
			id := a.personOf[r]
			if id == 0 {
				continue // the person was refused, on this row or another
			}
			personID = &id
		}
		if r.did != "" {
			if h := holder[r.did]; h != "" && h != r.number {
				if want, inFile := wants[h]; inFile && want != r.did {
					e := a.exts[h]
					e.DID = ""
					if err := a.tx.Extensions().Update(ctx, e); err != nil {
						if err := a.refused(r.line, err, catExtCols, "ext"); err != nil {
							return err
						}
						continue
					}
					a.didCleared[h] = true
					delete(holder, r.did)
				}
			}
		}
		e, exists := a.exts[r.number]
		if !exists {
			e = &store.Extension{TenantID: a.t.ID, Number: r.number, COS: CatalogueCOS, Enabled: true, Voicemail: true}
		}
		var changed []string
		if name := r.displayName(); e.DisplayName != name {
			e.DisplayName = name
			changed = append(changed, "display_name")
		}
		if !sameRef(e.PersonID, personID) {
			e.PersonID = personID
			changed = append(changed, "person")
		}
		if a.has["department_code"] {
			if id := a.deptID(r.deptCode); !sameRef(e.DepartmentID, id) {
				e.DepartmentID = id
				changed = append(changed, "department")
			}
		}
		if a.has["site"] {
			if id := a.siteID(r.site); !sameRef(e.SiteID, id) {
				e.SiteID = id
				changed = append(changed, "site")
			}
		}
		if a.has["did"] && e.DID != r.did {
			if e.DID != "" {
				delete(holder, e.DID)
			}
			e.DID = r.did
			changed = append(changed, "did")
		}
		var err error
		switch {
		case !exists:
			err = a.tx.Extensions().Create(ctx, e)
		case len(changed) > 0:
			err = a.tx.Extensions().Update(ctx, e)
		}
		if a.didCleared[r.number] && !slices.Contains(changed, "did") {
			// Written already, when its direct number went to another row.
			changed = append(changed, "did")
		}
		if err != nil {
			if err := a.refused(r.line, err, catExtCols, "ext"); err != nil {
				return err
			}
			continue
		}
		if e.DID != "" {
			holder[e.DID] = e.Number
		}
		a.exts[e.Number] = e
		if !exists && !e.HasCredentials() {
			a.res.NoPassword = append(a.res.NoPassword, e.Number)
		}
		a.note(r.line, "extension", e.Number, !exists, changed, &a.res.Extensions)
	}
	return nil
}

func sameRef(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
