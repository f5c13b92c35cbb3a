// Package identity is the dirgate adapter for SAP Concur's Identity v4.1
// API, the kind concur-identity: what Concur companies have since Users
// Bulk v3.1 was decommissioned in the US and EMEA data centers (January
// 2025). It takes the same configuration as the concur kind and shares its
// company authentication (package companyauth): a company-level token,
// renewed at the company's geolocation, kept in a token store.
//
// Client maps one request onto the driver: GET
// /profile/identity/v4.1/Users?count=&cursor= without a filter, POST
// /profile/identity/v4.1/Users/.search with Concur's SearchRequest schema
// and a SCIM filter (built by package scim, every value quoted and
// escaped) with one. Identity pages by cursor only ("startIndex is not
// supported"); answers are SCIM ListResponses, decoded by package scim.
//
// Emulator speaks Identity v4.1 as its documentation describes it, beside
// the concur package's emulator of the token service, whose company tokens
// it accepts.
package identity
