package scim

import "github.com/dirgate/dirgate/providers/driver"

// User is the driver's User, which this package maps SCIM onto.
type User = driver.User
