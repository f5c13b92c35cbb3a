package scim

// Schema URNs of the messages and resources this package reads and writes.
const (
	// ListResponseSchema marks a query answer (RFC 7644 §3.4.2).
	ListResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	// ErrorSchema marks an error answer (RFC 7644 §3.12).
	ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	// SearchRequestSchema marks the body of POST /.search (RFC 7644
	// §3.4.3).
	SearchRequestSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	// ConcurSearchRequestSchema is the one schema SAP Concur's Identity
	// v4.1 accepts in the body of POST /Users/.search.
	ConcurSearchRequestSchema = "urn:ietf:params:scim:api:messages:concur:2.0:SearchRequest"
	// ServiceProviderConfigSchema marks /ServiceProviderConfig (RFC 7643
	// §5).
	ServiceProviderConfigSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

	// UserSchema is the core User resource (RFC 7643 §4.1).
	UserSchema = "urn:ietf:params:scim:schemas:core:2.0:User"
	// EnterpriseUserSchema is the enterprise User extension (RFC 7643
	// §4.3): employeeNumber, costCenter, organization, division,
	// department, manager; SAP Concur adds companyId, startDate,
	// terminationDate.
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// SAPUserSchema is SAP's extension of a Concur identity: userUuid, the
	// SAP Global ID.
	SAPUserSchema = "urn:ietf:params:scim:schemas:extension:sap:2.0:User"
	// SpendUserSchema is SAP Concur's Spend extension (orgUnit1..6,
	// country, and the expense settings), served by its Spend User API
	// and sometimes beside an identity.
	SpendUserSchema = "urn:ietf:params:scim:schemas:extension:spend:2.0:User"
)

// scimContentType is the media type of SCIM bodies (RFC 7644 §3.1).
const scimContentType = "application/scim+json"
