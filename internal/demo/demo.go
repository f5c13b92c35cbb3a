// Package demo runs dirgate with no configuration: it generates a company
// directory, serves it from the vendors' emulators on loopback, and
// describes, as a configuration file, how the real adapters reach them.
//
// That file is the demo's one source of truth: the demo runs on it, and
// dirgate -emulate prints it for a second dirgate. A directory added to
// the demo (an emulator and the provider keys that reach it) appears in
// both.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/getbill"
)

// Sizes of the generated directory.
const (
	ConcurUsers  = 2400
	GetbillUsers = 300
	SharedUsers  = 120 // people in both directories
)

// Demo credentials: the emulators accept them, and the configuration
// carries them like real ones. They open nothing but the emulators.
const (
	concurClientID     = "demo-concur-client"
	concurClientSecret = "demo-concur-secret"
	concurCompany      = "8f3a2c1e-5b7d-4e6f-9a0b-1c2d3e4f5a6b"
	concurRequestToken = "demo-request-token"
	getbillClientID    = "demo-getbill-client"
	getbillSecret      = "demo-getbill-secret"
)

// directory is one emulated vendor of the demo.
type directory struct {
	key, kind, name string
	users           int
	emulator        http.Handler
	// settings are the provider keys, in order, that point the kind's
	// adapter at the emulator served at url.
	settings func(url string) [][2]string
}

// directories are the demo's vendors, in the order users walks them.
func directories() []directory {
	concurUsers, getbillUsers := Directory()
	company := &providers.Company{Name: "Acme Demo Corp", Address: "1 Loopback Way", City: "Bellevue", State: "WA", Zip: "98004", Country: "US"}
	return []directory{{
		key: "concur", kind: "concur", name: "SAP Concur (emulated)", users: len(concurUsers),
		emulator: concur.NewEmulator(concur.EmulatorOptions{
			ClientID: concurClientID, ClientSecret: concurClientSecret,
			CompanyUUID: concurCompany, RequestToken: concurRequestToken,
			Users: concurUsers, Company: company,
		}),
		settings: func(url string) [][2]string {
			return [][2]string{
				{"tokenURL", url + "/oauth2/v0/token"}, {"clientID", concurClientID}, {"clientSecret", concurClientSecret},
				{"companyUUID", concurCompany}, {"requestToken", concurRequestToken},
			}
		},
	}, {
		key: "getbill", kind: "getbill", name: "getbill (emulated)", users: len(getbillUsers),
		emulator: getbill.NewEmulator(getbill.EmulatorOptions{
			ClientID: getbillClientID, ClientSecret: getbillSecret, Users: getbillUsers,
		}),
		settings: func(url string) [][2]string {
			return [][2]string{{"baseURL", url}, {"clientID", getbillClientID}, {"clientSecret", getbillSecret}}
		},
	}}
}

// Demo is the running emulators, and the configuration that uses them.
type Demo struct {
	// Config is YAML, parsed: the demo's settings (introspection, the
	// playground, text logs) and its providers.
	Config *config.Config
	// YAML is the configuration file Config was read from.
	YAML    string
	summary []string
	servers []*http.Server
}

// Start generates the directory and starts every emulator on a loopback
// port. Close stops them.
func Start() (*Demo, error) {
	d := &Demo{}
	var ps []*yaml.Node
	for _, dir := range directories() {
		url, err := d.serve(dir.emulator)
		if err != nil {
			d.Close()
			return nil, err
		}
		p := mapping("key", dir.key, "kind", dir.kind, "name", dir.name)
		for _, kv := range dir.settings(url) {
			p.Content = append(p.Content, scalar(kv[0]), scalar(kv[1]))
		}
		ps = append(ps, p)
		d.summary = append(d.summary, fmt.Sprintf("%s: %d users, at %s", dir.name, dir.users, url))
	}
	list := &yaml.Node{Kind: yaml.SequenceNode, Content: ps}
	providersYAML, err := yaml.Marshal(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("providers"), list}})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.YAML = header + string(providersYAML)
	if d.Config, err = config.Parse([]byte(d.YAML), func(string) string { return "" }); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// header is the demo configuration's server part.
const header = `# dirgate's demo configuration: its vendors are emulators on loopback,
# serving synthetic people, with demo credentials that open nothing else.
# They run as long as the dirgate that started them (dirgate -demo, or
# dirgate -emulate, which printed this file); their ports change with
# each start. Copy it, change the server part, and run
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
  # readiness: {whenDegraded: ready}
  # tracing: {enabled: true}     # OTLP to $OTEL_EXPORTER_OTLP_ENDPOINT
`

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func mapping(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range kv {
		m.Content = append(m.Content, scalar(s))
	}
	return m
}

// Summary says what the demo serves, one directory a line.
func (d *Demo) Summary() []string { return d.summary }

func (d *Demo) serve(h http.Handler) (string, error) {
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

// Close stops the emulators.
func (d *Demo) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range d.servers {
		_ = s.Shutdown(ctx)
	}
}

// Directory generates the demo's people, the same every time: Concur's
// users and getbill's, SharedUsers of them in both (getbill's copy of the
// email sometimes in other letter case), about one in twelve inactive.
func Directory() (concurUsers, getbillUsers []providers.User) {
	rng := rand.New(rand.NewPCG(2026, 11))
	firsts := []string{"Ada", "Bruno", "Chloé", "Dmitri", "Emeka", "Fatima", "Gustav", "Hana", "Ines", "Jonas", "Keiko", "Liam", "Mei", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoé"}
	lasts := []string{"Abara", "Berg", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quispe", "Rossi", "Sato", "Tanaka", "Urban", "Varga", "Weber", "Xu", "Yilmaz", "Zhang"}
	countries := []string{"US", "US", "US", "DE", "FR", "GB", "JP", "BR", "IN", "SE"}
	units := []string{"Finance", "Sales", "Engineering", "Support", "Legal", "People"}
	ascii := strings.NewReplacer("é", "e", "í", "i")
	base := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)

	person := func(i int) providers.User {
		first, last := firsts[rng.IntN(len(firsts))], lasts[rng.IntN(len(lasts))]
		email := strings.ToLower(ascii.Replace(fmt.Sprintf("%s.%s%d@acme.example", first, last, i)))
		u := providers.User{
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
		var u providers.User
		if i < SharedUsers {
			// The same person, from Concur, as getbill holds them.
			c := concurUsers[i*ConcurUsers/SharedUsers]
			u = providers.User{Email: c.Email, FirstName: c.FirstName, LastName: c.LastName, Active: c.Active}
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
	return concurUsers, getbillUsers
}
