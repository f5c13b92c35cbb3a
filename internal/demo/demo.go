// Package demo runs dirgate with no configuration: it generates a company
// directory, serves it from each demo kind's emulator (or file) on
// loopback, and describes, as a configuration file, how the real adapters
// reach them. It knows no kind by code: the kinds table gives each kind's
// demo, and the file is written from each kind's demo configuration.
//
// That file is the demo's one source of truth: the demo runs on it, and
// dirgate -emulate prints it for a second dirgate. A directory added to
// the demo appears in both.
//
// The company has SAP Concur, read through Identity v4.1 (what Concur
// tenants have today), getbill, a team chat that provisions its users over
// SCIM 2.0, and its contractors in a CSV file; people overlap between
// them by email, so that linkedAccounts links across all of them.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/kinds"
)

// Sizes of the generated directory.
const (
	ConcurUsers     = 2400
	GetbillUsers    = 300
	SharedUsers     = 120 // people in both Concur and getbill
	ContractorUsers = 80  // in the contractors' file
	// SharedContractors of the contractors have a Concur account too, and
	// as many again a getbill account.
	SharedContractors = 20
	// ChatUsers are in the team chat's SCIM directory: ChatFromConcur of
	// them have a Concur account (the first ten Concur users among them;
	// some of them are in getbill too), ChatFromGetbill a getbill account
	// and no Concur one.
	ChatUsers       = 400
	ChatFromConcur  = 150
	ChatFromGetbill = 40
)

// Demo is the running demo: its emulators and its files, and the
// configuration that uses them.
type Demo struct {
	// Config is YAML, parsed: the demo's settings (introspection, the
	// playground, text logs) and its providers.
	Config *config.Config
	// YAML is the configuration file Config was read from.
	YAML    string
	summary []string
	servers []*http.Server
	dir     string
}

// Start generates the directory and starts each kind's demo: the
// emulators of Concur (token service and Identity v4.1), getbill and a
// SCIM service provider on loopback ports, and the contractors' CSV file.
// Close stops them.
func Start() (*Demo, error) {
	dir, err := os.MkdirTemp("", "dirgate-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d := &Demo{dir: dir}
	people := Directory()
	company := &driver.Company{Name: "Acme Demo Corp", Address: "1 Loopback Way", City: "Bellevue", State: "WA", Zip: "98004", Country: "US"}
	var ps []*yaml.Node
	for _, p := range []struct {
		key, kind, name string
		users           []driver.User
	}{
		{"concur", "concur-identity", "SAP Concur Identity v4.1 (emulated)", people.Concur},
		{"getbill", "getbill", "getbill (emulated)", people.Getbill},
		{"chat", "scim", "Team chat, over SCIM 2.0 (emulated)", people.Chat},
		{"contractors", "file", "Contractors (a CSV file)", people.Contractors},
	} {
		k, ok := kinds.Lookup(p.kind)
		if !ok {
			d.Close()
			return nil, fmt.Errorf("demo: no kind %q", p.kind)
		}
		settings, err := k.Demo(d, p.users, company)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("demo: %s: %w", p.key, err)
		}
		node := mapping("key", p.key, "kind", p.kind, "name", p.name)
		own := yamlOf(reflect.ValueOf(settings))
		node.Content = append(node.Content, own.Content...)
		ps = append(ps, node)
		d.summary = append(d.summary, fmt.Sprintf("%s: %d users, %s", p.name, len(p.users), where(own)))
	}
	list := &yaml.Node{Kind: yaml.SequenceNode, Content: ps}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("providers"), list}}); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.YAML = header + buf.String()
	if d.Config, err = config.Parse([]byte(d.YAML), func(string) string { return "" }); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// header is the demo configuration's server part.
const header = `# dirgate's demo configuration: its vendors are emulators on loopback,
# and a file, serving synthetic people, with demo credentials that open
# nothing else. They run as long as the dirgate that started them
# (dirgate -demo, or dirgate -emulate, which printed this file); their
# ports change with each start. Copy it, change the server part, and run
#   dirgate -config demo.yaml
server:
  addr: 127.0.0.1:8080
  introspection: true
  playground:
    enabled: true
    path: /
  log:
    format: text
  # Try the production surface on the emulators:
  # auth:
  #   apiKeys: [sha256:...]      # dirgate -gen-key makes a key and this line
  # limits: {depth: 12, complexity: 50000, tokens: 10000, bodyBytes: 1048576}
  # maxPageSize: 1000
  # readiness: {whenDegraded: ready, minProvidersUp: 1}
  # tracing: {enabled: true}     # OTLP to $OTEL_EXPORTER_OTLP_ENDPOINT
`

