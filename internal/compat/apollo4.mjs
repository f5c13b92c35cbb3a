// Apollo Client 4 with relayStylePagination: walks the whole users
// connection forwards with fetchMore({after}) and backwards with
// fetchMore({before}), each in a fresh cache, and refetches a user by
// node(id) to check that the cache normalises it onto the same entity.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { relayStylePagination } from "@apollo/client/utilities";
import { url, recorder, print, fetchWalk } from "./common.mjs";

const pageSize = Number(process.env.PAGE_SIZE || 7);

const USERS = gql`
  query Users($first: Int, $after: String, $last: Int, $before: String) {
    users(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id nativeId email provider { id key } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

function newClient(fetchFn) {
  return new ApolloClient({
    link: new HttpLink({ uri: url, fetch: fetchFn }),
    cache: new InMemoryCache({
      typePolicies: { Query: { fields: { users: relayStylePagination() } } },
    }),
  });
}

async function walk(backward) {
  const { fetchFn, exchanges } = recorder();
  const client = newClient(fetchFn);
  const oq = client.watchQuery({
    query: USERS,
    variables: backward ? { last: pageSize } : { first: pageSize },
  });
  // What a component sees: each result the query emits.
  let latest, notify;
  const emitted = () => new Promise((resolve) => (notify = resolve));
  let next = emitted();
  const sub = oq.subscribe((r) => {
    if (r.error) throw r.error;
    if (!r.loading && r.data && r.data.users) {
      latest = r.data.users;
      notify();
    }
  });
  await next;
  let requests = 1;
  for (;;) {
    const info = latest.pageInfo;
    if (!(backward ? info.hasPreviousPage : info.hasNextPage)) break;
    if (++requests > 1000) throw new Error("no end");
    next = emitted();
    await oq.fetchMore({
      variables: backward
        ? { last: pageSize, before: info.startCursor }
        : { first: pageSize, after: info.endCursor },
    });
    await next;
  }
  sub.unsubscribe();
  return { client, ids: latest.edges.map((e) => e.node.id), requests, exchanges: exchanges.length };
}

const forward = await walk(false);
const backward = await walk(true);
const truth = await fetchWalk(pageSize, false);

// Refetch one user by node(id), in the cache the forward walk filled.
const client = forward.client;
const someone = forward.ids[Math.floor(forward.ids.length / 2)];
const NODE = gql`
  query Refetch($id: ID!) {
    node(id: $id) { id ... on User { displayName active provider { id name } } }
  }
`;
const { data: refetched } = await client.query({ query: NODE, variables: { id: someone }, fetchPolicy: "network-only" });
const cacheID = client.cache.identify({ __typename: "User", id: someone });
const entity = client.cache.extract()[cacheID] || {};
const USER = gql`fragment U on User { id email displayName provider { key name } }`;
const merged = client.cache.readFragment({ id: cacheID, fragment: USER });

print({
  forward: forward.ids,
  forwardRequests: forward.requests,
  backward: backward.ids,
  backwardRequests: backward.requests,
  truth,
  node: {
    id: someone,
    refetchedID: refetched.node && refetched.node.id,
    typename: refetched.node && refetched.node.__typename,
    cacheID,
    // Fields from the walk (email) and from the refetch (displayName) on
    // one normalised entity, and the provider as a reference to its own.
    entityFields: Object.keys(entity).sort(),
    provider: entity.provider || null,
    merged,
  },
});
