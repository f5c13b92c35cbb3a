// Package scim reads the users of any SCIM 2.0 service provider (RFC 7643,
// RFC 7644, and cursor paging of RFC 9865), and holds the SCIM wire format
// that SAP Concur's Identity v4.1 API shares: the ListResponse and User
// resources with their enterprise extension, the filter language (a
// builder that quotes and escapes every value, and a parser for the
// emulator), SCIM error objects, and an emulator of a SCIM service
// provider with the looseness real servers show, each behind a switch.
//
// Real servers are loose, and the decoder is tolerant of it: attribute
// names in any letter case (RFC 7643 §2.1 says they are case-insensitive),
// no "Resources" on an empty page, no "itemsPerPage" or "startIndex",
// "totalResults" missing, emails without a primary one, numbers and
// booleans sent as strings.
package scim