// Summary says what the demo serves, one directory a line.
func (d *Demo) Summary() []string { return d.summary }

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func mapping(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range kv {
		m.Content = append(m.Content, scalar(s))
	}
	return m
}

// revealer is a secret that gives its text on request (vendorhttp.Secret):
// the demo's credentials open nothing but its emulators, and the file must
// hold them.
type revealer interface{ Reveal() string }

var durationType = reflect.TypeFor[time.Duration]()

// yamlOf writes a kind's demo configuration as YAML, by its fields' yaml
// tags, leaving out what is at its zero value.
func yamlOf(v reflect.Value) *yaml.Node {
	if r, ok := v.Interface().(revealer); ok {
		return scalar(r.Reveal())
	}
	switch {
	case v.Type() == durationType:
		return scalar(time.Duration(v.Int()).String())
	case v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface:
		return yamlOf(v.Elem())
	case v.Kind() == reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if f.IsExported() && opts == "inline" && v.Field(i).Kind() == reflect.Struct {
				m.Content = append(m.Content, yamlOf(v.Field(i)).Content...) // its keys are the parent's
				continue
			}
			if !f.IsExported() || name == "-" || name == "" || v.Field(i).IsZero() {
				continue
			}
			m.Content = append(m.Content, scalar(name), yamlOf(v.Field(i)))
		}
		return m
	case v.Kind() == reflect.Slice:
		s := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			s.Content = append(s.Content, yamlOf(v.Index(i)))
		}
		return s
	case v.Kind() == reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case v.CanInt():
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	case v.CanUint():
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(v.Uint(), 10)}
	}
	return scalar(fmt.Sprint(v.Interface()))
}

// where says where a directory is, from its configuration: the emulator's
// address, or the file.
func where(own *yaml.Node) string {
	for i := 1; i < len(own.Content); i += 2 {
		v := own.Content[i].Value
		if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			return "at " + u.Scheme + "://" + u.Host
		}
		if strings.HasPrefix(v, "/") {
			return "in " + v
		}
	}
	return "on loopback"
}

// Serve serves h on a loopback port until Close (kinds.DemoEnv).
func (d *Demo) Serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.servers = append(d.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err) // unreachable: Serve fails only when closed
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Dir is the demo's directory of files, removed by Close (kinds.DemoEnv).
func (d *Demo) Dir() string { return d.dir }

// Close stops the emulators and removes the files.
func (d *Demo) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range d.servers {
		_ = s.Shutdown(ctx)
	}
	os.RemoveAll(d.dir)
}

// People are the demo's directories.
type People struct {
	Concur, Getbill, Chat, Contractors []driver.User
}

