package memory_test

import (
	"testing"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

func TestConformance(t *testing.T) {
	for _, paging := range []providers.Paging{providers.PagingOffset, providers.PagingSnapshot, providers.PagingCursor} {
		t.Run(paging.String(), func(t *testing.T) {
			providertest.Run(t, func(t *testing.T, users []providers.User, c *providers.Company) providers.Provider {
				return memory.New(users, &memory.Options{Paging: paging, Company: c})
			}, providertest.Options{})
		})
	}
}
