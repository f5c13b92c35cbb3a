// Package demo runs dirgate with no configuration: it generates a company
// directory, serves it from each demo kind's emulator (or file) on
// loopback, and returns a configuration that points the real adapters at
// them. It knows no kind by code: the kinds table gives each kind's demo.
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
	"os"
	"strings"
	"time"

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

// Demo is the running demo: its emulators and its files.
type Demo struct {
	Config  *config.Config
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
	cfg := &config.Config{}
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
		pc := config.Provider{
			Key: p.key, Kind: p.kind, Name: p.name, Settings: settings,
			MaxConcurrency: config.DefaultMaxConcurrency, MaxResponseBytes: config.DefaultMaxResponseBytes,
		}
		if k.Whole {
			pc.CacheTTL, pc.MaxStale = config.DefaultCacheTTL, config.DefaultMaxStale
		}
		cfg.Providers = append(cfg.Providers, pc)
	}
	cfg.Server.Addr = config.DefaultAddr
	cfg.Server.DefaultPageSize = config.DefaultPageSize
	cfg.Server.MaxPageSize = config.DefaultMaxPageSize
	// A demo is for exploring: introspection, the playground and text logs.
	cfg.Server.Introspection = true
	cfg.Server.Playground.Enabled = true
	cfg.Server.Log.Format = "text"
	d.Config = cfg
	return d, nil
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
