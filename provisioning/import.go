package provisioning

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/store"
)

// ImportColumns are the columns an extension import understands, in the
// order the documentation lists them.
var ImportColumns = []string{"number", "name", "department", "department_name", "site", "cos", "password", "pin", "email", "enabled", "did"}

// ImportOptions tune an extension import.
type ImportOptions struct {
	DryRun        bool // validate and report, change nothing
	CreateMissing bool // create unknown departments, sites and people
	Workers       int  // hashing goroutines; 0 means runtime.NumCPU()
}

// RowError is one refusal of an import, located in the file. Row is the
// line number (the header is row 1); Column is empty when the whole row is
// at fault.
type RowError struct {
	Row    int    `json:"row"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Reason)
}

// ImportError reports every bad row of a refused import; nothing of it was
// applied. It is a user error.
type ImportError struct {
	Rows    []RowError
	Applied bool // always false: the import is all or nothing
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refused, nothing was imported: %d problem(s) in %d row(s)", len(e.Rows), e.badRows())
	for _, r := range e.Rows {
		b.WriteString("\n  ")
		b.WriteString(r.String())
	}
	b.WriteString("\n  fix: correct these rows and import the whole file again (--dry-run checks it without importing)")
	return b.String()
}

func (e *ImportError) badRows() int {
	seen := map[int]bool{}
	for _, r := range e.Rows {
		seen[r.Row] = true
	}
	return len(seen)
}

// Unwrap makes an import refusal a user error (exit code 1).
func (e *ImportError) Unwrap() error { return store.ErrInvalid }

// ImportedRow is one extension an import created (or would create).
type ImportedRow struct {
	Row         int    `json:"row"`
	Number      string `json:"number"`
	Name        string `json:"name"`
	Department  string `json:"department,omitempty"`
	Site        string `json:"site,omitempty"`
	Email       string `json:"email,omitempty"`
	COS         string `json:"cos"`
	Enabled     bool   `json:"enabled"`
	Credentials bool   `json:"credentials"`
	PIN         bool   `json:"voicemail_pin"`
	DID         string `json:"did,omitempty"`
	Voicemail   bool   `json:"voicemail"`
}

// ImportResult is what an import did (or, with DryRun, would do).
type ImportResult struct {
	DryRun             bool          `json:"dry_run"`
	Extensions         []ImportedRow `json:"extensions"`
	CreatedDepartments []string      `json:"created_departments"`
	CreatedSites       []string      `json:"created_sites"`
	CreatedPeople      []string      `json:"created_people"`
	Elapsed            time.Duration `json:"elapsed_ns"`
}

// importRow is one data row on its way from text to store entity.
type importRow struct {
	line                         int
	number, name, dept, deptName string
	site, password, pin, email   string
	cosRaw, enabledRaw, did      string
	ext                          store.Extension
}

// importPlan is a validated import: what to create, in which order.
type importPlan struct {
	t          store.Tenant
	rows       []*importRow
	newDepts   []string          // codes, in first-use order
	deptNames  map[string]string // code -> name for new departments
	newSites   []string
	newPeople  []string       // e-mail addresses
	deptRow    map[string]int // first row naming a key, to locate store refusals
	siteRow    map[string]int
	personRow  map[string]int
	personName map[string]string
}

// ImportExtensions reads a CSV of extensions (see docs/import-format.md),
// validates every row against the syntax, the policies, the tenant's
// ranges and what already exists, and then creates all of them in one
// transaction, or none: a refused import reports every bad row. Imported
// extensions have voicemail on, like those `sentral ext add` creates.
func (s *Service) ImportExtensions(ctx context.Context, tenant string, r io.Reader, opt ImportOptions) (ImportResult, error) {
	start := time.Now()
	res := ImportResult{DryRun: opt.DryRun, Extensions: []ImportedRow{}, CreatedDepartments: []string{}, CreatedSites: []string{}, CreatedPeople: []string{}}
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return res, err
	}
	rows, errs := parseImport(r)
	if len(errs) == 0 {
		var plan *importPlan
		plan, errs, err = s.planImport(ctx, t, rows, opt)
		if err != nil {
			return res, err
		}
		if len(errs) == 0 {
			fillResult(&res, plan)
			if !opt.DryRun {
				if err := s.hashRows(plan, opt.Workers); err != nil {
					return res, err
				}
				if err := s.applyImport(ctx, plan); err != nil {
					var ie *ImportError
					if errors.As(err, &ie) {
						errs = ie.Rows
					} else {
						return ImportResult{}, err
					}
				}
			}
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Row < errs[j].Row })
		return ImportResult{}, &ImportError{Rows: errs}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// parseImport reads the header and the rows, checking only the file's
// shape (readTable: BOM, ',' or ';', blank rows, UTF-8).
func parseImport(r io.Reader) ([]*importRow, []RowError) {
	col, recs, errs := readTable(r, ImportColumns)
	if col == nil {
		return nil, errs
	}
	var missing []RowError
	for _, req := range []string{"number", "name"} {
		if _, ok := col[req]; !ok {
			missing = append(missing, RowError{Row: 1, Column: req, Reason: "required column is missing; fix: add it to the header row"})
		}
	}
	if len(missing) > 0 {
		return nil, missing
	}
	var rows []*importRow
	for _, rec := range recs {
		// Passwords are taken as typed: spaces may be part of one.
		raw := func(name string) string {
			if i, ok := col[name]; ok {
				return rec.fields[i]
			}
			return ""
		}
		get := func(name string) string { return strings.TrimSpace(raw(name)) }
		rows = append(rows, &importRow{line: rec.line, number: get("number"), name: get("name"), dept: get("department"),
			deptName: get("department_name"), site: get("site"), cosRaw: get("cos"), pin: get("pin"),
			email: get("email"), enabledRaw: get("enabled"), did: get("did"), password: raw("password")})
	}
	return rows, errs
}

func csvError(err error) RowError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return RowError{Row: pe.StartLine, Reason: fmt.Sprintf("%v; fix: check the quotes on this line", pe.Err)}
	}
	return RowError{Row: 0, Reason: fmt.Sprintf("cannot read the file: %v", err)}
}

// rowErr turns a validator's refusal into a row error naming the column.
func rowErr(line int, column string, err error) RowError {
	var pe *Error
	if errors.As(err, &pe) {
		reason := pe.Problem
		if pe.Value != "" {
			reason = fmt.Sprintf("%q: %s", pe.Value, pe.Problem)
		}
		if pe.Fix != "" {
			reason += "; fix: " + pe.Fix
		}
		return RowError{Row: line, Column: column, Reason: reason}
	}
	return RowError{Row: line, Column: column, Reason: err.Error()}
}

// keyIndex reads every entity of a tenant keyed by its natural key.
func keyIndex[T any](ctx context.Context, repo store.Repo[T], tenantID int64, key func(*T) string) (map[string]int64, error) {
	items, err := repo.List(ctx, store.ListOptions{TenantID: tenantID})
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(items))
	for i := range items {
		m[key(&items[i])] = idOf(&items[i])
	}
	return m, nil
}

// planImport validates every row and decides what to create. It returns
// row errors for bad input and an error only when the store fails.
func (s *Service) planImport(ctx context.Context, t store.Tenant, rows []*importRow, opt ImportOptions) (*importPlan, []RowError, error) {
	exts, err := keyIndex(ctx, s.st.Extensions(), t.ID, func(e *store.Extension) string { return e.Number })
	if err != nil {
		return nil, nil, fmt.Errorf("import: list extensions: %w", err)
	}
	groupNums, err := keyIndex(ctx, s.st.Groups(), t.ID, func(g *store.Group) string { return g.Number })
	if err != nil {
		return nil, nil, fmt.Errorf("import: list groups: %w", err)
	}
	depts, err := keyIndex(ctx, s.st.Departments(), t.ID, func(d *store.Department) string { return d.Code })
	if err != nil {
		return nil, nil, fmt.Errorf("import: list departments: %w", err)
	}
	sitesIdx, err := keyIndex(ctx, s.st.Sites(), t.ID, func(v *store.Site) string { return v.Name })
	if err != nil {
		return nil, nil, fmt.Errorf("import: list sites: %w", err)
	}
	peopleIdx, err := keyIndex(ctx, s.st.People(), t.ID, func(p *store.Person) string { return p.Email })
	if err != nil {
		return nil, nil, fmt.Errorf("import: list people: %w", err)
	}
	// Public numbers already answered in the tenant. A DID must lie in the
	// tenant's own DID blocks, which no other tenant's overlap, so the
	// tenant's own entities are all that can hold it (the store checks
	// every tenant again when the rows are written).
	didUsers, err := s.didUsers(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	seenDID := map[string]int{} // DID -> first row
	p := &importPlan{t: t, rows: rows, deptNames: map[string]string{}, deptRow: map[string]int{}, siteRow: map[string]int{},
		personRow: map[string]int{}, personName: map[string]string{}}
	var errs []RowError
	seen := map[string]int{} // number -> first row
	for _, r := range rows {
		bad := func(column string, err error) { errs = append(errs, rowErr(r.line, column, err)) }
		if n, err := CheckNumber("number", r.number); err != nil {
			bad("number", err)
		} else if err := checkInRange("number", n, t); err != nil {
			bad("number", &Error{Value: n, Problem: err.(*Error).Problem,
				Fix: fmt.Sprintf("use a number in %s, or widen the tenant's ranges with `sentral tenant update %s --ext-range ...`", store.FormatRanges(t.Ranges, store.RangeExtension), t.Name)})
		} else if first, dup := seen[n]; dup {
			bad("number", &Error{Value: n, Problem: fmt.Sprintf("duplicates row %d of this file", first), Fix: "give each number once"})
		} else if _, ok := exts[n]; ok {
			bad("number", &Error{Value: n, Problem: "already exists in tenant " + t.Name, Fix: fmt.Sprintf("remove the row, or change the extension with `sentral ext update %s --tenant %s`", n, t.Name)})
		} else if _, ok := groupNums[n]; ok {
			bad("number", &Error{Value: n, Problem: "is the number of a ring group", Fix: "choose another number"})
		} else if n == t.SwitchboardNumber {
			bad("number", &Error{Value: n, Problem: "is the tenant's switchboard number", Fix: "choose another number"})
		}
		if _, dup := seen[r.number]; !dup {
			seen[r.number] = r.line
		}
		if r.name == "" {
			bad("name", &Error{Problem: "is required", Fix: "give the name shown on phones, e.g. Kari Nordmann"})
		}
		// Imported extensions get a mailbox that takes their unanswered
		// calls, as `sentral ext add` gives them: a municipality's staff
		// expect voicemail, and it is turned off per extension.
		r.ext = store.Extension{TenantID: t.ID, Number: r.number, DisplayName: r.name, COS: DefaultCOS, Enabled: true, Voicemail: true}
		if r.did != "" {
			d, err := checkOwnDID("did", r.did, t)
			switch {
			case err != nil:
				bad("did", err)
			case seenDID[d] != 0:
				bad("did", &Error{Value: d, Problem: fmt.Sprintf("duplicates row %d of this file", seenDID[d]), Fix: "give each direct number once"})
			case didUsers[d] != "":
				bad("did", &Error{Value: d, Problem: "is already the direct number of " + didUsers[d],
					Fix: "remove it from the row, or first take it from its holder with `sentral ext update` or `sentral group update` and --did \"\""})
			default:
				seenDID[d] = r.line
				r.did = d
			}
		}
		if r.cosRaw != "" {
			if c, err := ParseCOS("cos", r.cosRaw); err != nil {
				bad("cos", err)
			} else {
				r.ext.COS = c
			}
		}
		if r.enabledRaw != "" {
			if b, err := ParseBool("enabled", r.enabledRaw); err != nil {
				bad("enabled", err)
			} else {
				r.ext.Enabled = b
			}
		}
		if r.password != "" {
			if err := s.checkPassword("password", r.number, r.password); err != nil {
				bad("password", err)
			}
		}
		if r.pin != "" {
			if err := s.pol.PIN.Check(r.pin, r.number); err != nil {
				bad("pin", &Error{Problem: fmt.Sprintf("refused by the PIN policy: %v", err),
					Fix: fmt.Sprintf("give %d to %d digits that are not a run, a repeated digit or the number", s.pol.PIN.MinLength, s.pol.PIN.MaxLength)})
			}
		}
		if r.dept != "" {
			if _, ok := depts[r.dept]; !ok {
				if !opt.CreateMissing {
					bad("department", &Error{Value: r.dept, Problem: "no such department in tenant " + t.Name,
						Fix: fmt.Sprintf("create it with `sentral dept add %s --tenant %s --name NAME`, or import with --create-missing", r.dept, t.Name)})
				} else if _, planned := p.deptRow[r.dept]; !planned {
					p.deptRow[r.dept] = r.line
					p.newDepts = append(p.newDepts, r.dept)
				}
				if opt.CreateMissing && p.deptNames[r.dept] == "" {
					p.deptNames[r.dept] = r.deptName
				}
			}
		}
		if r.site != "" {
			if _, ok := sitesIdx[r.site]; !ok {
				if !opt.CreateMissing {
					bad("site", &Error{Value: r.site, Problem: "no such site in tenant " + t.Name,
						Fix: fmt.Sprintf("create it with `sentral site add %q --tenant %s`, or import with --create-missing", r.site, t.Name)})
				} else if _, planned := p.siteRow[r.site]; !planned {
					p.siteRow[r.site] = r.line
					p.newSites = append(p.newSites, r.site)
				}
			}
		}
		if r.email != "" {
			e, err := CheckEmail("email", r.email)
			switch {
			case err != nil:
				bad("email", err)
			case peopleIdx[e] != 0:
				r.email = e
			case !opt.CreateMissing:
				bad("email", &Error{Value: e, Problem: "no person with this e-mail in tenant " + t.Name,
					Fix: fmt.Sprintf("add the person with `sentral person add --tenant %s --email %s ...`, or import with --create-missing", t.Name, e)})
			default:
				r.email = e
				if _, planned := p.personRow[e]; !planned {
					p.personRow[e] = r.line
					p.personName[e] = r.name
					p.newPeople = append(p.newPeople, e)
				}
			}
		}
	}
	return p, errs, nil
}

func fillResult(res *ImportResult, p *importPlan) {
	res.CreatedDepartments = append(res.CreatedDepartments, p.newDepts...)
	res.CreatedSites = append(res.CreatedSites, p.newSites...)
	res.CreatedPeople = append(res.CreatedPeople, p.newPeople...)
	for _, r := range p.rows {
		res.Extensions = append(res.Extensions, ImportedRow{Row: r.line, Number: r.number, Name: r.name, Department: r.dept, Site: r.site,
			Email: r.email, COS: string(r.ext.COS), Enabled: r.ext.Enabled, Credentials: r.password != "", PIN: r.pin != "", DID: r.did, Voicemail: r.ext.Voicemail})
	}
}

// hashRows computes HA1 digests and PIN hashes. PBKDF2 dominates an import
// (tens of milliseconds per PIN), so rows are hashed on every CPU.
func (s *Service) hashRows(p *importPlan, workers int) error {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	jobs := make(chan *importRow)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			for r := range jobs {
				err := hashRow(p.t, r)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range p.rows {
		jobs <- r
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

func hashRow(t store.Tenant, r *importRow) error {
	var err error
	if r.password != "" {
		if r.ext.HA1MD5, r.ext.HA1SHA256, err = credentials(t, r.number, r.password); err != nil {
			return fmt.Errorf("import row %d: %w", r.line, err)
		}
	}
	if r.pin != "" {
		if r.ext.VoicemailPIN, err = voicemail.HashPIN(r.pin); err != nil {
			return fmt.Errorf("import row %d: %w", r.line, err)
		}
	}
	return nil
}

// importColumns maps store fields to the import's CSV columns.
var importColumns = map[string]string{
	"number": "number", "display_name": "name", "department_id": "department", "site_id": "site",
	"person_id": "email", "cos": "cos", "code": "department", "name": "site", "email": "email", "did": "did",
}

// applyImport writes a validated plan in one transaction. A refusal by the
// store (a race with another admin, or a rule the plan does not know) is
// reported with its row, and the transaction rolls everything back.
func (s *Service) applyImport(ctx context.Context, p *importPlan) error {
	refused := func(line int, err error) error {
		var fe *store.FieldError
		if !errors.As(err, &fe) {
			return fmt.Errorf("import row %d: %w", line, err)
		}
		col := fe.Field
		if c, ok := importColumns[fe.Field]; ok {
			col = c
		}
		return &ImportError{Rows: []RowError{rowErr(line, col, Explain(err, "ext", importColumns))}}
	}
	return s.st.InTx(ctx, func(tx store.Store) error {
		deptIDs := map[string]int64{}
		for _, code := range p.newDepts {
			name := p.deptNames[code]
			if name == "" {
				name = code
			}
			d := store.Department{TenantID: p.t.ID, Code: code, Name: name}
			if err := tx.Departments().Create(ctx, &d); err != nil {
				return refused(p.deptRow[code], err)
			}
			deptIDs[code] = d.ID
		}
		siteIDs := map[string]int64{}
		for _, name := range p.newSites {
			v := store.Site{TenantID: p.t.ID, Name: name}
			if err := tx.Sites().Create(ctx, &v); err != nil {
				return refused(p.siteRow[name], err)
			}
			siteIDs[name] = v.ID
		}
		personIDs := map[string]int64{}
		for _, email := range p.newPeople {
			given, family := splitName(p.personName[email])
			v := store.Person{TenantID: p.t.ID, GivenName: given, FamilyName: family, Email: email, Visibility: store.VisibilityInternal}
			if err := tx.People().Create(ctx, &v); err != nil {
				return refused(p.personRow[email], err)
			}
			personIDs[email] = v.ID
		}
		resolve := func(cache map[string]int64, key string, find func() (int64, error)) (*int64, error) {
			if key == "" {
				return nil, nil
			}
			if id, ok := cache[key]; ok {
				return &id, nil
			}
			id, err := find()
			if err != nil {
				return nil, err
			}
			cache[key] = id
			return &id, nil
		}
		for _, r := range p.rows {
			var err error
			if r.ext.DepartmentID, err = resolve(deptIDs, r.dept, func() (int64, error) {
				d, err := tx.Departments().Find(ctx, p.t.ID, r.dept)
				return d.ID, err
			}); err != nil {
				return refused(r.line, err)
			}
			if r.ext.SiteID, err = resolve(siteIDs, r.site, func() (int64, error) {
				v, err := tx.Sites().Find(ctx, p.t.ID, r.site)
				return v.ID, err
			}); err != nil {
				return refused(r.line, err)
			}
			if r.ext.PersonID, err = resolve(personIDs, r.email, func() (int64, error) {
				v, err := tx.People().Find(ctx, p.t.ID, r.email)
				return v.ID, err
			}); err != nil {
				return refused(r.line, err)
			}
			r.ext.DID = r.did
			if err := tx.Extensions().Create(ctx, &r.ext); err != nil {
				return refused(r.line, err)
			}
		}
		return nil
	})
}

// didUsers maps the public numbers a tenant's extensions, groups and
// switchboard answer to a description of their holder.
func (s *Service) didUsers(ctx context.Context, t store.Tenant) (map[string]string, error) {
	out := map[string]string{}
	exts, err := s.st.Extensions().List(ctx, store.ListOptions{TenantID: t.ID})
	if err != nil {
		return nil, fmt.Errorf("import: list extensions: %w", err)
	}
	for _, e := range exts {
		if e.DID != "" {
			out[e.DID] = "extension " + e.Number
		}
	}
	groups, err := s.st.Groups().List(ctx, store.ListOptions{TenantID: t.ID})
	if err != nil {
		return nil, fmt.Errorf("import: list groups: %w", err)
	}
	for _, g := range groups {
		if g.DID != "" {
			out[g.DID] = "group " + g.Number
		}
	}
	if strings.HasPrefix(t.SwitchboardNumber, "+") {
		out[t.SwitchboardNumber] = "the switchboard of tenant " + t.Name
	}
	return out, nil
}

// splitName makes a directory entry from a display name: the last word is
// the family name, as in "Kari Nordmann" or "Ola Johan Hansen".
func splitName(name string) (given, family string) {
	name = strings.TrimSpace(name)
	i := strings.LastIndex(name, " ")
	if i < 0 {
		return "", name
	}
	return strings.TrimSpace(name[:i]), name[i+1:]
}
