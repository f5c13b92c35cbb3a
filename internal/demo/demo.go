// Package demo runs dirgate with no configuration: it generates a company
// directory, serves it from the Concur and getbill emulators on loopback,
// and returns a configuration that points the real adapters at them.
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
// carries them like real ones.
const (
	concurClientID     = "demo-concur-client"
	concurClientSecret = "demo-concur-secret"
	concurCompany      = "8f3a2c1e-5b7d-4e6f-9a0b-1c2d3e4f5a6b"
	concurRequestToken = "demo-request-token"
	getbillClientID    = "demo-getbill-client"
	getbillSecret      = "demo-getbill-secret"
)

// Demo is a running pair of emulators.
type Demo struct {
	Config  *config.Config
	servers []*http.Server
}

// Start generates the directory and starts both emulators on loopback
// ports. Close stops them.
func Start() (*Demo, error) {
	concurUsers, getbillUsers := Directory()
	company := &providers.Company{Name: "Acme Demo Corp", Address: "1 Loopback Way", City: "Bellevue", State: "WA", Zip: "98004", Country: "US"}
	d := &Demo{}
	concurURL, err := d.serve(concur.NewEmulator(concur.EmulatorOptions{
		ClientID: concurClientID, ClientSecret: concurClientSecret,
		CompanyUUID: concurCompany, RequestToken: concurRequestToken,
		Users: concurUsers, Company: company,
	}))
	if err != nil {
		return nil, err
	}
	getbillURL, err := d.serve(getbill.NewEmulator(getbill.EmulatorOptions{
		ClientID: getbillClientID, ClientSecret: getbillSecret, Users: getbillUsers,
	}))
	if err != nil {
		d.Close()
		return nil, err
	}
	cfg := &config.Config{Providers: []config.Provider{{
		Key: "concur", Kind: "concur", Name: "SAP Concur (emulated)",
		TokenURL: concurURL + "/oauth2/v0/token", ClientID: concurClientID, ClientSecret: concurClientSecret,
		CompanyUUID: concurCompany, RequestToken: concurRequestToken, PageSize: config.DefaultConcurPageSize,
	}, {
		Key: "getbill", Kind: "getbill", Name: "getbill (emulated)",
		BaseURL: getbillURL, ClientID: getbillClientID, ClientSecret: getbillSecret,
		CacheTTL: config.DefaultGetbillCacheTTL, MaxStale: config.DefaultGetbillMaxStale,
	}}}
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
