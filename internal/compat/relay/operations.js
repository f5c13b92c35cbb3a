// The operations of the Relay check in compat_test.go: the Relay compiler
// compiles them against dirgate's schema (it checks the Node interface
// and the connection spec as it does), and relay.mjs runs the artifacts.
graphql`
  query RelayWalkQuery($first: Int, $after: String, $last: Int, $before: String) {
    ...RelayWalk_query @arguments(first: $first, after: $after, last: $last, before: $before)
  }
`;
graphql`
  fragment RelayWalk_query on Query
  @refetchable(queryName: "RelayWalkPaginationQuery")
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int" }
    before: { type: "String" }
  ) {
    users(first: $first, after: $after, last: $last, before: $before)
    @connection(key: "RelayWalk_users") {
      edges {
        node {
          id
          email
        }
      }
    }
  }
`;
graphql`
  query RelayNodeQuery($id: ID!) {
    node(id: $id) {
      id
      ... on User {
        displayName
        provider {
          id
          key
        }
      }
    }
  }
`;
graphql`
  fragment RelayUser_user on User
  @refetchable(queryName: "RelayUserRefetchQuery") {
    displayName
  }
`;