// Directory generates the demo's people, the same every time: Concur's
// users and getbill's, SharedUsers of them in both (getbill's copy of the
// email sometimes in other letter case), about one in twelve inactive; the
// contractors kept in a file, SharedContractors of them with a Concur
// account and as many with a getbill account, by email; and the team
// chat's users, ChatFromConcur of them with a Concur account (their
// employee id too, as HR provisioned them) and ChatFromGetbill with a
// getbill one.
func Directory() People {
	var concurUsers, getbillUsers, contractors []driver.User
	rng := rand.New(rand.NewPCG(2026, 11))
	firsts := []string{"Ada", "Bruno", "Chloé", "Dmitri", "Emeka", "Fatima", "Gustav", "Hana", "Ines", "Jonas", "Keiko", "Liam", "Mei", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoé"}
	lasts := []string{"Abara", "Berg", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quispe", "Rossi", "Sato", "Tanaka", "Urban", "Varga", "Weber", "Xu", "Yilmaz", "Zhang"}
	countries := []string{"US", "US", "US", "DE", "FR", "GB", "JP", "BR", "IN", "SE"}
	units := []string{"Finance", "Sales", "Engineering", "Support", "Legal", "People"}
	ascii := strings.NewReplacer("é", "e", "í", "i")
	base := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)

	person := func(i int) driver.User {
		first, last := firsts[rng.IntN(len(firsts))], lasts[rng.IntN(len(lasts))]
		email := strings.ToLower(ascii.Replace(fmt.Sprintf("%s.%s%d@acme.example", first, last, i)))
		u := driver.User{
			Email: email, Emails: []string{email}, FirstName: first, LastName: last,
			Active: rng.IntN(12) != 0,
		}
		if rng.IntN(6) == 0 {
			u.MiddleName = string(rune('A' + rng.IntN(26)))
		}
		return u
	}
	for i := range ConcurUsers {
		u := person(i)
		u.ID = fmt.Sprintf("%08X-%04X-4%03X-A%03X-%012X", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))
		u.LoginID = u.Email
		u.EmployeeID = fmt.Sprintf("E%06d", 100000+i)
		u.CountryCode = countries[rng.IntN(len(countries))]
		u.OrganizationUnit = units[rng.IntN(len(units))]
		if rng.IntN(3) == 0 {
			u.CellPhone = fmt.Sprintf("+1425555%04d", rng.IntN(10000))
		}
		concurUsers = append(concurUsers, u)
	}
	for i := range GetbillUsers {
		var u driver.User
		if i < SharedUsers {
			// The same person, from Concur, as getbill holds them.
			c := concurUsers[i*ConcurUsers/SharedUsers]
			u = driver.User{Email: c.Email, FirstName: c.FirstName, LastName: c.LastName, Active: c.Active}
			if i%4 == 0 {
				u.Email = strings.ToUpper(u.Email[:1]) + u.Email[1:]
			}
		} else {
			u = person(ConcurUsers + i)
			u.MiddleName = ""
		}
		u.Emails = []string{u.Email}
		u.ID = fmt.Sprintf("%018x", rng.Uint64())
		u.CreatedAt = base.Add(time.Duration(rng.IntN(1500*24)) * time.Hour)
		u.LastActivityAt = u.CreatedAt.Add(time.Duration(rng.IntN(200*24)) * time.Hour)
		getbillUsers = append(getbillUsers, u)
	}
	for i := range ContractorUsers {
		var u driver.User
		switch {
		case i < SharedContractors:
			c := concurUsers[ConcurUsers-1-i*7]
			u = driver.User{Email: strings.ToUpper(c.Email[:1]) + c.Email[1:], FirstName: c.FirstName, LastName: c.LastName, Active: c.Active}
		case i < 2*SharedContractors:
			g := getbillUsers[GetbillUsers-1-(i-SharedContractors)*3]
			u = driver.User{Email: g.Email, FirstName: g.FirstName, LastName: g.LastName, Active: g.Active}
		default:
			u = person(ConcurUsers + GetbillUsers + i)
			u.Email = strings.Replace(u.Email, "@acme.example", "@contractors.example", 1)
		}
		u.ID = fmt.Sprintf("C-%04d", i+1)
		u.Emails = []string{u.Email}
		u.OrganizationUnit = "Contractors"
		u.CountryCode = countries[rng.IntN(len(countries))]
		u.CreatedAt = base.Add(time.Duration(rng.IntN(1500*24)) * time.Hour)
		contractors = append(contractors, u)
	}
	var chat []driver.User
	for i := range ChatUsers {
		var u driver.User
		switch {
		case i < ChatFromConcur:
			n := i // the first ten Concur users, then one in fifteen
			if i >= 10 {
				n = 10 + (i-10)*15
			}
			c := concurUsers[n]
			u = driver.User{
				Email: c.Email, FirstName: c.FirstName, LastName: c.LastName, Active: c.Active,
				EmployeeID: c.EmployeeID, OrganizationUnit: c.OrganizationUnit, CountryCode: c.CountryCode,
			}
			if i%3 == 1 {
				u.Email = strings.ToUpper(u.Email[:1]) + u.Email[1:]
			}
		case i < ChatFromConcur+ChatFromGetbill:
			g := getbillUsers[SharedUsers+(i-ChatFromConcur)*4]
			u = driver.User{Email: g.Email, FirstName: g.FirstName, LastName: g.LastName, Active: g.Active}
		default:
			u = person(ConcurUsers + GetbillUsers + ContractorUsers + i)
			u.CountryCode = countries[rng.IntN(len(countries))]
		}
		u.ID = fmt.Sprintf("U%010X", rng.Uint64()&(1<<40-1))
		u.LoginID = strings.ToLower(u.Email)
		u.Emails = []string{u.Email}
		if rng.IntN(4) == 0 {
			u.CellPhone = fmt.Sprintf("+1206555%04d", rng.IntN(10000))
		}
		u.CreatedAt = base.Add(time.Duration(rng.IntN(1500*24)) * time.Hour)
		chat = append(chat, u)
	}
	return People{Concur: concurUsers, Getbill: getbillUsers, Chat: chat, Contractors: contractors}
}
